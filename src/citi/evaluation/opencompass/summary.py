"""Read OpenCompass's outputs: the summary CSV into {benchmark: {metric: percent}}, refusing gaps,
and each benchmark's results JSON into per-item scores.

``opencompass`` exits 0 even when a task failed; the failure shows only as a '-'
cell (or a missing row) in the summary. Any such cell is an error here.
Columns: dataset, version, metric, mode, then one per model abbreviation.

Beside the summary, ``results/<abbr>/<benchmark>.json`` holds the evaluator's metrics and
(0.5.4 dumps them by default: ``--dump-eval-details``) its ``details``: one entry per item in
dataset order, ``{"example_abbr": "<benchmark>[_<split>]_<index>", <field>: [value], ...}``, each
field a one-element list (one run per item). Every evaluator we use flags the item's outcome as
``correct`` (Gsm8k, MATHVerify, TriviaQA, ours) or ``is_correct`` (our MBPP scorer). MATHVerify
leaves out an item whose reference it cannot parse (yet counts it wrong): the count check refuses that.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ...errors import CitiError

# OpenCompass's metric names -> ours, per benchmark kind (ours are what the tables read)
RENAME = {"triviaqa": {"score": "accuracy"}, "humaneval": {"humaneval_pass@1": "pass@1"}, "mbpp": {"score": "pass@1"}}
# our metrics that are 100 x the mean of the per-item flag (not e.g. constraint_accuracy, a share of constraints)
ITEM_METRICS = ("accuracy", "pass@1")


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


def results_file(summary: Path, abbr: str, name: str) -> Path:
    """OpenCompass's results JSON for benchmark ``name`` of model ``abbr``, in the run that wrote ``summary``."""
    return Path(summary).parent.parent / "results" / abbr / f"{name}.json"


def read_item_scores(path: str | Path, name: str, item_ids: list[str],
                     metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    """{metric: {item id: 0.0 or 100.0}} for each of ``metrics`` (read_summary's, of benchmark ``name``)
    in ITEM_METRICS, from the ``details`` of its results file ``path``: the i-th detail is item_ids[i].

    The details must be one per item, each with its flag, and their mean must equal the summary's
    number within 0.01 (the CSV rounds to 2 decimals); anything else is an OpenCompassError.
    """
    wanted = [m for m in ITEM_METRICS if m in metrics]
    if not wanted or not item_ids:
        return {}
    path = Path(path)
    try:
        details = json.loads(path.read_text(encoding="utf-8"))["details"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise OpenCompassError(f"{path}: no per-item details for benchmark '{name}' "
                               f"({type(e).__name__}: {e})") from None
    if not isinstance(details, list) or len(details) != len(item_ids):
        got = len(details) if isinstance(details, list) else type(details).__name__
        raise OpenCompassError(f"{path}: {got} per-item details for benchmark '{name}', which has "
                               f"{len(item_ids)} items; they cannot be matched to its item ids")
    values = []
    for i, detail in enumerate(details):
        flag = detail.get("correct", detail.get("is_correct")) if isinstance(detail, dict) else None
        if isinstance(flag, list) and len(flag) == 1:
            flag = flag[0]
        if flag not in (0, 1):  # True/False (or 1/0)
            raise OpenCompassError(f"{path}: detail {i} of benchmark '{name}' has no single correct/is_correct "
                                   f"flag (got {flag!r})")
        values.append(100.0 * flag)
    mean = sum(values) / len(values)
    for metric in wanted:
        if abs(mean - metrics[metric]) > 0.01:
            raise OpenCompassError(f"{path}: the per-item scores of benchmark '{name}' average {mean:.4f}, but "
                                   f"OpenCompass's summary says {metric} = {metrics[metric]}")
    return {metric: dict(zip(item_ids, values)) for metric in wanted}
