"""Write a built table as CSV (one row per backbone x method), Markdown, and a sources sidecar.

CSV columns: model, method, label, config_hash, then per table column ``<name>``
(ours, 2 decimals), ``<name> n`` (items scored), ``<name> lo`` and ``<name> hi`` (its 95%
bootstrap interval; empty where the metrics file has no item scores) and, in a paper
setting, ``<name> paper``; with reference backbones (``tables.paper.reference``), ``<name> paper <backbone>``
for each of them beside every column that reproduces one of the paper's. Markdown shows ``value ± half-width`` (half the interval's width),
or ``value (no CI)``. The sidecar (``<table>.sources.json``) is the built table itself: per
cell the metrics file, its full-precision value, n, interval, cap and config hash.
"""

from __future__ import annotations

import csv
import io
import math

from ..io import write_json, write_text
from .paper import SHORT_NAMES


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.2f}"


def has_paper(table: dict, col: dict) -> bool:
    """A paper column beside ours only where this column reproduces one of the paper's, in its setting."""
    return table["paper_setting"] is not None and col.get("paper") is not None and table.get("paper_backbone", True)


def references(table: dict, col: dict) -> list[str]:
    """The paper's backbones shown beside this column as a reference (a column with a paper key only)."""
    return list(table.get("paper_reference") or []) if col.get("paper") is not None else []


def reference_text(cell: dict, backbones: list[str]) -> str:
    """``56.48 / 61.75 / 47.88``: the reference backbones' numbers in order, – where the paper has none."""
    numbers = cell.get("paper_reference") or {}
    return " / ".join(_fmt(numbers.get(b)) or "–" for b in backbones)


def _benchmarks(col: dict) -> str:
    b = col["benchmark"]
    return f"`{b}`" if isinstance(b, str) else " + ".join(f"`{x}`" for x in b) + " (pooled by n)"


def header(table: dict) -> list[str]:
    head = ["model", "method", "label", "config_hash"]
    for col in table["columns"]:
        name = col["name"]
        head += [name, f"{name} n", f"{name} lo", f"{name} hi"] + ([f"{name} paper"] if has_paper(table, col) else [])
        head += [f"{name} paper {b}" for b in references(table, col)]
    return head


def csv_rows(table: dict) -> list[list[str]]:
    out = []
    for row in table["rows"]:
        line = [row["model"], row["method"], row["label"], row["config_hash"]]
        for col in table["columns"]:
            cell = row["cells"][col["name"]]
            line += [_fmt(cell.get("value")), "" if cell.get("n") is None else str(cell["n"]),
                     _fmt(cell.get("lo")), _fmt(cell.get("hi"))]
            if has_paper(table, col):
                line.append(_fmt(cell.get("paper")))
            line += [_fmt((cell.get("paper_reference") or {}).get(b)) for b in references(table, col)]
        out.append(line)
    return out


def to_csv(table: dict) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header(table))
    writer.writerows(csv_rows(table))
    return buf.getvalue()


def with_interval(cell: dict) -> str:
    """``12.50 ± 3.10`` (half the 95% interval's width), ``12.50 (no CI)`` without item scores, or ''."""
    text = _fmt(cell.get("value"))
    if not text:
        return ""
    if cell.get("lo") is None or cell.get("hi") is None:
        return f"{text} (no CI)"
    return f"{text} ± {(cell['hi'] - cell['lo']) / 2:.2f}"


def interval_note(table: dict) -> str:
    boot = table.get("bootstrap") or {}
    return (f"± is half the width of a {100 * boot.get('level', 0.95):.0f}% percentile bootstrap interval: items "
            f"resampled with replacement ({boot.get('n_boot', '?')} resamples, seed {boot.get('seed', '?')}), "
            f"pooled columns within each benchmark. (no CI): the metrics file has no item scores for it.")


def to_markdown(table: dict) -> str:
    """Ours ± half the 95% interval, the paper's number in parentheses where the setting matches; n per column below."""
    cols = table["columns"]
    lines = [f"# {table['table']} table — config {table['config']} ({table['config_hash']})", ""]
    if any(has_paper(table, c) for c in cols):
        lines += ["Values: ours (paper) in percent; the paper's number is shown where backbone, tool "
                  "training data and benchmark match its setting.", ""]
    if any(references(table, c) for c in cols):
        names = " / ".join(SHORT_NAMES.get(b, b) for b in table["paper_reference"])
        lines += [f"Beside each column the paper reports, **paper: {names}** gives the paper's numbers for those "
                  f"backbones in the same row and column (trained on {table['paper_setting']}; – where the paper "
                  "reports none: FT+DM and LoRA+DM only for Llama-3-8B, in its ablation table). They are other, "
                  "far larger backbones than ours: compare the pattern across rows (which method gains tool "
                  "ability, which loses general ability), not the values.", ""]
    head = []
    for c in cols:
        head.append(c["name"])
        if references(table, c):
            head.append(f"{c['name']}: paper {' / '.join(SHORT_NAMES.get(b, b) for b in references(table, c))}")
    lines += ["| backbone | method | " + " | ".join(head) + " |", "|---|---|" + "---:|" * len(head)]
    for row in table["rows"]:
        cells = []
        for col in cols:
            cell = row["cells"][col["name"]]
            text = with_interval(cell) or ("n/e" if cell.get("why") else "–")
            if cell.get("paper") is not None:
                text += f" ({cell['paper']:.2f})"
            cells.append(text)
            if references(table, col):
                cells.append(reference_text(cell, references(table, col)))
        lines.append(f"| {row['model']} | {row['label']} | " + " | ".join(cells) + " |")
    lines += ["", interval_note(table), "", "Columns (benchmark / metric, items scored n):", ""]
    for col in cols:
        ns = sorted({row["cells"][col["name"]].get("n") for row in table["rows"]} - {None})
        lower = ", lower is better" if col.get("direction") == "lower" else ""
        lines.append(f"- **{col['name']}** ({col['kind']}{lower}): {_benchmarks(col)} / `{col['metric']}`, "
                     f"n = {', '.join(map(str, ns)) or '–'}")
    if any(c.get("why") for row in table["rows"] for c in row["cells"].values()):
        lines += ["", "n/e: not evaluated for this method (the benchmark's `methods` in the config)."]
    lines += ["", f"Every number traces to a metrics file listed in {table['table']}.sources.json.", ""]
    return "\n".join(lines)


def write(table: dict, csv_path, md_path, sources_path) -> None:
    write_text(csv_path, to_csv(table))
    write_text(md_path, to_markdown(table))
    write_json(sources_path, table)
