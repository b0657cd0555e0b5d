"""One way to write a model folder, used by every rule that saves weights.

``save_model`` writes config, safetensors weights, tokenizer, chat template,
generation config and ``citi_model.json`` (provenance) atomically. Every
folder it writes must load identically with ``AutoModelForCausalLM.from_pretrained``
in this environment and in the OpenCompass environment (transformers 4.x);
``make_portable`` is where the fixes for the older reader belong.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..io import atomic_path, write_json

PROVENANCE = "citi_model.json"


# transformers 5 names the fast tokenizer class differently; 4.x knows only the old name.
TOKENIZER_CLASSES_V5 = {"TokenizersBackend": "PreTrainedTokenizerFast"}


def make_portable(folder: Path) -> None:
    """Add the keys transformers 4.x reads, so both majors load ``folder`` identically.

    transformers 5 writes RoPE settings only as ``rope_parameters``; 4.x ignores that
    key and silently falls back to rope_theta=10000, which changes every logit of a
    model trained with another base (SmolLM2: 100000). It also writes a tokenizer
    class 4.x cannot import, no ``model_input_names`` (4.x then returns token_type_ids
    that generate() rejects) and ``extra_special_tokens`` as a list where 4.x wants a dict. Keys are only added, never changed, so transformers 5 reads the same values.
    """
    folder = Path(folder)
    config_path = folder / "config.json"
    if config_path.exists():
        config = json.loads(config_path.read_text(encoding="utf-8"))
        if _portable_config(config):
            config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tok_path = folder / "tokenizer_config.json"
    if tok_path.exists():
        tok = json.loads(tok_path.read_text(encoding="utf-8"))
        if _portable_tokenizer(tok):
            tok_path.write_text(json.dumps(tok, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _portable_config(config: dict) -> bool:
    changed = False
    for sub in [config, *(v for v in config.values() if isinstance(v, dict) and "model_type" in v)]:
        rope = sub.get("rope_parameters")
        if isinstance(rope, dict):
            if "rope_theta" in rope and "rope_theta" not in sub:
                sub["rope_theta"] = rope["rope_theta"]
                changed = True
            scaling = {k: v for k, v in rope.items() if k != "rope_theta"}
            if scaling.get("rope_type", "default") != "default" and not sub.get("rope_scaling"):
                sub["rope_scaling"] = {**scaling, "type": scaling["rope_type"]}
                changed = True
        if "dtype" in sub and "torch_dtype" not in sub:
            sub["torch_dtype"] = sub["dtype"]
            changed = True
    return changed


def _portable_tokenizer(tok: dict) -> bool:
    changed = False
    if tok.get("tokenizer_class") in TOKENIZER_CLASSES_V5:
        tok["tokenizer_class"] = TOKENIZER_CLASSES_V5[tok["tokenizer_class"]]
        changed = True
    if "model_input_names" not in tok:  # 4.x's fast tokenizer adds token_type_ids, which generate() rejects
        tok["model_input_names"] = ["input_ids", "attention_mask"]
        changed = True
    extra = tok.get("extra_special_tokens")
    if isinstance(extra, list):
        del tok["extra_special_tokens"]
        tok["additional_special_tokens"] = sorted(set(tok.get("additional_special_tokens") or []) | set(extra))
        changed = True
    return changed


def save_model(model, tokenizer, out_dir: str | Path, provenance: dict, extra_files: dict[str, str] | None = None) -> Path:
    """Save ``model`` and ``tokenizer`` into ``out_dir`` as a whole, with ``provenance`` beside them.

    ``extra_files`` maps file names to text written into the folder (e.g. remote modeling code).
    """
    out_dir = Path(out_dir)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        model.save_pretrained(tmp, max_shard_size="5GB")
        tokenizer.save_pretrained(tmp)
        if getattr(model, "generation_config", None) is not None:
            model.generation_config.save_pretrained(tmp)
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
        make_portable(tmp)
        write_json(tmp / PROVENANCE, provenance)
        for f in tmp.rglob("*"):  # save_pretrained leaves weights owner-only; colleagues must read them
            if f.is_file():
                f.chmod(0o644)
    return out_dir
