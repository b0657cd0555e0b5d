"""Integrated importance: the path integral of ⟨∂L/∂y, y⟩ as a component's output y is scaled from 1 to 0.

Along the path y(α) = α·y, dL/dα = Σ_t ⟨∂L/∂y_t(α), y_t⟩, so the integral over α from 0
to 1 is L(y) − L(0): exactly minus the zero-ablation increase. The score estimates that
increase (the orientation of every other method) with ``steps`` right-endpoint steps
α_i = i/k:  I_c = −(1/k) Σ_i Σ_t ⟨∂L/∂y_t(α_i), y_t⟩, summed over an example's
non-padding positions. One step is taken at the unchanged output (α = 1) and gives the
signed first-order estimate −Σ_t ⟨∂L/∂y_t, y_t⟩ (then one backward serves every
component, as for the Taylor score); many steps approach zero ablation, with an error of
order 1/k.

Each step is one forward from the component's layer (layer reuse, as ablation) and one
backward to its output, so k steps cost about 3k times ablation: the method shows where
the first-order estimate goes wrong; it is never cheaper than measuring the ablation.
Steps share a forward where the batch leaves rows spare (``batch_size`` rows per forward).
"""

from __future__ import annotations

import torch

from .components import list_components
from .forward import LayerInputs, answer_losses, replaced, run_from
from . import taylor
from .taylor import batched, per_example_result


def stacked(batch: dict, times: int) -> dict:
    return {k: v.repeat(times, *([1] * (v.dim() - 1))) for k, v in batch.items()}


def path_terms(model, module, layer: int, hidden_in, batch: dict, alphas: torch.Tensor) -> torch.Tensor:
    """Σ over ``alphas`` of Σ_t ⟨∂L/∂y_t(α), y_t⟩ per example [batch], all steps in one stacked forward."""
    rows = batch["input_ids"].shape[0]
    scale = alphas.to(hidden_in)[:, None].expand(-1, rows).reshape(-1, 1, 1)  # step-major rows
    seen = {}

    def scaled(output):
        seen["y"], seen["scaled"] = output, (scale * output).requires_grad_(True)
        return seen["scaled"]

    big = stacked(batch, len(alphas))
    with replaced(module, scaled):
        hidden = run_from(model, layer, hidden_in.repeat(len(alphas), 1, 1), big)
    grad, = torch.autograd.grad(answer_losses(model, hidden, big).sum(), seen["scaled"])
    terms = (torch.linalg.vecdot(grad, seen["y"]).double() * big["attention_mask"].double()).sum(dim=1)
    return terms.reshape(len(alphas), rows).sum(dim=0)


def score_records(model, tok, records: list[dict], batch_size: int, max_length: int, steps: int = 8,
                  log=None) -> dict:
    """Per-example integrated scores [n, components] (records' order) and token counts."""
    if steps < 1:
        raise ValueError(f"importance.steps: must be at least 1, got {steps}")
    if steps == 1:  # nothing is scaled: one backward serves every component
        return taylor.score_records(model, tok, records, batch_size, max_length, log=log, signed=True)
    for p in model.parameters():
        p.requires_grad_(False)
    components = list_components(model)
    modules = dict(model.named_modules())
    encoded, batches = batched(tok, records, batch_size, max_length, next(model.parameters()).device)
    batches = list(batches)
    cache = LayerInputs(model)
    per_example = torch.zeros((len(encoded), len(components)), dtype=torch.float64)
    for step, (chosen, batch) in enumerate(batches):
        with torch.no_grad():
            cache.capture(batch)
        # spare rows of a forward (batch_size over this batch's examples) carry further steps
        per_pass = max(1, batch_size // len(chosen))
        alphas = torch.arange(1, steps + 1, dtype=torch.float64) / steps
        for c, (layer, _, name) in enumerate(components):
            total = torch.zeros(len(chosen), dtype=torch.float64, device=cache.inputs[layer].device)
            for group in alphas.split(per_pass):
                total += path_terms(model, modules[name], layer, cache.inputs[layer], batch, group)
            per_example[chosen, c] = (-total / steps).cpu()
        if log:
            log.info("integrated (%d steps): batch %d/%d", steps, step + 1, len(batches))
    return per_example_result(components, per_example, encoded)
