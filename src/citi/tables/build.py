"""Fill a table from metrics files: every number keeps the path it came from, its n and its 95% interval.

A cell is {value, n, lo, hi, cap, config_hash, path, benchmark, metric} read from one
results/eval/<model>/<method>/<benchmark>/metrics.json, plus the paper's number where
the setting matches (see ``paper``) and, with ``tables.paper.reference``, the paper's numbers
for other backbones (``paper_reference``: backbone -> number). n counts the items the value averages (its
``item_scores``; the file's n where it has none). [lo, hi] is a percentile bootstrap over
those items (``tables.bootstrap``), pooled columns resampled within each benchmark; a file
without item scores for the metric leaves the cell without an interval (``no_ci`` says why),
never an invented one. A missing file or metric is an error naming it, unless its column is
optional (then the cell is empty and says why).
"""

from __future__ import annotations

from pathlib import Path

from .. import stats
from ..config import config_hash
from ..errors import RecordError, SourceError
from ..io import read_json
from . import spec
from .paper import paper_number, paper_table_for, reference_numbers

NOT_EVALUATED = "not evaluated (the benchmark's methods in the config)"


def item_scores(data: dict, metric: str) -> dict | None:
    """{item id: value} of one metric in a metrics.json (``item_scores``), or None when the file has none."""
    scores = data.get("item_scores") if isinstance(data, dict) else None
    items = scores.get(metric) if isinstance(scores, dict) else None
    return items or None


def read_cell(path: Path, column: spec.Column) -> dict:
    data = read_json(path)
    metrics = data.get("metrics") if isinstance(data, dict) else None
    if not isinstance(metrics, dict):
        raise RecordError(f"{path}: no 'metrics' object (expected the evaluators' metrics.json format)")
    if column.metric not in metrics and column.optional:  # e.g. TS/PI/CF of a file scored before they existed
        return {"value": None, "n": data.get("n"), "cap": data.get("cap"), "config_hash": data.get("config_hash"),
                "why": f"metric '{column.metric}' not in this metrics file"}
    if column.metric not in metrics:
        raise RecordError(f"{path}: metric '{column.metric}' (table column '{column.name}') is missing; "
                          f"the file has: {', '.join(sorted(metrics)) or 'none'}")
    value = metrics[column.metric]
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise RecordError(f"{path}: metric '{column.metric}' is {value!r}, not a number")
    items = item_scores(data, column.metric)
    if items is not None and value is not None:
        stats.check_item_mean(items, value, f"{path}: item_scores['{column.metric}'] (table column '{column.name}')")
    return {"value": value, "n": len(items) if items else data.get("n"), "cap": data.get("cap"),
            "config_hash": data.get("config_hash"), "items": items}


def pool(cells: list[dict], boot: dict) -> dict:
    """Several benchmarks' values as one, weighted by their n (correct counts pooled, as CITI pools levels),
    with the bootstrap interval over all their items (resampled within each benchmark)."""
    parts = [{k: v for k, v in c.items() if k != "items"} for c in cells]
    if len(cells) == 1:
        out = parts[0]
    elif any(c["value"] is None or not c.get("n") for c in cells):
        out = {"value": None, "n": sum(c.get("n") or 0 for c in cells), "cap": None, "config_hash": None}
    else:
        n = sum(c["n"] for c in cells)
        hashes = sorted({c["config_hash"] for c in cells if c.get("config_hash")})
        out = {"value": sum(c["value"] * c["n"] for c in cells) / n, "n": n,
               "cap": sorted({c.get("cap") for c in cells}, key=str)[-1], "config_hash": ",".join(hashes),
               "parts": parts}
    out.update(lo=None, hi=None)
    if out["value"] is None:
        return out
    lacking = [c["path"] for c in cells if not c.get("items")]
    if lacking:
        return {**out, "no_ci": f"{lacking[0]}: no item_scores for this metric"}
    _, out["lo"], out["hi"] = stats.bootstrap_ci([list(c["items"].values()) for c in cells], boot["n_boot"],
                                                 boot["seed"], boot["level"])
    return out


def cell_paths(cell: dict) -> list[str]:
    return [cell["path"]] if isinstance(cell["path"], str) else list(cell["path"])


def cell_items(cell: dict, root: str | Path = ".", read=read_json) -> tuple[list[dict] | None, str | None]:
    """The item scores behind a built cell (from its sidecar entry): one {id: value} per benchmark file,
    or (None, why) when the cell is empty or a file has none for the metric. ``read`` loads a metrics file."""
    if cell.get("value") is None:
        return None, cell.get("why") or "empty cell (no metrics file)"
    out = []
    for rel in cell_paths(cell):
        items = item_scores(read(Path(root) / rel), cell["metric"])
        if not items:
            return None, f"{rel}: no item_scores for '{cell['metric']}'"
        out.append(items)
    return out, None


def build(config: dict, table: str, root: str | Path = ".") -> dict:
    """The table as data: columns, rows of cells, and provenance. Paths are relative to ``root``."""
    root = Path(root)
    columns, rows = spec.columns(config, table), spec.rows(config, table)
    setting, boot = spec.paper_setting(config), spec.bootstrap_settings(config)
    out_rows = []
    for row in rows:
        cells = {}
        for col in columns:
            rels = spec.metrics_paths(row, col)
            missing = [rel for rel in rels if not (root / rel).is_file()]
            skipped = spec.not_evaluated(config, row, col)
            if missing and not col.optional and not skipped:
                raise SourceError(f"{missing[0]}: missing metrics for table '{table}', column '{col.name}' "
                                  f"(row {row.key}); build it with `snakemake {missing[0]}`, or set "
                                  f"optional: true on that column in tables.columns")
            if missing and skipped:
                cell = {"value": None, "n": None, "lo": None, "hi": None, "missing": missing,
                        "why": NOT_EVALUATED}
            elif missing:
                cell = {"value": None, "n": None, "lo": None, "hi": None, "missing": missing}
            else:
                cell = pool([{**read_cell(root / rel, col), "path": rel} for rel in rels], boot)
            cell.update(path=rels[0] if len(rels) == 1 else rels, benchmark=col.benchmark, metric=col.metric,
                        paper=_paper(setting, table, row, col))
            if setting["reference"]:
                cell["paper_reference"] = reference_numbers(setting["tool_dataset"], table, row.paper_row,
                                                            col.paper, setting["reference"])
            cells[col.name] = cell
        hashes = sorted({h for c in cells.values() for h in (c.get("config_hash") or "").split(",") if h})
        out_rows.append({"model": row.model, "method": row.method, "label": row.label,
                         "config_hash": ",".join(hashes), "cells": cells})
    return {"table": table, "config": config.get("name"), "config_hash": config_hash(config),
            "paper_setting": setting["tool_dataset"], "paper_reference": setting["reference"],
            # our backbone is one of the paper's: its numbers stand in our cells' place (``paper``)
            "paper_backbone": any(row.model in setting["backbones"] for row in rows), "bootstrap": boot,
            "columns": [vars(c) for c in columns], "rows": out_rows}


def _paper(setting: dict, table: str, row: spec.Row, col: spec.Column) -> float | None:
    backbone = setting["backbones"].get(row.model)
    paper_table = paper_table_for(setting["tool_dataset"], table, row.paper_row)
    if backbone is None or paper_table is None or col.paper is None:
        return None
    return paper_number(paper_table, backbone, row.paper_row, col.paper)
