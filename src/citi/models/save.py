"""One way to write a model folder, used by every rule that saves weights.

``save_model`` writes config, safetensors weights, tokenizer, chat template,
generation config and ``citi_model.json`` (provenance) atomically. Every
folder it writes must load identically with ``AutoModelForCausalLM.from_pretrained``
in this environment and in the OpenCompass environment (transformers 4.x);
``make_portable`` is where the fixes for the older reader belong.
"""

from __future__ import annotations

from pathlib import Path

from ..io import atomic_path, write_json

PROVENANCE = "citi_model.json"


def make_portable(folder: Path) -> None:
    """Rewrite files transformers 4.x would read differently (filled in with the OpenCompass env)."""


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
