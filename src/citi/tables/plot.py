"""Trade-off plot: tool score against mean general score, one point per method, base marked.

Read from the main table's sidecar, so each point traces to the same metrics files as
the table. Tool score = mean of the tool columns; general = mean of the general columns; detail columns
(``plot: false``, e.g. TS/PI/CF) are on neither axis. A row missing any of them is left out
and named in the log.
"""

from __future__ import annotations

import logging

from ..errors import CitiError
from ..io import atomic_path

log = logging.getLogger(__name__)


def axis(table: dict, kind: str) -> list[str]:
    """The columns averaged on one axis: those of the kind, detail columns (plot: false) left out."""
    return [c["name"] for c in table["columns"] if c["kind"] == kind and c.get("plot", True)]


def points(table: dict) -> list[dict]:
    tool, general = axis(table, "tool"), axis(table, "general")
    if not tool or not general:
        raise CitiError(f"trade-off plot: the {table['table']} table needs tool and general columns "
                        f"(has tool: {tool or 'none'}, general: {general or 'none'})")
    out = []
    for row in table["rows"]:
        values = {name: row["cells"][name].get("value") for name in tool + general}
        if any(v is None for v in values.values()):
            log.warning("trade-off plot: %s/%s has empty cells; left out", row["model"], row["method"])
            continue
        out.append({"model": row["model"], "method": row["method"], "label": row["label"],
                    "tool": sum(values[n] for n in tool) / len(tool),
                    "general": sum(values[n] for n in general) / len(general)})
    return out


def plot(table: dict, out_path) -> list[dict]:
    import matplotlib

    matplotlib.use("Agg")  # headless
    import matplotlib.pyplot as plt

    pts = points(table)
    tool, general = ", ".join(axis(table, "tool")), ", ".join(axis(table, "general"))
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    for i, model in enumerate(dict.fromkeys(p["model"] for p in pts)):
        mine = [p for p in pts if p["model"] == model]
        color = f"C{i % 10}"
        others = [p for p in mine if p["method"] != "base"]
        ax.scatter([p["general"] for p in others], [p["tool"] for p in others], color=color, label=model, s=40)
        for p in mine:
            if p["method"] == "base":
                ax.scatter([p["general"]], [p["tool"]], color=color, marker="*", s=220, edgecolor="black",
                           zorder=3, label=f"{model} base")
            ax.annotate(p["label"], (p["general"], p["tool"]), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xlabel(f"mean general score (%): {general}", fontsize=8)
    ax.set_ylabel(f"tool score (%): mean of {tool}", fontsize=8)
    ax.set_title(f"Tool ability vs general ability — {table['config']}", fontsize=10)
    ax.grid(alpha=0.3)
    if pts:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return pts
