"""Trade-off plot (tool score vs mean general score per method) from the main table's sidecar.

Alone: python scripts/plot_tradeoff.py --config config/test.yaml
"""

from citi import paths
from citi.cli import run


def main(config, sources=None, png=None):
    from citi.io import read_json
    from citi.tables.plot import plot

    plot(read_json(sources or paths.TABLE_SOURCES.format(table="main")), png or paths.TRADEOFF_PLOT)


if __name__ == "__main__":
    run(main, globals(), outputs=("png",))
