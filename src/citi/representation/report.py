"""Outputs of the representation analysis: shift vectors, cosine curves and heatmaps, PCA plots.

``stats[kind][task]`` holds ``last_token_states`` results for kind in
base / tuned / control. Curves: cos(ICC_tool, ICC_t) per layer with both shifts
from the tuned model (solid) and with ICC_t from the control model (dashed).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from .shifts import SITES, cosine, pca_2d  # noqa: E402


def shifts(stats: dict, kind: str) -> dict:
    """{site: {task: [layers, d]}}: ICC of every task for the ``kind`` model."""
    return {site: {t: stats[kind][t]["mean"][site] - stats["base"][t]["mean"][site] for t in stats["base"]}
            for site in SITES}


def cosine_rows(tuned: dict, control: dict) -> list[dict]:
    rows = []
    for site in SITES:
        tool = tuned[site]["tool"]
        for task in tuned[site]:
            if task == "tool":
                continue
            solid, dashed = cosine(tool, tuned[site][task]), cosine(tool, control[site][task])
            rows += [{"site": site, "layer": layer, "task": task, "cos_tuned": float(a), "cos_control": float(b)}
                     for layer, (a, b) in enumerate(zip(solid, dashed))]
    return rows


def plot_curves(rows, site, names, path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.2))
    tasks = sorted({r["task"] for r in rows if r["site"] == site})
    for colour, task in zip(plt.cm.tab10.colors, tasks):
        mine = [r for r in rows if r["site"] == site and r["task"] == task]
        layers = [r["layer"] for r in mine]
        ax.plot(layers, [r["cos_tuned"] for r in mine], "-", color=colour, label=f"{task}: {names['tuned']}")
        ax.plot(layers, [r["cos_control"] for r in mine], "--", color=colour, label=f"{task}: {names['control']}")
    hooked = {"ffn": "up_proj input", "attn": "q_proj input"}[site]
    ax.set_title(f"cos(tool shift, task shift) per layer ({hooked})\n"
                 f"solid: both shifts from {names['tuned']}; dashed: task shift from {names['control']}")
    ax.set_xlabel("decoder layer")
    ax.set_ylabel("cosine similarity")
    ax.axhline(0, color="grey", lw=0.5)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def task_cosines(shift: dict) -> tuple[list[str], np.ndarray]:
    """[tasks x tasks] cosine between the tasks' shifts, averaged over layers."""
    tasks = list(shift)
    return tasks, np.array([[float(cosine(shift[a], shift[b]).mean()) for b in tasks] for a in tasks])


def plot_heatmap(tasks, matrix, title, path) -> None:
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    im = ax.imshow(matrix, vmin=-1, vmax=1, cmap="coolwarm")
    ax.set_xticks(range(len(tasks)), tasks, rotation=45, ha="right")
    ax.set_yticks(range(len(tasks)), tasks)
    for i in range(len(tasks)):
        for j in range(len(tasks)):
            ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=8)
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="cosine (mean over layers)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_pca(base: dict, tuned: dict, title: str, path) -> dict:
    """Scatter base (o) and tuned (x) states per task on 2 PCs, arrows between the task centroids."""
    pca, b2, t2 = pca_2d(base, tuned)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    arrows = {}
    for colour, task in zip(plt.cm.tab10.colors, base):
        ax.scatter(*b2[task].T, s=10, color=colour, marker="o", alpha=0.35, label=f"{task} base")
        ax.scatter(*t2[task].T, s=14, color=colour, marker="x", alpha=0.7, label=f"{task} tuned")
        start, end = b2[task].mean(0), t2[task].mean(0)
        ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "color": colour, "lw": 2})
        arrows[task] = (end - start).tolist()
    ratio = pca.explained_variance_ratio_
    ax.set_xlabel(f"PC1 ({ratio[0]:.0%} of variance)")
    ax.set_ylabel(f"PC2 ({ratio[1]:.0%} of variance)")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return arrows


def write_report(folder, stats: dict, names: dict, pca_layers: list[int], meta: dict) -> dict:
    import csv

    from ..io import write_json

    tuned, control = shifts(stats, "tuned"), shifts(stats, "control")
    torch.save({"tuned": tuned, "control": control, "names": names, "meta": meta}, folder / "shifts.pt")
    rows = cosine_rows(tuned, control)
    with open(folder / "cosine.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    summary = {"names": names, "pca_layers": pca_layers, "pca_arrows": {}, **meta}
    for site in SITES:
        plot_curves(rows, site, names, folder / f"cosine_{site}.png")
        tasks, matrix = task_cosines(tuned[site])
        np.savetxt(folder / f"cosine_tasks_{site}.csv", matrix, delimiter=",", header=",".join(tasks), comments="")
        plot_heatmap(tasks, matrix, f"{names['tuned']}: cosine between the tasks' shifts ({site})",
                     folder / f"cosine_tasks_{site}.png")
        for k, layer in enumerate(pca_layers):
            base = {t: stats["base"][t]["states"][site][:, k] for t in stats["base"]}
            moved = {t: stats["tuned"][t]["states"][site][:, k] for t in stats["base"]}
            summary["pca_arrows"][f"{site}/layer{layer}"] = plot_pca(
                base, moved, f"{names['tuned']} vs base, layer {layer} ({site}): PCA of last-token states",
                folder / f"pca_{site}_layer{layer}.png")
    write_json(folder / "summary.json", summary)
    return summary
