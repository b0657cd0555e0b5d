"""Read OpenCompass's summary CSV into {benchmark: {metric: percent}}, refusing gaps.

``opencompass`` exits 0 even when a task failed; the failure shows only as a '-'
cell (or a missing row) in the summary. Any such cell is an error here.
Columns: dataset, version, metric, mode, then one per model abbreviation.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..errors import CitiError

# OpenCompass's metric names -> ours, per benchmark kind (ours are what the tables read)
RENAME = {"triviaqa": {"score": "accuracy"}, "humaneval": {"humaneval_pass@1": "pass@1"}, "mbpp": {"score": "pass@1"}}


class OpenCompassError(CitiError):
    """An OpenCompass run did not produce every number it was asked for."""


def find_summary(work_dir: str | Path) -> Path:
    found = sorted(Path(work_dir).glob("*/summary/summary_*.csv"))
    if not found:
        raise OpenCompassError(f"{work_dir}: OpenCompass wrote no summary CSV (see its logs under {work_dir}/*/logs)")
    return found[-1]


def read_summary(path: str | Path, abbr: str, benchmarks: dict) -> dict[str, dict[str, float]]:
    """Scores of model ``abbr`` for each of ``benchmarks`` (name -> spec with 'kind')."""
    path = Path(path)
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and abbr not in rows[0]:
        raise OpenCompassError(f"{path}: no column for model '{abbr}' (columns: {list(rows[0])})")
    scores: dict[str, dict[str, float]] = {name: {} for name in benchmarks}
    problems = []
    for row in rows:
        name = row.get("dataset")
        if name not in scores:
            continue
        cell = (row.get(abbr) or "").strip()
        try:
            value = float(cell)
        except ValueError:
            problems.append(f"{name}/{row.get('metric')}: {cell or 'empty'!r}")
            continue
        metric = RENAME.get(benchmarks[name]["kind"], {}).get(row["metric"], row["metric"])
        scores[name][metric] = value
    problems += [f"{name}: no row" for name, metrics in scores.items() if not metrics and
                 not any(p.startswith(f"{name}/") for p in problems)]
    if problems:
        logs = path.parent.parent / "logs"
        raise OpenCompassError(f"{path}: OpenCompass left cells unscored for model '{abbr}': "
                               f"{'; '.join(problems)}. Its task logs are under {logs}")
    return scores
