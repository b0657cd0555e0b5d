"""Which parameters a stage trains: named groups from the config, everything else frozen.

Groups: ``all`` (every weight), ``lora`` (peft LoRA matrices), ``molora_experts``
and ``molora_router`` (from the MOLoRA layer), ``unfrozen`` (full weights of the
CITI selection's unfrozen modules) and ``selected`` (full weights of a
top/bottom/random selection). "Full weights" of a module are its own base
parameters, never adapter parameters living inside it. A stage's ``freeze_bottom``
fraction then freezes the bottom decoder layers again, whatever the groups chose.
"""

from __future__ import annotations

import re
from typing import Callable

from torch import nn

from ..errors import ConfigError


def _molora(kind: str) -> Callable:
    def params(model, selection):
        from ..methods.molora import molora_parameters

        found = molora_parameters(model, kind)
        if not found:
            raise ConfigError(f"trainable group 'molora_{kind}': the model has no MOLoRA layers "
                              f"(does the method set adapter: molora?)")
        return found
    return params


def _lora(model, selection):
    found = [(n, p) for n, p in model.named_parameters() if ".lora_" in n]
    if not found:
        raise ConfigError("trainable group 'lora': the model has no LoRA layers (does the method set adapter: lora?)")
    return found


def _all(model, selection):
    return list(model.named_parameters())


def _modules(key: str) -> Callable:
    def params(model, selection):
        if not selection or key not in selection:
            raise ConfigError(f"trainable group needs a selection with '{key}' modules; none was given")
        return module_base_parameters(model, selection[key])
    return params


GROUPS: dict[str, Callable] = {
    "all": _all,
    "lora": _lora,
    "molora_experts": _molora("experts"),
    "molora_router": _molora("router"),
    "unfrozen": _modules("unfrozen"),
    "selected": _modules("selected"),
}


def find_module(model: nn.Module, name: str) -> tuple[str, nn.Module]:
    """The module called ``name`` in the bare model, also when wrapped (peft adds prefixes)."""
    modules = dict(model.named_modules())
    if name in modules:
        return name, modules[name]
    hits = sorted((n for n in modules if n.endswith("." + name)), key=len)
    if not hits:
        raise ConfigError(f"selection names module '{name}', which this model does not have")
    return hits[0], modules[hits[0]]


def adapter_parameter_ids(model: nn.Module) -> set[int]:
    ids = {id(p) for n, p in model.named_parameters() if ".lora_" in n}
    try:
        from ..methods.molora import molora_parameters
    except ImportError:
        return ids
    for kind in ("router", "experts"):
        ids |= {id(p) for _, p in molora_parameters(model, kind)}
    return ids


def module_base_parameters(model: nn.Module, names: list[str]) -> list[tuple[str, nn.Parameter]]:
    """Every non-adapter parameter inside each named module."""
    adapters = adapter_parameter_ids(model)
    out = []
    for name in names:
        full, module = find_module(model, name)
        out += [(f"{full}.{n}", p) for n, p in module.named_parameters() if id(p) not in adapters]
    return out


_LAYER = re.compile(r"(?:^|\.)layers\.(\d+)\.")


def bottom_layers(model: nn.Module, fraction: float, where: str = "freeze_bottom") -> set[int]:
    """The bottom int(fraction x layers) decoder layers' indices (Spurious Forgetting's Freeze)."""
    layers = {int(m.group(1)) for n, _ in model.named_parameters() if (m := _LAYER.search(n))}
    if not layers:
        raise ConfigError(f"config key '{where}': the model has no parameters named like 'layers.<i>.'")
    count = int(fraction * len(layers))
    if not 0 < fraction < 1 or count < 1:
        raise ConfigError(f"config key '{where}': {fraction!r} freezes {max(count, 0)} of the model's "
                          f"{len(layers)} decoder layers; give a fraction in (0, 1) that freezes at least one")
    return set(range(count))


def set_trainable(model: nn.Module, groups: list[str], selection: dict | None = None,
                  freeze_bottom: float | None = None, where: str = "freeze_bottom") -> int:
    """Freeze everything, then unfreeze the named groups, less the bottom ``freeze_bottom`` fraction
    of decoder layers; return the trainable parameter count."""
    for group in groups:
        if group not in GROUPS:
            raise ConfigError(f"unknown trainable group '{group}'; known: {', '.join(GROUPS)}")
    chosen: dict[int, nn.Parameter] = {}
    for group in groups:
        for _, p in GROUPS[group](model, selection):
            chosen[id(p)] = p
    if freeze_bottom is not None:
        frozen = bottom_layers(model, freeze_bottom, where)
        for n, p in model.named_parameters():
            if (m := _LAYER.search(n)) and int(m.group(1)) in frozen:
                chosen.pop(id(p), None)
    for p in model.parameters():
        p.requires_grad_(id(p) in chosen)
    return sum(p.numel() for p in chosen.values())
