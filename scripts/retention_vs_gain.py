"""Retention vs gain of every method (main and ablation tables, baselines included) and its Pareto front.

Alone: python scripts/retention_vs_gain.py --config config/config.yaml
"""

from citi import paths
from citi.cli import run


def main(config, png=None, csv=None, markdown=None):
    from citi.io import read_json
    from citi.tables import pareto

    tables = [read_json(paths.TABLE_SOURCES.format(table=t)) for t in ("main", "ablations")]
    pareto.write(tables, png or paths.PARETO_PLOT, csv or paths.PARETO_TABLE, markdown or paths.PARETO_MARKDOWN)


if __name__ == "__main__":
    run(main, globals(), outputs=("png", "csv", "markdown"))
