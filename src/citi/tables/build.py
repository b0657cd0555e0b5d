"""Fill a table from metrics files: every number keeps the path it came from.

A cell is {value, n, cap, config_hash, path, benchmark, metric} read from one
results/eval/<model>/<method>/<benchmark>/metrics.json, plus the paper's number where
the setting matches (see ``paper``). A missing file or metric is an error naming it,
unless its column is optional (then the cell is empty and says why).
"""

from __future__ import annotations

from pathlib import Path

from ..config import config_hash
from ..errors import RecordError, SourceError
from ..io import read_json
from . import spec
from .paper import paper_number, paper_table_for


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
    return {"value": value, "n": data.get("n"), "cap": data.get("cap"), "config_hash": data.get("config_hash")}


def pool(cells: list[dict]) -> dict:
    """Several benchmarks' values as one, weighted by their n (correct counts pooled, as CITI pools levels)."""
    if len(cells) == 1:
        return dict(cells[0])
    if any(c["value"] is None or not c.get("n") for c in cells):
        return {"value": None, "n": sum(c.get("n") or 0 for c in cells), "cap": None, "config_hash": None}
    n = sum(c["n"] for c in cells)
    hashes = sorted({c["config_hash"] for c in cells if c.get("config_hash")})
    return {"value": sum(c["value"] * c["n"] for c in cells) / n, "n": n,
            "cap": sorted({c.get("cap") for c in cells}, key=str)[-1], "config_hash": ",".join(hashes),
            "parts": [dict(c) for c in cells]}


def build(config: dict, table: str, root: str | Path = ".") -> dict:
    """The table as data: columns, rows of cells, and provenance. Paths are relative to ``root``."""
    root = Path(root)
    columns, rows = spec.columns(config), spec.rows(config, table)
    setting = spec.paper_setting(config)
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
                cell = {"value": None, "n": None, "missing": missing,
                        "why": "not evaluated (the benchmark's methods in the config)"}
            elif missing:
                cell = {"value": None, "n": None, "missing": missing}
            else:
                cell = pool([{**read_cell(root / rel, col), "path": rel} for rel in rels])
            cell.update(path=rels[0] if len(rels) == 1 else rels, benchmark=col.benchmark, metric=col.metric,
                        paper=_paper(setting, table, row, col))
            cells[col.name] = cell
        hashes = sorted({h for c in cells.values() for h in (c.get("config_hash") or "").split(",") if h})
        out_rows.append({"model": row.model, "method": row.method, "label": row.label,
                         "config_hash": ",".join(hashes), "cells": cells})
    return {"table": table, "config": config.get("name"), "config_hash": config_hash(config),
            "paper_setting": setting["tool_dataset"],
            "columns": [vars(c) for c in columns], "rows": out_rows}


def _paper(setting: dict, table: str, row: spec.Row, col: spec.Column) -> float | None:
    backbone = setting["backbones"].get(row.model)
    paper_table = paper_table_for(setting["tool_dataset"], table, row.paper_row)
    if backbone is None or paper_table is None or col.paper is None:
        return None
    return paper_number(paper_table, backbone, row.paper_row, col.paper)
