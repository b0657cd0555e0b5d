"""Training loss curves of the main table's methods in one figure, for the report.

Each method's stages are drawn one after another along the step axis (a dotted line where a
stage starts), from the ``training_log.csv`` every stage folder holds: the cross-entropy of
each optimiser step, and the routing loss of MOLoRA stages on a second axis.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..errors import SourceError
from ..io import atomic_path


def read_log(stage_folder: str | Path) -> list[dict]:
    path = Path(stage_folder) / "training_log.csv"
    if not path.is_file():
        raise SourceError(f"{path}: missing (every stage folder holds its training log)")
    with open(path, newline="") as f:
        return [{k: float(v) if v not in ("", None) else None for k, v in row.items()} for row in csv.DictReader(f)]


def plot(curves: dict[str, list[str]], out_path: str | Path, title: str) -> dict[str, dict]:
    """``curves``: label -> the method's stage folders in order. Returns per label the first and last CE."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(curves), 1, figsize=(7, 2.2 * len(curves)), squeeze=False, dpi=110)
    summary = {}
    for ax, (label, stages) in zip(axes[:, 0], curves.items()):
        offset, ce_all = 0, []
        for k, folder in enumerate(stages, start=1):
            rows = read_log(folder)
            steps = [offset + r["step"] for r in rows]
            ce = [r["ce_loss"] if r.get("ce_loss") is not None else r["loss"] for r in rows]
            ax.plot(steps, ce, color="tab:blue", label="CE" if k == 1 else None)
            if any(r.get("routing_loss") is not None for r in rows):
                twin = ax.twinx()
                twin.plot(steps, [r.get("routing_loss") for r in rows], color="tab:red", alpha=0.6, label="routing")
                twin.set_ylabel("routing", fontsize=7)
            if k > 1:
                ax.axvline(offset + 0.5, color="grey", linestyle=":")
            ce_all += [c for c in ce if c is not None]
            offset = steps[-1] if steps else offset
        ax.set_title(f"{label} ({len(stages)} stage{'s' if len(stages) > 1 else ''})", fontsize=9)
        ax.set_ylabel("CE loss", fontsize=8)
        summary[label] = {"first": ce_all[0] if ce_all else None, "last": ce_all[-1] if ce_all else None,
                          "steps": offset}
    axes[-1, 0].set_xlabel("optimiser step (stages in order)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return summary
