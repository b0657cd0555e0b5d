"""Exact ablation importance: the loss increase when a component's output is replaced.

For one example, ``A_c = L(y_c replaced) - L`` with ``L`` its mean cross-entropy over the
answer tokens (signed: a component whose removal lowers the loss scores below zero).

* ``zero``: the output becomes 0. In a layer without biases this cannot tell q from k
  (both give uniform attention) nor gate, up and down apart (all zero the MLP).
* ``mean``: the output becomes its mean over the sample's non-padding positions, which
  keeps a component's constant part and removes what depends on the input.

One batched forward per component and batch. With ``reuse`` (the default) that forward
starts at the component's layer from the cached layer input (``forward.run_from``), so
layers before it are not recomputed; ``reuse=False`` is the plain full forward, kept
for tests and the benchmark's side-by-side timing. With reuse, the component's layer runs
first on its own: where its output equals, exactly, the one another component of the same
layer gave (zero ablation without biases: q and k, v and o, gate, up and down), that
component's losses are reused, so zero ablation runs about 3 rather than 7 forwards a layer.
"""

from __future__ import annotations

import torch

from .components import list_components
from .forward import LayerInputs, answer_losses, check_reuse, full_forward, layer_output, replaced, run_from
from .taylor import batched, per_example_result

REPLACEMENTS = ("zero", "mean")


@torch.no_grad()
def output_means(model, batches, components) -> list[torch.Tensor]:
    """Each component's output averaged over all non-padding positions of all batches."""
    modules = dict(model.named_modules())
    sums, count, mask = [0.0] * len(components), 0, {}
    hooks = []
    for i, (_, _, name) in enumerate(components):
        def add(module, args, output, i=i):
            sums[i] = sums[i] + (output.double() * mask["now"][..., None]).sum(dim=(0, 1))
        hooks.append(modules[name].register_forward_hook(add))
    try:
        for _, batch in batches:
            mask["now"] = batch["attention_mask"].double()  # this batch's non-padding positions
            full_forward(model, batch)
            count += int(batch["attention_mask"].sum())
    finally:
        for h in hooks:
            h.remove()
    return [s / count for s in sums]


def replacement_fn(how: str, mean: torch.Tensor | None = None):
    if how == "zero":
        return torch.zeros_like
    if how == "mean":
        return lambda output: mean.to(output.dtype).expand_as(output).contiguous()
    raise ValueError(f"importance.replacement: unknown {how!r}; known: {', '.join(REPLACEMENTS)}")


@torch.no_grad()
def score_records(model, tok, records: list[dict], batch_size: int, max_length: int, replacement: str = "zero",
                  reuse: bool = True, log=None) -> dict:
    """Per-example ablation scores [n, components] (records' order) and token counts."""
    for p in model.parameters():
        p.requires_grad_(False)
    device = next(model.parameters()).device
    components = list_components(model)
    modules = dict(model.named_modules())
    encoded, batches = batched(tok, records, batch_size, max_length, device)
    batches = list(batches)
    means = output_means(model, batches, components) if replacement == "mean" else [None] * len(components)
    replace = [replacement_fn(replacement, m) for m in means]
    cache = LayerInputs(model)
    per_example = torch.zeros((len(encoded), len(components)), dtype=torch.float64)
    for step, (chosen, batch) in enumerate(batches):
        base = answer_losses(model, cache.capture(batch), batch)
        if reuse:
            check_reuse(model, cache, batch, base)
        seen = []  # (component, its layer's output) in the current layer
        for c, (layer, _, name) in enumerate(components):
            if not reuse:
                with replaced(modules[name], replace[c]):
                    hidden = full_forward(model, batch)
            else:
                with replaced(modules[name], replace[c]):
                    out = layer_output(model, layer, cache.inputs[layer], batch)
                seen = [(k, o) for k, o in seen if components[k][0] == layer]
                same = next((k for k, o in seen if torch.equal(o, out)), None)
                if same is not None:
                    per_example[chosen, c] = per_example[chosen, same]
                    continue
                seen.append((c, out))
                hidden = run_from(model, layer + 1, out, batch)
            per_example[chosen, c] = (answer_losses(model, hidden, batch) - base).double().cpu()
        if log:
            log.info("ablation (%s): batch %d/%d", replacement, step + 1, len(batches))
    return per_example_result(components, per_example, encoded)
