"""A short result note (``tables.note.path``, e.g. docs/results-smollm2-api-bank.md) rendered from the run's
main table, differences and verdict, and its time records (.snakemake/log, results/benchmarks).

Alone: python scripts/results_note.py --config config/smollm2-135m-instruct_api-bank-repro.yaml
"""

from pathlib import Path

from citi import paths
from citi.cli import run


def main(config, note=None, sources=None, main_markdown=None, differences=None, verdict=None):
    from citi.io import read_json, write_text
    from citi.tables import note as results_note

    spec = config.get("tables", {}).get("note") or {}
    out = note or spec.get("path")
    if not out:
        from citi.errors import ConfigError

        raise ConfigError("config key 'tables.note.path': no note configured")
    text = results_note.render(read_json(sources or paths.TABLE_SOURCES.format(table="main")),
                               Path(main_markdown or paths.TABLE_MARKDOWN.format(table="main")).read_text(),
                               results_note.read_differences(Path(differences or paths.DIFFERENCES)),
                               Path(verdict or paths.VERDICT).read_text(), Path("."), spec)
    write_text(out, text)


if __name__ == "__main__":
    run(main, globals(), outputs=("note",))
