"""Generate the project's own embedded data (mock-API tool dialogues, math, knowledge, instruct).

Alone: python scripts/generate_embedded.py --config config/config.yaml
"""

from citi import paths
from citi.cli import run
from citi.io import atomic_path, write_json


def main(config, root=None):
    from citi.synthetic import generate

    with atomic_path(root or paths.EMBEDDED_ROOT) as tmp:
        counts = generate(tmp, config["generate"])
        write_json(tmp / "manifest.json", {"spec": config["generate"], "counts": counts})


if __name__ == "__main__":
    run(main, globals(), outputs=("root",))
