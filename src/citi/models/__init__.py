"""Materialise a configured model into a plain Hugging Face folder, and load it back.

``materialize(name, spec, out_dir)`` turns one ``models.<name>`` config entry
into a folder that ``AutoModelForCausalLM.from_pretrained`` and
``AutoTokenizer.from_pretrained`` read with no further help: config.json,
*.safetensors, tokenizer files with a chat template, generation_config.json,
plus ``citi_model.json`` saying where it came from. The folder appears whole
or not at all. Source kinds live in ``sources.SOURCES``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..errors import ConfigError, SourceError
from ..io import atomic_path, sha256_file, sha256_text, write_json
from .save import PROVENANCE, make_portable, save_model
from .sources import DTYPES, SOURCES, check_model_files

HASH_LIMIT = 2 * 1024**3  # hashing weights of bigger models costs minutes and tells little

__all__ = ["materialize", "load", "save_model", "read_provenance", "SOURCES", "DTYPES", "PROVENANCE"]


def materialize(name: str, spec: dict, out_dir: str | Path) -> dict:
    """Write model ``name`` described by ``spec`` into ``out_dir``; return its provenance."""
    kind = spec.get("source")
    if kind not in SOURCES:
        raise ConfigError(f"models.{name}.source: unknown source kind {kind!r}; expected one of {sorted(SOURCES)}")
    if spec.get("dtype") is not None and spec["dtype"] not in DTYPES:
        raise ConfigError(f"models.{name}.dtype: {spec['dtype']!r} is not one of {sorted(DTYPES)}")
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        where = SOURCES[kind](name, spec, tmp)
        if spec.get("chat_template"):
            set_chat_template(tmp, spec["chat_template"])
        trust = bool(spec.get("trust_remote_code", False))
        ensure_generation_config(tmp, trust)
        make_portable(tmp)
        check_folder(name, tmp, trust)
        prov = provenance(name, kind, where, tmp, spec)
        write_json(tmp / PROVENANCE, prov)
        for f in tmp.iterdir():  # save_pretrained leaves weights owner-only; colleagues must read them
            if f.is_file() and f.stat().st_nlink == 1:
                f.chmod(0o644)
    return prov


def load(path: str | Path, dtype=None, device: str = "cpu"):
    """(model, tokenizer) from a materialised folder; ``dtype`` a name (``auto``: bf16 where native,
    ``citi.precision.evaluation_dtype``) or torch dtype, else as saved."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    if not path.is_dir():
        raise SourceError(f"{path}: model folder does not exist; run the step that writes it "
                          f"(materialize_model for a base model)")
    fix = f"delete {path} and rerun the step that wrote it (materialize_model for a base model)"
    try:
        trust = read_provenance(path).get("trust_remote_code", False) if (path / PROVENANCE).exists() else False
        if isinstance(dtype, str):
            from ..precision import evaluation_dtype

            dtype = DTYPES[evaluation_dtype(dtype, device)]
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust)
        # device_map puts weights straight on the GPU instead of staging a big model in RAM.
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype or "auto", device_map=device,
                                                     trust_remote_code=trust)
    except Exception:
        # transformers' errors name no file (or the wrong one): say which file is broken, when one is;
        # checked only on failure, because it reads the tokenizer a second time (a third of a second)
        check_model_files(path, fix)
        raise
    return model.eval(), tok


def read_provenance(path: str | Path) -> dict:
    return json.loads((Path(path) / PROVENANCE).read_text(encoding="utf-8"))


def set_chat_template(folder: Path, template: str) -> None:
    """Make ``template`` the one transformers loads: chat_template.jinja wins over the config key."""
    cfg = folder / "tokenizer_config.json"
    if cfg.exists():
        data = json.loads(cfg.read_text(encoding="utf-8"))
        if data.pop("chat_template", None) is not None:
            cfg.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (folder / "chat_template.jinja").write_text(template, encoding="utf-8")


def ensure_generation_config(folder: Path, trust_remote_code: bool = False) -> None:
    """Generation must stop at the tokenizer's end of turn, whatever the source shipped."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
    path = folder / "generation_config.json"
    gen = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    eos = gen.get("eos_token_id")
    eos_ids = eos if isinstance(eos, list) else [] if eos is None else [eos]
    changed = not path.exists()
    if tok.eos_token_id is not None and tok.eos_token_id not in eos_ids:
        gen["eos_token_id"] = [*eos_ids, tok.eos_token_id] if eos_ids else tok.eos_token_id
        changed = True
    if gen.get("pad_token_id") is None and tok.pad_token_id is not None:
        gen["pad_token_id"] = tok.pad_token_id
        changed = True
    if changed:  # small files in the folder are copies, never links, so writing is safe
        path.write_text(json.dumps(gen, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def check_folder(name: str, folder: Path, trust_remote_code: bool = False) -> None:
    """Fail now, naming the model, rather than at the first training step."""
    from transformers import AutoConfig, AutoTokenizer

    if not list(folder.glob("*.safetensors")):
        raise SourceError(f"model '{name}': no *.safetensors weights (only safetensors are supported)")
    try:
        AutoConfig.from_pretrained(folder, trust_remote_code=trust_remote_code)
        tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
    except Exception as e:
        raise SourceError(f"model '{name}': materialised folder does not load: {type(e).__name__}: {e}") from None
    convo = [{"role": "system", "content": "SYS-7"}, {"role": "user", "content": "USER-7"},
             {"role": "assistant", "content": "ASSISTANT-7"}]
    try:
        text = tok.apply_chat_template(convo, tokenize=False)
    except Exception as e:
        raise SourceError(f"model '{name}': the chat template does not render a system/user/assistant "
                          f"conversation ({type(e).__name__}: {e}); set models.{name}.chat_template") from None
    missing = [m["content"] for m in convo if m["content"] not in text]
    if missing or tok.eos_token is None:
        raise SourceError(f"model '{name}': chat template drops {missing} or the tokenizer has no eos token; "
                          f"set models.{name}.chat_template")


def provenance(name: str, kind: str, where: dict, folder: Path, spec: dict) -> dict:
    import transformers
    from safetensors import safe_open

    weights = sorted(folder.glob("*.safetensors"))
    size = sum(f.stat().st_size for f in weights)
    n_params = 0
    for f in weights:  # headers only: counting needs no tensor data
        with safe_open(f, framework="pt") as st:
            for k in st.keys():
                n_params += math.prod(st.get_slice(k).get_shape())
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    template = folder / "chat_template.jinja"
    return {
        "name": name,
        "source": {"kind": kind, **where},
        "dtype": config.get("dtype") or config.get("torch_dtype"),
        "parameters": n_params,
        "weights_bytes": size,
        "sha256": {f.name: sha256_file(f) for f in weights} if size < HASH_LIMIT else None,
        "chat_template_sha256": sha256_text(template.read_text(encoding="utf-8")) if template.exists() else None,
        "trust_remote_code": bool(spec.get("trust_remote_code", False)),
        "transformers_version": transformers.__version__,
    }
