"""Write a trained stage as a folder that ``from_pretrained(path, trust_remote_code=True)`` loads.

How depends on what the model is: a MOLoRA model goes through
``save_molora_model`` (remote code + weights), a peft LoRA model is saved
MERGED with its small adapter in ``adapter/``, anything else through
``save_model``. The stage's training log and loss curve go in the same folder,
and the whole folder appears at once.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..io import atomic_path, remove_stale_temps
from ..models.save import save_model
from .trainer import write_log

log = logging.getLogger("citi.training")


def is_peft(model) -> bool:
    try:
        from peft import PeftModel
    except ImportError:
        return False
    return isinstance(model, PeftModel)


def save_trained(model, tokenizer, folder: str | Path, provenance: dict, rows: list[dict], title: str) -> Path:
    from .adapters import has_molora

    folder = Path(folder)
    for stale in remove_stale_temps(folder):  # a full model copy a save killed half-way left behind
        log.info("removed %s, left by an interrupted save of %s", stale, folder)
    with atomic_path(folder) as tmp:
        if is_peft(model):
            model.save_pretrained(tmp.parent / "adapter")  # beside, then moved in: save_model wants an empty folder
            merged = model.merge_and_unload()
            save_model(merged, tokenizer, tmp, {**provenance, "merged_adapter": "adapter/"})
            (tmp.parent / "adapter").rename(tmp / "adapter")
        elif has_molora(model):
            from ..methods.molora import save_molora_model

            save_molora_model(model, tokenizer, tmp, {**provenance, "trust_remote_code": True})
        else:
            save_model(model, tokenizer, tmp, provenance)
        write_log(rows, tmp / "training_log.csv", tmp / "loss.png", title)
    return folder

