"""Build one training mixture (all tool samples + N per general task) into results/mixtures/.

Alone: python scripts/build_mixture.py --config config/config.yaml --mixture mixed
(the sampled splits it reads must exist: run `snakemake <mixture path>` or prepare_split.py first)
"""

from citi import inputs as resolve, paths
from citi.cli import run
from citi.data.mixtures import build_mixture


def main(config, inputs, mixture, data=None, manifest=None):
    spec = config["mixtures"][mixture]
    build_mixture(spec, inputs.get("tool"), {t: f for t, f in inputs.items() if t != "tool"},
                  data or paths.MIXTURE.format(mixture=mixture),
                  manifest or paths.MIXTURE_MANIFEST.format(mixture=mixture),
                  default_seed=config["seed"])


if __name__ == "__main__":
    run(main, globals(), wildcards=("mixture",), outputs=("data", "manifest"), inputs=resolve.build_mixture)
