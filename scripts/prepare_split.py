"""Sample one configured dataset split into results/data/<dataset>/<split>.jsonl (+ manifest).

Alone: python scripts/prepare_split.py --config config/config.yaml --dataset gsm8k --split test
"""

from citi import paths
from citi.cli import run
from citi.data.sampling import prepare_split


def main(config, dataset, split, data=None, manifest=None):
    where = {"dataset": dataset, "split": split}
    prepare_split(dataset, config["datasets"][dataset], split,
                  data or paths.DATA.format(**where), manifest or paths.DATA_MANIFEST.format(**where),
                  default_seed=config["seed"])


if __name__ == "__main__":
    run(main, globals(), wildcards=("dataset", "split"), outputs=("data", "manifest"))
