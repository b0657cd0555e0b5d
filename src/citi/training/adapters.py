"""Wrap the model a (method, stage) trains: the adapters a method names, from the config alone.

A method is data, not code: ``adapter`` picks an entry of ``ADAPTERS`` (how to
wrap the model for a stage), ``components`` picks the modules it wraps, each stage's
``trainable`` picks parameter groups (``groups.GROUPS``). Stage 1 starts from the
base model; stage k > 1 continues from stage k-1's checkpoint folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import ConfigError

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
        from ..importance.components import list_components

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
