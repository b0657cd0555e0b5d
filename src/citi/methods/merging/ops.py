"""The merges, one weight tensor at a time, all in one form: theta = (1 - s) * base + s * tuned on the
entries a mask keeps, base elsewhere. With tau = tuned - base that is base + s * tau, written so that
s = 0 gives the base and s = 1 the tuned weights exactly (no rounding from tau).

- WiSE-FT (Wortsman et al. 2022): s = alpha, every entry.
- Task arithmetic (Ilharco et al. 2023): s = lambda, every entry. With one task vector this is WiSE-FT
  with alpha = lambda (lambda may exceed 1: extrapolation); both names are kept as the baselines asked.
- TIES (Yadav et al. 2023): keep the top `density` fraction of tau's entries by magnitude (per tensor, as
  mergekit does), elect a sign, average the kept entries that agree with it (disjoint mean), scale by
  lambda. With one task vector the elected sign is each entry's own and the disjoint mean is the entry,
  so TIES here is trim-then-scale; density 1 is task arithmetic.
- DARE (Yu et al. 2024): drop each entry of tau with probability p (seeded), rescale the rest by
  1 / (1 - p), scale by lambda: s = lambda / (1 - p) on the kept entries. p = 0 is task arithmetic.

Why by hand, not mergekit: mergekit 0.1.5 pip-installs and merges local folders offline, but it brings
its own torch 2.14.1 and transformers 5.25 (a 6 GB env beside the pinned one) for four one-line formulas
on one donor. On the tiny model its linear, task_arithmetic and ties (normalize: false) merges equal these
bit for bit; its DARE draws its masks from another random stream (equal in law, not bit for bit).
"""

from __future__ import annotations

import torch

from .config import MergeSettings


def blend(base: torch.Tensor, tuned: torch.Tensor, scale: float, keep: torch.Tensor | None = None) -> torch.Tensor:
    mixed = (1 - scale) * base + scale * tuned
    return mixed if keep is None else torch.where(keep, mixed, base)


def top_magnitude(tau: torch.Tensor, density: float) -> torch.Tensor:
    """Mask of the int(density * n) entries (at least one) of largest |tau|, as mergekit counts them."""
    keep = torch.zeros(tau.numel(), dtype=torch.bool)
    keep[tau.abs().flatten().topk(max(1, int(density * tau.numel()))).indices] = True
    return keep.view_as(tau)


def merge_tensor(base: torch.Tensor, tuned: torch.Tensor, s: MergeSettings,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    if s.kind == "wise_ft":
        return blend(base, tuned, s.alpha)
    if s.kind == "task_arithmetic":
        return blend(base, tuned, s.scale)
    if s.kind == "ties":
        return blend(base, tuned, s.scale, None if s.density >= 1 else top_magnitude(tuned - base, s.density))
    if s.kind == "dare":
        if s.drop == 0:
            return blend(base, tuned, s.scale)
        keep = torch.rand(base.shape, generator=generator) >= s.drop
        return blend(base, tuned, s.scale / (1 - s.drop), keep)
    raise ValueError(f"unknown merge kind {s.kind!r}")
