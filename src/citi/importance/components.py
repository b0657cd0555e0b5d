"""The components CITI scores and selects: the linear modules of every decoder layer.

Llama-style models have q, k, v, o, gate, up, down per layer; fused models
(Phi-3) have qkv, o, gate_up, down. Names are exactly ``model.named_modules()``
names, so training can look the selected modules up directly.
"""

from __future__ import annotations

import re

# short name of each projection, in the order components are listed within a layer
SHORT = {"q_proj": "q", "k_proj": "k", "v_proj": "v", "qkv_proj": "qkv", "o_proj": "o",
         "gate_proj": "gate", "up_proj": "up", "gate_up_proj": "gate_up", "down_proj": "down"}
ORDER = list(SHORT.values())
_PATTERN = re.compile(r"(?:^|\.)layers\.(\d+)\.(?:self_attn|mlp)\.(" + "|".join(SHORT) + r")$")


def list_components(model) -> list[tuple[int, str, str]]:
    """(layer, short module name, full module name) of every component, by layer then module order."""
    found = []
    for name, _ in model.named_modules():
        m = _PATTERN.search(name)
        if m:
            found.append((int(m.group(1)), SHORT[m.group(2)], name))
    if not found:
        raise ValueError(f"{type(model).__name__}: no decoder-layer projections named like "
                         f"'layers.<i>.self_attn|mlp.<{'|'.join(SHORT)}>'")
    return sorted(found, key=lambda c: (c[0], ORDER.index(c[1])))


def module_types(components) -> list[str]:
    """The short module names present, in canonical order (columns of the heatmaps)."""
    present = {c[1] for c in components}
    return [m for m in ORDER if m in present]


def site_modules(model, short: str) -> dict[int, object]:
    """layer -> module for one short name (e.g. "up"), for hooking hidden states."""
    modules = dict(model.named_modules())
    return {layer: modules[name] for layer, s, name in list_components(model) if s == short}
