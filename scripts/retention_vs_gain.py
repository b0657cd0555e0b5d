"""Retention vs gain of one plane of methods and its Pareto front: ``pareto`` (every method of the main and
ablation tables, baselines included) or ``pareto_baselines`` (the baselines table: main rows and baselines).

Alone: python scripts/retention_vs_gain.py --config config/config.yaml --plane pareto
"""

from citi import paths
from citi.cli import run


def main(config, plane, png=None, csv=None, markdown=None):
    from citi.io import read_json
    from citi.tables import pareto, spec

    tables = [read_json(paths.TABLE_SOURCES.format(table=t)) for t in spec.PARETO_PLANES[plane]]
    pareto.write(tables, png or paths.PLANE_PLOT.format(plane=plane), csv or paths.PLANE_TABLE.format(plane=plane),
                 markdown or paths.PLANE_MARKDOWN.format(plane=plane))


if __name__ == "__main__":
    run(main, globals(), wildcards=("plane",), outputs=("png", "csv", "markdown"))
