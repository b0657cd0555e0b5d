"""The injector: find the configured nn.Linear modules and swap MOLoRA layers in."""

from __future__ import annotations

import torch.nn as nn

from ...errors import ConfigError
from .config import MoloraConfig
from .layer import inject_layers, is_molora_layer, layer_settings
from .modeling_molora import CONFIG_KEY


def inject_molora(model: nn.Module, cfg: MoloraConfig) -> nn.Module:
    """Replace every ``cfg.target_modules`` entry of ``model`` in place; record ``cfg`` in ``model.config``.

    Base parameters are reused as they are (values, names and requires_grad untouched); the new
    parameters (``molora_router``, ``molora_A``, ``molora_B``) require grad. Which parts train is
    the trainer's choice (``molora_parameters``).
    """
    if not cfg.target_modules:
        raise ConfigError("molora.target_modules: empty; name at least one nn.Linear module")
    modules = dict(model.named_modules())
    for i, name in enumerate(cfg.target_modules):
        module = modules.get(name)
        if module is None or not isinstance(module, nn.Linear) or is_molora_layer(module):
            linears = [n for n, m in modules.items() if isinstance(m, nn.Linear) and not is_molora_layer(m)]
            what = ("no such module" if module is None else "already a MOLoRA layer" if is_molora_layer(module)
                    else f"a {type(module).__name__}, not nn.Linear")
            raise ConfigError(f"molora.target_modules[{i}] {name!r}: {what}; "
                              f"nn.Linear modules look like {linears[:3]}")
    inject_layers(model, cfg.target_modules, layer_settings(cfg.to_dict()))
    if getattr(model, "config", None) is not None:
        setattr(model.config, CONFIG_KEY, cfg.to_dict())  # saved with the weights: the checkpoint explains itself
    return model


def molora_config_of(model: nn.Module) -> MoloraConfig:
    """The MoloraConfig a model was injected (or reloaded) with."""
    block = getattr(getattr(model, "config", None), CONFIG_KEY, None)
    if block is None:
        raise ConfigError(f"model has no {CONFIG_KEY!r} block in its config: not a MOLoRA model")
    return MoloraConfig.from_dict(dict(block), where=f"config.json {CONFIG_KEY}")
