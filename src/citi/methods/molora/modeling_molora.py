"""Remote code of a MOLoRA checkpoint: ``AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=True)``.

Shipped verbatim (with ``layer.py``) into every folder ``save_molora_model`` writes, and also the
package's own module, so there is one copy. It must not import citi. It works for any base
architecture transformers knows: config.json keeps the base ``model_type`` (so AutoConfig reads
it as e.g. LlamaConfig) and carries a "molora" block; ``MoloraForCausalLM`` picks the base
causal-LM class from the config at load time and subclasses it with the layers injected.
Written for transformers 4.57 and 5.x alike.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

from .layer import (ADAPTER_NAMES, inject_layers, is_molora_layer, layer_settings, molora_layers,
                    molora_parameters, router_mass, routing_loss)

CONFIG_KEY = "molora"  # the block in config.json
AUTO_MAP = {"AutoModelForCausalLM": "modeling_molora.MoloraForCausalLM"}
ADAPTER_DIR = "adapter"
ADAPTER_CONFIG = "molora_config.json"
ADAPTER_WEIGHTS = "adapter.safetensors"
REMOTE_FILES = ("modeling_molora.py", "layer.py")  # what a folder needs to load without citi

__all__ = ["MoloraForCausalLM", "load_molora_adapter", "adapter_state", "is_molora_layer", "molora_layers",
           "molora_parameters", "router_mass", "routing_loss"]

_CLASSES: dict = {}


def molora_class(base_cls):
    """``base_cls`` (e.g. LlamaForCausalLM) with MOLoRA layers injected after construction."""
    if base_cls not in _CLASSES:
        def post_init(self):
            # The base __init__ ends by calling post_init: inject just before it, so the MOLoRA
            # layers are part of the model when transformers collects its bookkeeping (4.57 checks
            # there that every _keep_in_fp32_modules_strict entry exists).
            block = getattr(self.config, CONFIG_KEY)
            if not any(is_molora_layer(m) for m in self.modules()):
                inject_layers(self, block["target_modules"], layer_settings(block))
            base_cls.post_init(self)

        # Keep the float32 adapter master weights float32 when the model is loaded in bf16/fp16.
        strict = sorted(set(getattr(base_cls, "_keep_in_fp32_modules_strict", None) or []) | set(ADAPTER_NAMES))
        # Named like the stand-in and placed in this module, so that save_pretrained of a reloaded
        # model copies this file and writes an auto_map that resolves back to the stand-in.
        _CLASSES[base_cls] = type("MoloraForCausalLM", (base_cls,), {
            "post_init": post_init, "__module__": __name__, "__qualname__": "MoloraForCausalLM",
            "_keep_in_fp32_modules_strict": strict,
        })
    return _CLASSES[base_cls]


class MoloraForCausalLM:
    """Stand-in named in auto_map: it becomes the real class once the config says the architecture."""

    _auto_class = "AutoModelForCausalLM"

    @classmethod
    def register_for_auto_class(cls, auto_class="AutoModelForCausalLM"):
        cls._auto_class = auto_class if isinstance(auto_class, str) else auto_class.__name__

    @classmethod
    def resolve(cls, config):
        if getattr(config, CONFIG_KEY, None) is None:
            raise ValueError(f"config of model_type {config.model_type!r} has no {CONFIG_KEY!r} block")
        try:
            base_cls = MODEL_FOR_CAUSAL_LM_MAPPING[type(config)]
        except KeyError:
            raise ValueError(f"transformers has no causal-LM class for model_type {config.model_type!r}") from None
        model_cls = molora_class(base_cls)
        model_cls.register_for_auto_class(cls._auto_class)
        return model_cls

    @classmethod
    def from_pretrained(cls, path, *args, config=None, **kwargs):
        if config is None:
            from transformers import AutoConfig
            config = AutoConfig.from_pretrained(path, trust_remote_code=kwargs.get("trust_remote_code"))
        return cls.resolve(config).from_pretrained(path, *args, config=config, **kwargs)

    @classmethod
    def _from_config(cls, config, **kwargs):
        return cls.resolve(config)._from_config(config, **kwargs)

    from_config = _from_config


def adapter_state(model) -> dict:
    """The MOLoRA tensors only, by their full parameter names (contiguous CPU copies)."""
    return {n: p.detach().to("cpu").contiguous().clone()
            for part in ("router", "experts") for n, p in molora_parameters(model, part)}


def load_molora_adapter(base_model, adapter_dir):
    """Apply an ``adapter/`` folder (molora_config.json + adapter.safetensors) to a plain base model."""
    from safetensors.torch import load_file

    adapter_dir = Path(adapter_dir)
    block = json.loads((adapter_dir / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    inject_layers(base_model, block["target_modules"], layer_settings(block))
    state = load_file(str(adapter_dir / ADAPTER_WEIGHTS))
    expected = {n for part in ("router", "experts") for n, _ in molora_parameters(base_model, part)}
    if set(state) != expected:
        raise ValueError(f"{adapter_dir / ADAPTER_WEIGHTS}: tensors do not match the injected layers; "
                         f"missing {sorted(expected - set(state))[:5]}, unexpected {sorted(set(state) - expected)[:5]}")
    params = dict(base_model.named_parameters())
    with torch.no_grad():
        for name, tensor in state.items():
            params[name].copy_(tensor)
    setattr(base_model.config, CONFIG_KEY, block)
    return base_model
