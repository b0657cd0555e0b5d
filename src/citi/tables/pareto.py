"""Retention vs gain (issue 22): every method of the main and ablation tables, baselines included, on one
plane, and which of them are on the Pareto front.

The axes are the trade-off plot's (``plot.points``): the tool score (mean of the tool columns) and the
general score (mean of the higher-is-better general columns), each with its 95% bootstrap interval.
Per backbone, a method is on the front when no other method is at least as good on both axes and
better on one (point estimates). Intervals say how sure that is: a method is *clearly* dominated
when another's interval lies above its interval on both axes; a front built on overlapping intervals
cannot be told apart at this n, and the table says so instead of ranking.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..errors import CitiError
from ..io import write_text
from .plot import axis, error_bar, points, save


def combined(tables: list[dict]) -> dict:
    """One table of every method: the first table's rows, then each later table's rows not already in it.
    The tables must share the columns on the plot's axes (they do when built from one config)."""
    first = tables[0]
    names = (axis(first, "tool"), axis(first, "general"))
    seen = {(r["model"], r["method"]) for r in first["rows"]}
    rows = list(first["rows"])
    for table in tables[1:]:
        if (axis(table, "tool"), axis(table, "general")) != names:
            raise CitiError(f"retention vs gain: the {table['table']} table's plotted columns differ from the "
                            f"{first['table']} table's; they cannot share axes")
        for row in table["rows"]:
            if (row["model"], row["method"]) not in seen:
                seen.add((row["model"], row["method"]))
                rows.append(row)
    return {**first, "table": "+".join(t["table"] for t in tables), "rows": rows}


def _beats(a: dict, b: dict) -> bool:
    """``a`` is at least as good as ``b`` on both axes and better on one."""
    return a["tool"] >= b["tool"] and a["general"] >= b["general"] and (a["tool"], a["general"]) != (b["tool"], b["general"])


def _clearly_beats(a: dict, b: dict) -> bool:
    """``a``'s interval lies above ``b``'s on both axes (False where an interval is missing)."""
    if None in (a["tool_ci"], a["general_ci"], b["tool_ci"], b["general_ci"]):
        return False
    return a["tool_ci"][0] > b["tool_ci"][1] and a["general_ci"][0] > b["general_ci"][1]


def front(pts: list[dict]) -> list[dict]:
    """Each point with ``on_front``, ``dominated_by`` (labels) and ``clearly_dominated_by``, per backbone."""
    out = []
    for p in pts:
        rivals = [q for q in pts if q["model"] == p["model"] and q is not p]
        out.append({**p, "on_front": not any(_beats(q, p) for q in rivals),
                    "dominated_by": [q["label"] for q in rivals if _beats(q, p)],
                    "clearly_dominated_by": [q["label"] for q in rivals if _clearly_beats(q, p)]})
    return out


def _num(x) -> str:
    return "" if x is None else f"{x:.2f}"


def to_csv(pts: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model", "method", "label", "tool", "tool lo", "tool hi", "general", "general lo", "general hi",
                "on front", "dominated by", "clearly dominated by"])
    for p in pts:
        t, g = p["tool_ci"] or (None, None), p["general_ci"] or (None, None)
        w.writerow([p["model"], p["method"], p["label"], _num(p["tool"]), _num(t[0]), _num(t[1]), _num(p["general"]),
                    _num(g[0]), _num(g[1]), "yes" if p["on_front"] else "no", "; ".join(p["dominated_by"]),
                    "; ".join(p["clearly_dominated_by"])])
    return buf.getvalue()


def to_markdown(pts: list[dict], table: dict) -> str:
    def ci(x, c):
        return f"{x:.2f}" + ("" if c is None else f" [{c[0]:.2f}, {c[1]:.2f}]")

    lines = [f"# Retention vs gain — config {table['config']} ({table['config_hash']})", "",
             f"Tool score: mean of {', '.join(axis(table, 'tool'))}. General score: mean of "
             f"{', '.join(axis(table, 'general'))}. 95% bootstrap intervals. On the front: no other method of the "
             "backbone is at least as good on both axes and better on one (point estimates); clearly dominated: "
             "another method's intervals lie above this one's on both axes.", "",
             "| backbone | method | tool | general | on the front | dominated by | clearly dominated by |",
             "|---|---|---:|---:|---|---|---|"]
    for p in pts:
        lines.append(f"| {p['model']} | {p['label']} | {ci(p['tool'], p['tool_ci'])} | "
                     f"{ci(p['general'], p['general_ci'])} | {'yes' if p['on_front'] else 'no'} | "
                     f"{', '.join(p['dominated_by']) or '–'} | {', '.join(p['clearly_dominated_by']) or '–'} |")
    for model in dict.fromkeys(p["model"] for p in pts):
        mine = [p for p in pts if p["model"] == model]
        on = [p["label"] for p in mine if p["on_front"]]
        unclear = [p["label"] for p in mine if not p["on_front"] and not p["clearly_dominated_by"]]
        lines += ["", f"{model}: on the front {', '.join(on) or 'none'}."
                  + (f" Off it but not clearly dominated at this n: {', '.join(unclear)}." if unclear else "")]
    return "\n".join(lines) + "\n"


def plot(pts: list[dict], table: dict, out_path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.2, 5.4), dpi=120)
    for i, model in enumerate(dict.fromkeys(p["model"] for p in pts)):
        mine = [p for p in pts if p["model"] == model]
        color = f"C{i % 10}"
        for p in mine:
            ax.errorbar([p["general"]], [p["tool"]], xerr=error_bar(p, "general"), yerr=error_bar(p, "tool"), fmt="none",
                        ecolor=color, alpha=0.4, capsize=2, lw=1)
            marker = "*" if p["method"] == "base" else ("o" if p["on_front"] else "x")
            ax.scatter([p["general"]], [p["tool"]], color=color, marker=marker, s=160 if marker == "*" else 40,
                       edgecolor="black" if p["on_front"] else None, zorder=3)
            ax.annotate(p["label"], (p["general"], p["tool"]), textcoords="offset points", xytext=(5, 4), fontsize=7)
        edge = sorted((p for p in mine if p["on_front"]), key=lambda p: p["general"])
        ax.plot([p["general"] for p in edge], [p["tool"] for p in edge], color=color, lw=1, ls="--",
                label=f"{model}: Pareto front")
    ax.set_xlabel(f"general score (%): {', '.join(axis(table, 'general'))}", fontsize=8)
    ax.set_ylabel(f"tool score (%): {', '.join(axis(table, 'tool'))}", fontsize=8)
    ax.set_title(f"Retention vs gain, every method — {table['config']} (bars: 95% bootstrap; x: off the front)",
                 fontsize=9)
    save(fig, ax, out_path, legend=bool(pts))


def write(tables: list[dict], png, csv_path, md_path, root: str | Path = ".") -> list[dict]:
    table = combined(tables)
    pts = front(points(table, root))
    write_text(csv_path, to_csv(pts))
    write_text(md_path, to_markdown(pts, table))
    plot(pts, table, png)
    return pts
