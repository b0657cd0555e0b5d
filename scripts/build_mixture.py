"""Build one training mixture (all tool samples + N per general task) into results/mixtures/.

Alone: python scripts/build_mixture.py --config config/config.yaml --mixture mixed
(the sampled splits it reads must exist: run `snakemake <mixture path>` or prepare_split.py first)
"""

from citi import paths
from citi.cli import run
from citi.data.mixtures import GENERAL_TASKS, build_mixture
from citi.data.tool_turns import mixture_tool_file


def task_file(config, task):
    ref = config["tasks"][task]
    return paths.DATA.format(dataset=ref["dataset"], split=ref["split"])


def main(config, mixture, data=None, manifest=None):
    spec = config["mixtures"][mixture]
    build_mixture(spec, mixture_tool_file(config, spec),
                  {t: task_file(config, t) for t in GENERAL_TASKS},
                  data or paths.MIXTURE.format(mixture=mixture),
                  manifest or paths.MIXTURE_MANIFEST.format(mixture=mixture),
                  default_seed=config["seed"])


if __name__ == "__main__":
    run(main, globals(), wildcards=("mixture",), outputs=("data", "manifest"))
