"""Weight replacement (paper Table 1): the base model with a fine-tuned model's weights in chosen modules.

No training: every parameter of each selected module is copied from the
fine-tuned model into the base model, the rest stays the base model's.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from ..models import load, save_model


def replace_weights(base_dir: str | Path, tuned_dir: str | Path, modules: list[str], out: str | Path,
                    provenance: dict) -> int:
    """Write the replaced model to ``out``; return the number of parameters copied."""
    base, tokenizer = load(base_dir, dtype="float32")
    tuned, _ = load(tuned_dir, dtype="float32")
    tuned_state = tuned.state_dict()
    copied = 0
    for name in modules:
        try:
            module = base.get_submodule(name)
        except AttributeError:
            raise ConfigError(f"selection names module '{name}', which the base model {base_dir} lacks") from None
        for pname, param in module.named_parameters():
            key = f"{name}.{pname}"
            if key not in tuned_state or tuned_state[key].shape != param.shape:
                raise ConfigError(f"{tuned_dir}: no weight '{key}' of the base model's shape; replacement needs a "
                                  f"plain (full or merged-LoRA) fine-tuned model of the same architecture")
            param.data.copy_(tuned_state[key])
            copied += param.numel()
    dtype = provenance.get("dtype") or "float32"
    from ..models import DTYPES

    base.to(DTYPES[dtype])
    save_model(base, tokenizer, out, {**provenance, "parameters_replaced": copied})
    return copied
