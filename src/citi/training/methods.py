"""Build the model a (method, stage) trains, from the config alone.

A method is data, not code: ``adapter`` picks an entry of ``ADAPTERS`` (how to
wrap the model for a stage), ``components`` picks the modules it wraps, each stage's
``trainable`` picks parameter groups (``groups.GROUPS``). Stage 1 starts from the
base model; stage k > 1 continues from stage k-1's checkpoint folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .. import paths
from ..errors import ConfigError

SELECTIVE = ("top", "bottom", "random")


def selection_name(on: str, fraction: float | None, where: str) -> str:
    """The selection a top/bottom/random method uses, e.g. ("top", 0.2) -> "top20"."""
    if fraction is None:
        raise ConfigError(f"config key '{where}.fraction': needed when components is '{on}'")
    return f"{on}{round(fraction * 100)}"


def needed_selections(method: str, spec: dict) -> list[str]:
    """Selection files (``paths.SELECTION`` names) the method reads."""
    names = []
    on = spec.get("components", "all")
    trainable = {g for s in spec.get("stages", []) for g in s["trainable"]}
    if on == "molora_set" or "unfrozen" in trainable:
        names.append("citi")
    if on in SELECTIVE:
        names.append(selection_name(on, spec.get("fraction"), f"methods.{method}"))
    return names


def selection_path(model: str, name: str, spec: dict) -> str:
    """The file of selection ``name``: from the method's named importance estimator, if it has one."""
    if "importance" in spec:
        return paths.ESTIMATOR_SELECTION.format(model=model, estimator=spec["importance"], selection=name)
    return paths.SELECTION.format(model=model, selection=name)


def stage_selection(method: str, spec: dict, selections: dict[str, dict]) -> dict:
    """One dict of module lists (molora, unfrozen, selected) from the method's selection files."""
    merged: dict = {}
    for name in needed_selections(method, spec):
        sel = selections[name]
        merged.update({k: sel[k] for k in ("molora", "unfrozen") if name == "citi" and k in sel})
        if name != "citi":
            merged["selected"] = sel["selected"]
    return merged


def target_modules(method: str, spec: dict, selection: dict) -> list[str] | None:
    """Modules the adapter wraps; None means every linear module of the decoder."""
    on = spec.get("components", "all")
    if on == "all":
        return None
    key = "molora" if on == "molora_set" else "selected"
    if not selection.get(key):
        raise ConfigError(f"methods.{method}: components '{on}' needs the selection's '{key}' modules, and there are none")
    return list(selection[key])


def molora_settings(config: dict, spec: dict) -> dict:
    """The molora section with the method's own overrides (e.g. w/o L_r: null_slot false)."""
    return {**config["molora"], **spec.get("molora", {})}


def has_molora(model) -> bool:
    try:
        from ..methods.molora import is_molora_layer
    except ImportError:  # MOLoRA not installed: no model can have its layers
        return False
    return any(is_molora_layer(m) for m in model.modules())


def _none(model, config, method, spec, stage, selection):
    return model


def _lora(model, config, method, spec, stage, selection):
    if "lora" not in stage["trainable"]:
        return model  # e.g. the UCO stage after a LoRA stage: the LoRA was merged into its checkpoint
    from peft import LoraConfig, get_peft_model

    targets = target_modules(method, spec, selection)
    lora = config["lora"]
    cfg = LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"], bias="none",
                     task_type="CAUSAL_LM", target_modules=targets if targets is not None else "all-linear")
    return get_peft_model(model, cfg)


def _molora(model, config, method, spec, stage, selection):
    from ..methods.molora import MoloraConfig, inject_molora

    if has_molora(model):
        return model  # continuing from an earlier MOLoRA stage
    targets = target_modules(method, spec, selection)
    if targets is None:
        from ..analysis.components import list_components

        targets = [full for _, _, full in list_components(model)]
    s = molora_settings(config, spec)
    inject_molora(model, MoloraConfig(experts=s["experts"], rank=s["rank"], alpha=s["alpha"], dropout=s["dropout"],
                                      null_slot=s["null_slot"], delta=s["delta"], beta=s["beta"],
                                      mask_padding=s["mask_padding"], target_modules=targets))
    return model


@dataclass(frozen=True)
class Adapter:
    prepare: Callable  # (model, config, method, spec, stage, selection) -> model to train
    description: str


ADAPTERS: dict[str, Adapter] = {
    "none": Adapter(_none, "full weights"),
    "lora": Adapter(_lora, "peft LoRA on all linear modules or the selected ones; merged when saved"),
    "molora": Adapter(_molora, "MOLoRA (router + LoRA experts) on the selected modules"),
}


def method_stage(config: dict, method: str, stage: int) -> tuple[dict, dict]:
    """(method spec, stage spec), with errors naming the key."""
    spec = config.get("methods", {}).get(method)
    if spec is None:
        raise ConfigError(f"config key 'methods': no method '{method}'; configured: {', '.join(config.get('methods', {}))}")
    stages = spec.get("stages") or []
    if not 1 <= stage <= len(stages):
        raise ConfigError(f"config key 'methods.{method}.stages': method has {len(stages)} stage(s), no stage {stage}")
    return spec, stages[stage - 1]


def prepare_model(model, config: dict, method: str, stage: int, selection: dict):
    spec, stage_spec = method_stage(config, method, stage)
    adapter = ADAPTERS[spec.get("adapter", "none")]
    return adapter.prepare(model, config, method, spec, stage_spec, selection)
