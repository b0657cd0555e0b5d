"""Build one of the paper's tables (main, ablations, analysis) from the metrics files.

Writes results/tables/<table>.csv, its Markdown twin and <table>.sources.json (the
metrics file behind every number).
Alone: python scripts/make_table.py --config config/test.yaml --table main
"""

from citi import paths
from citi.cli import run


def main(config, table, csv=None, markdown=None, sources=None):
    from citi.tables import build, render

    built = build.build(config, table)
    render.write(built, csv or paths.TABLE.format(table=table), markdown or paths.TABLE_MARKDOWN.format(table=table),
                 sources or paths.TABLE_SOURCES.format(table=table))


if __name__ == "__main__":
    run(main, globals(), wildcards=("table",), outputs=("csv", "markdown", "sources"))
