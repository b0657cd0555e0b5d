"""Each issue-22 baseline (WiSE-FT, TIES, DARE, freeze-bottom) against FT and CITI, paired item by item.

Reads results/tables/baselines.sources.json and the metrics files it names (their item scores);
writes results/tables/baseline_differences.{csv,md}: every column's difference with its 95% interval
and n, and a generated tally of where each baseline is ahead, behind, or cannot be told apart.
Alone: python scripts/baseline_differences.py --config config/config.yaml
"""

from citi import paths
from citi.cli import run


def main(config, sources=None, csv=None, markdown=None):
    from citi.io import read_json
    from citi.tables import spec
    from citi.tables.verdict import write_baselines

    baselines = [m for m, s in config.get("methods", {}).items() if spec.is_baseline(s)]
    write_baselines(read_json(sources or paths.TABLE_SOURCES.format(table="baselines")), baselines,
                    spec.bootstrap_settings(config), csv or paths.BASELINE_DIFFERENCES,
                    markdown or paths.BASELINE_DIFFERENCES_MARKDOWN)


if __name__ == "__main__":
    run(main, globals(), outputs=("csv", "markdown"))
