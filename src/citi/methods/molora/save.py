"""Write a MOLoRA checkpoint: a full model folder that loads without citi, plus an adapter-only form.

    folder/ config.json (base model_type, "auto_map", "molora")  *.safetensors  tokenizer files
            modeling_molora.py  layer.py          <- remote code, byte-identical to this package's files
            citi_model.json                       <- provenance, "trust_remote_code": true
            adapter/molora_config.json  adapter/adapter.safetensors   <- MOLoRA tensors only
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import save_file

from ...io import atomic_path
from ...models.save import save_model
from .model import molora_config_of
from .modeling_molora import ADAPTER_CONFIG, ADAPTER_DIR, ADAPTER_WEIGHTS, AUTO_MAP, REMOTE_FILES, adapter_state

PACKAGE_DIR = Path(__file__).resolve().parent


def remote_code_files() -> dict[str, str]:
    """{file name: text} of the remote code, read from this package: the single source."""
    return {name: (PACKAGE_DIR / name).read_text(encoding="utf-8") for name in REMOTE_FILES}


def save_molora_model(model, tokenizer, folder: str | Path, provenance: dict) -> Path:
    """Save ``model`` (MOLoRA injected or reloaded) into ``folder`` atomically; return the folder."""
    cfg = molora_config_of(model)
    folder = Path(folder)
    config = model.config
    previous = getattr(config, "auto_map", None)
    config.auto_map = {**(previous or {}), **AUTO_MAP}
    prov = {**provenance, "trust_remote_code": True, "molora": cfg.to_dict()}
    try:
        with atomic_path(folder) as tmp:
            save_model(model, tokenizer, tmp, prov, extra_files=remote_code_files())
            adapter = tmp / ADAPTER_DIR
            adapter.mkdir()
            (adapter / ADAPTER_CONFIG).write_text(json.dumps(cfg.to_dict(), indent=2, sort_keys=True) + "\n",
                                                  encoding="utf-8")
            save_file(adapter_state(model), str(adapter / ADAPTER_WEIGHTS), metadata={"format": "pt"})
            for f in adapter.iterdir():
                f.chmod(0o644)
    finally:
        if previous is None:
            vars(config).pop("auto_map", None)
        else:
            config.auto_map = previous
    return folder
