"""Materialise one configured base model as a standard HF folder in results/models/<model>/.

Alone: python scripts/materialize_model.py --config config/config.yaml --model smollm2-135m-instruct
"""

from citi import paths
from citi.cli import run


def main(config, model, folder=None):
    from citi.models import materialize

    materialize(model, config["models"][model], folder or paths.MODEL.format(model=model))


if __name__ == "__main__":
    run(main, globals(), wildcards=("model",), outputs=("folder",))
