"""Paired differences between the main table's methods and a generated verdict on the paper's claims.

Reads results/tables/main.sources.json and the metrics files it names (their item scores);
writes results/tables/differences.{csv,md} and results/tables/verdict.md.
Alone: python scripts/make_verdict.py --config config/test.yaml
"""

from citi import paths
from citi.cli import run


def main(config, sources=None, differences=None, differences_markdown=None, verdict=None):
    from citi.io import read_json
    from citi.tables import spec
    from citi.tables.verdict import write

    write(read_json(sources or paths.TABLE_SOURCES.format(table="main")), spec.bootstrap_settings(config),
          differences or paths.DIFFERENCES, differences_markdown or paths.DIFFERENCES_MARKDOWN,
          verdict or paths.VERDICT)


if __name__ == "__main__":
    run(main, globals(), outputs=("differences", "differences_markdown", "verdict"))
