"""Merge a trained method's model into the base model and save it like a trained stage."""

from __future__ import annotations

from pathlib import Path

import torch

from ...errors import ConfigError
from ...models import DTYPES, load, save_model
from .config import MergeSettings
from .ops import merge_tensor


def merge_models(base_dir: str | Path, tuned_dir: str | Path, settings: MergeSettings, out: str | Path,
                 provenance: dict) -> dict:
    """Write the merged model to ``out`` (in float32 arithmetic, saved in ``provenance['dtype']``);
    return counts of the weights that differ from the base's."""
    base, tokenizer = load(base_dir, dtype="float32")
    tuned, _ = load(tuned_dir, dtype="float32")
    tuned_state = tuned.state_dict()
    generator = torch.Generator().manual_seed(settings.seed)  # DARE's masks: one stream, in parameter order
    moved = total = 0
    with torch.no_grad():
        for name, param in base.named_parameters():  # tied weights once
            other = tuned_state.get(name)
            if other is None or other.shape != param.shape:
                raise ConfigError(f"{tuned_dir}: no weight '{name}' of the base model's shape; merging needs a "
                                  f"plain (full or merged-LoRA) fine-tuned model of the same architecture")
            merged = merge_tensor(param.data, other, settings, generator)
            moved += int((merged != param.data).sum())
            total += param.numel()
            param.data.copy_(merged)
    base.to(DTYPES[provenance.get("dtype") or "float32"])
    stats = {"entries_changed": moved, "entries": total}
    save_model(base, tokenizer, out, {**provenance, "merge_stats": stats})
    return stats
