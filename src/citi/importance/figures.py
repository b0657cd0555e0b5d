"""Importance figures: per-task heatmaps, Jaccard overlap of ranking thirds (paper Fig. 3), Spearman matrix.

Thirds: each task's global ranking (highest first, ties by component order) is
split into high / moderate / low parts of sizes as equal as possible (the
first parts get one extra when n is not a multiple of 3). The random baseline
is the exact expected Jaccard index of two independent uniformly random sets
of the same sizes (hypergeometric overlap).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.stats import hypergeom, spearmanr  # noqa: E402

from .components import module_types  # noqa: E402
from .selection import top  # noqa: E402

THIRDS = ("high", "moderate", "low")


def grid(components, scores) -> tuple[np.ndarray, list[str]]:
    """[layers x module types] matrix of scores (NaN where a layer lacks that module)."""
    cols = module_types(components)
    layers = max(c[0] for c in components) + 1
    out = np.full((layers, len(cols)), np.nan)
    for (layer, module, _), s in zip(components, scores):
        out[layer, cols.index(module)] = s
    return out, cols


def heatmap(task: str, model: str, components, scores, path) -> None:
    data, cols = grid(components, scores)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * len(cols), 1.5 + 0.22 * data.shape[0]))
    im = ax.imshow(data, aspect="auto", cmap="viridis", origin="lower")
    ax.set_xticks(range(len(cols)), cols)
    ax.set_xlabel("module")
    ax.set_ylabel("decoder layer")
    ax.set_title(f"{model}: importance on '{task}'\n(share of the task's total Taylor score)")
    fig.colorbar(im, ax=ax, label="normalised score")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def thirds(scores) -> list[set[int]]:
    ranked = top(list(scores), len(scores))
    return [set(part.tolist()) for part in np.array_split(np.array(ranked), 3)]


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def jaccard_matrices(shares: dict[str, list[float]]) -> dict[str, np.ndarray]:
    """third -> [tasks x tasks] Jaccard index of the tasks' components in that third."""
    parts = {t: thirds(s) for t, s in shares.items()}
    tasks = list(shares)
    return {name: np.array([[jaccard(parts[a][k], parts[b][k]) for b in tasks] for a in tasks])
            for k, name in enumerate(THIRDS)}


def random_jaccard(n: int, m: int) -> float:
    """Expected Jaccard of two independent uniformly random m-subsets of n items."""
    k = np.arange(0, m + 1)
    return float((hypergeom(n, m, m).pmf(k) * k / (2 * m - k)).sum())


def spearman_matrix(shares: dict[str, list[float]]) -> np.ndarray:
    tasks = list(shares)
    return np.array([[spearmanr(shares[a], shares[b]).statistic for b in tasks] for a in tasks])


def matrix_plot(ax, matrix, tasks, title, vmin, vmax):
    im = ax.imshow(matrix, vmin=vmin, vmax=vmax, cmap="magma")
    ax.set_xticks(range(len(tasks)), tasks, rotation=45, ha="right")
    ax.set_yticks(range(len(tasks)), tasks)
    for i in range(len(tasks)):
        for j in range(len(tasks)):
            ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center",
                    color="black" if matrix[i, j] > (vmin + vmax) / 2 else "white", fontsize=8)
    ax.set_title(title)
    return im


def write_matrix_csv(path, matrix, tasks) -> None:
    lines = ["task," + ",".join(tasks)]
    lines += [t + "," + ",".join(repr(float(x)) for x in row) for t, row in zip(tasks, matrix)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_figures(model: str, components, shares: dict[str, list[float]], folder) -> dict:
    """All figures and matrices into ``folder`` (a fresh directory); returns a summary."""
    tasks = list(shares)
    for task in tasks:
        heatmap(task, model, components, shares[task], folder / f"heatmap_{task}.png")
    n = len(components)
    jac = jaccard_matrices(shares)
    sizes = [len(p) for p in thirds(shares[tasks[0]])]
    baseline = {name: random_jaccard(n, m) for name, m in zip(THIRDS, sizes)}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    for ax, name in zip(axes, THIRDS):
        write_matrix_csv(folder / f"jaccard_{name}.csv", jac[name], tasks)
        im = matrix_plot(ax, jac[name], tasks, f"{name} third (random baseline {baseline[name]:.2f})", 0, 1)
    fig.colorbar(im, ax=axes, label="Jaccard index")
    fig.suptitle(f"{model}: overlap of the tasks' high / moderate / low importance thirds ({n} components)")
    fig.savefig(folder / "jaccard.png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    rho = spearman_matrix(shares)
    write_matrix_csv(folder / "spearman.csv", rho, tasks)
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    im = matrix_plot(ax, rho, tasks, f"{model}: Spearman rank correlation\nof component importance between tasks", -1, 1)
    fig.colorbar(im, ax=ax, label="Spearman ρ")
    fig.tight_layout()
    fig.savefig(folder / "spearman.png", dpi=120)
    plt.close(fig)
    return {"model": model, "n_components": n, "third_sizes": sizes, "random_jaccard": baseline,
            "jaccard": {k: v.tolist() for k, v in jac.items()}, "spearman": rho.tolist(), "tasks": tasks}
