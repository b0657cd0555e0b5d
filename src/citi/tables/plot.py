"""Trade-off plot: tool score against mean general score, one point per method, base marked, 95% error bars.

Read from the main table's sidecar, so each point traces to the same metrics files as
the table. Tool score = mean of the tool columns; general = mean of the general columns; detail columns
(``plot: false``, e.g. TS/PI/CF) are on neither axis, nor are lower-is-better columns
(``direction: lower``, e.g. answer_nll): they cannot be averaged with percentages. A row missing
any of them is left out and named in the log.

Each axis averages columns over different item sets, so its interval bootstraps that average:
each column's items resampled independently (pooled columns within each benchmark), from one
generator seeded with ``tables.bootstrap``'s seed. An axis with a column lacking item scores
gets no error bar (logged), never an invented one.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .. import stats
from ..errors import CitiError
from ..io import atomic_path
from . import spec
from .build import cell_items

log = logging.getLogger(__name__)


def axis(table: dict, kind: str) -> list[str]:
    """The columns averaged on one axis: those of the kind, detail (plot: false) and lower-is-better ones left out."""
    return [c["name"] for c in table["columns"]
            if c["kind"] == kind and c.get("plot", True) and c.get("direction", "higher") == "higher"]


def axis_interval(row: dict, names: list[str], boot: dict, root: Path) -> tuple[float, float] | None:
    """95% interval of the mean of ``names``' values in ``row``: each column's items resampled independently."""
    rng = np.random.default_rng(boot["seed"])
    means = []
    for name in names:
        items, why = cell_items(row["cells"][name], root)
        if items is None:
            log.warning("trade-off plot: %s/%s: no error bar on the axis with '%s': %s",
                        row["model"], row["method"], name, why)
            return None
        means.append(stats.bootstrap_means([list(i.values()) for i in items], boot["n_boot"], rng))
    return stats.interval(np.mean(means, axis=0), boot["level"])


def points(table: dict, root: str | Path = ".") -> list[dict]:
    """One point per row: mean tool and general scores, each with its interval (None without item scores)."""
    tool, general = axis(table, "tool"), axis(table, "general")
    if not tool or not general:
        raise CitiError(f"trade-off plot: the {table['table']} table needs tool and general columns "
                        f"(has tool: {tool or 'none'}, general: {general or 'none'})")
    boot = table.get("bootstrap") or spec.bootstrap_settings({})
    out = []
    for row in table["rows"]:
        values = {name: row["cells"][name].get("value") for name in tool + general}
        if any(v is None for v in values.values()):
            log.warning("trade-off plot: %s/%s has empty cells; left out", row["model"], row["method"])
            continue
        out.append({"model": row["model"], "method": row["method"], "label": row["label"],
                    "tool": sum(values[n] for n in tool) / len(tool),
                    "general": sum(values[n] for n in general) / len(general),
                    "tool_ci": axis_interval(row, tool, boot, Path(root)),
                    "general_ci": axis_interval(row, general, boot, Path(root))})
    return out


def error_bar(p: dict, key: str):
    """Asymmetric error bar (below, above) for errorbar(), or None."""
    ci = p[f"{key}_ci"]
    return None if ci is None else [[max(0.0, p[key] - ci[0])], [max(0.0, ci[1] - p[key])]]


def plot(table: dict, out_path, root: str | Path = ".") -> list[dict]:
    import matplotlib

    matplotlib.use("Agg")  # headless
    import matplotlib.pyplot as plt

    pts = points(table, root)
    tool, general = ", ".join(axis(table, "tool")), ", ".join(axis(table, "general"))
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    for i, model in enumerate(dict.fromkeys(p["model"] for p in pts)):
        mine = [p for p in pts if p["model"] == model]
        color = f"C{i % 10}"
        others = [p for p in mine if p["method"] != "base"]
        ax.scatter([p["general"] for p in others], [p["tool"] for p in others], color=color, label=model, s=40)
        for p in mine:
            ax.errorbar([p["general"]], [p["tool"]], xerr=error_bar(p, "general"), yerr=error_bar(p, "tool"), fmt="none",
                        ecolor=color, alpha=0.5, capsize=2, lw=1)
            if p["method"] == "base":
                ax.scatter([p["general"]], [p["tool"]], color=color, marker="*", s=220, edgecolor="black",
                           zorder=3, label=f"{model} base")
            ax.annotate(p["label"], (p["general"], p["tool"]), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xlabel(f"mean general score (%): {general}", fontsize=8)
    ax.set_ylabel(f"tool score (%): mean of {tool}", fontsize=8)
    ax.set_title(f"Tool ability vs general ability — {table['config']} (bars: 95% bootstrap)", fontsize=10)
    save(fig, ax, out_path, legend=bool(pts))
    return pts


def save(fig, ax, out_path, legend: bool) -> None:
    """Grid, legend (when there are points), layout, and the PNG written whole or not at all."""
    import matplotlib.pyplot as plt

    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
