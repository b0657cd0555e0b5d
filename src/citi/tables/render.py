"""Write a built table as CSV (one row per backbone x method), Markdown, and a sources sidecar.

CSV columns: model, method, label, config_hash, then per table column ``<name>``
(ours, 2 decimals), ``<name> n`` (items scored) and, in a paper setting, ``<name> paper``.
The sidecar (``<table>.sources.json``) is the built table itself: per cell the metrics
file, its full-precision value, n, cap and config hash.
"""

from __future__ import annotations

import csv
import io
import math

from ..io import write_json, write_text


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.2f}"


def has_paper(table: dict, col: dict) -> bool:
    """A paper column beside ours only where this column reproduces one of the paper's, in its setting."""
    return table["paper_setting"] is not None and col.get("paper") is not None


def _benchmarks(col: dict) -> str:
    b = col["benchmark"]
    return f"`{b}`" if isinstance(b, str) else " + ".join(f"`{x}`" for x in b) + " (pooled by n)"


def header(table: dict) -> list[str]:
    head = ["model", "method", "label", "config_hash"]
    for col in table["columns"]:
        head += [col["name"], f"{col['name']} n"] + ([f"{col['name']} paper"] if has_paper(table, col) else [])
    return head


def csv_rows(table: dict) -> list[list[str]]:
    out = []
    for row in table["rows"]:
        line = [row["model"], row["method"], row["label"], row["config_hash"]]
        for col in table["columns"]:
            cell = row["cells"][col["name"]]
            line += [_fmt(cell.get("value")), "" if cell.get("n") is None else str(cell["n"])]
            if has_paper(table, col):
                line.append(_fmt(cell.get("paper")))
        out.append(line)
    return out


def to_csv(table: dict) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header(table))
    writer.writerows(csv_rows(table))
    return buf.getvalue()


def to_markdown(table: dict) -> str:
    """Ours, with the paper's number in parentheses where the setting matches; n per column below."""
    cols = table["columns"]
    lines = [f"# {table['table']} table — config {table['config']} ({table['config_hash']})", ""]
    if any(has_paper(table, c) for c in cols):
        lines += ["Values: ours (paper) in percent; the paper's number is shown where backbone, tool "
                  "training data and benchmark match its setting.", ""]
    lines += ["| backbone | method | " + " | ".join(c["name"] for c in cols) + " |",
              "|---|---|" + "---:|" * len(cols)]
    for row in table["rows"]:
        cells = []
        for col in cols:
            cell = row["cells"][col["name"]]
            text = _fmt(cell.get("value")) or ("n/e" if cell.get("why") else "–")
            if cell.get("paper") is not None:
                text += f" ({cell['paper']:.2f})"
            cells.append(text)
        lines.append(f"| {row['model']} | {row['label']} | " + " | ".join(cells) + " |")
    lines += ["", "Columns (benchmark / metric, items scored n):", ""]
    for col in cols:
        ns = sorted({row["cells"][col["name"]].get("n") for row in table["rows"]} - {None})
        lines.append(f"- **{col['name']}** ({col['kind']}): {_benchmarks(col)} / `{col['metric']}`, "
                     f"n = {', '.join(map(str, ns)) or '–'}")
    if any(c.get("why") for row in table["rows"] for c in row["cells"].values()):
        lines += ["", "n/e: not evaluated for this method (the benchmark's `methods` in the config)."]
    lines += ["", f"Every number traces to a metrics file listed in {table['table']}.sources.json.", ""]
    return "\n".join(lines)


def write(table: dict, csv_path, md_path, sources_path) -> None:
    write_text(csv_path, to_csv(table))
    write_text(md_path, to_markdown(table))
    write_json(sources_path, table)
