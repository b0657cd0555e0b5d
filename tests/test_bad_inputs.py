"""Bad input files and settings fail with the project's own error, one line, naming the file, line,
record or config key at fault (issue 21, item 5) instead of a raw traceback from a library."""

from __future__ import annotations

import copy
import gzip
import json
import shutil

import pytest
from conftest import TINY_SPEC

from citi.config import read_config
from citi.data import adapters
from citi.data.sampling import prepare_split
from citi.errors import CitiError, ConfigError, RecordError, SourceError
from citi.io import read_json, read_jsonl, read_table

GSM8K = [{"question": f"Ann has {i} pens and buys 2 more. How many?", "answer": f"{i} + 2 = {i + 2}\n#### {i + 2}"}
         for i in range(3)]
HUMANEVAL = [{"task_id": f"HumanEval/{i}", "prompt": "def f():\n", "canonical_solution": "    return 1\n",
              "test": "assert f() == 1", "entry_point": "f"} for i in range(3)]


def jsonl_bytes(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def gsm8k_dataset(path):
    return {"adapter": "gsm8k", "source": str(path), "revision": None, "splits": {"train": {"n": None, "options": {}}}}


def one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text, text
    return text


# ---------------------------------------------------------------- 1. invalid UTF-8

def test_invalid_utf8_in_jsonl_names_file_line_and_byte(tmp_path):
    path = tmp_path / "train.jsonl"
    good = jsonl_bytes(GSM8K[:2])
    path.write_bytes(good + b'{"question": "caf\xe9", "answer": "1\\n#### 1"}\n')
    with pytest.raises(RecordError) as err:
        adapters.get("gsm8k").load(path, "train")
    text = one_line(err)
    assert f"{path}:3:" in text and "UTF-8" in text and f"byte offset {len(good) + 17}" in text


def test_invalid_utf8_in_json_names_file_line_and_byte(tmp_path):
    path = tmp_path / "code_alpaca_2k.json"
    path.write_bytes(b'[{"instruction": "a", "output": "b"},\n {"instruction": "\xff", "output": "d"}]\n')
    with pytest.raises(RecordError) as err:
        read_table(path)
    text = one_line(err)
    assert f"{path}:2:" in text and "UTF-8" in text and "byte offset 56" in text


# ---------------------------------------------------------------- 2. lone surrogates

def test_lone_surrogate_in_jsonl_names_file_line_and_record(tmp_path):
    path = tmp_path / "HumanEval.jsonl"
    rows = copy.deepcopy(HUMANEVAL)
    rows[1]["prompt"] = "def f():\n    '''\ud800'''\n"  # json.dumps escapes it as \ud800
    path.write_bytes(jsonl_bytes(rows))
    with pytest.raises(RecordError) as err:
        adapters.get("humaneval").load(path, "test")
    text = one_line(err)
    assert f"{path}:2:" in text and "HumanEval/1" in text and "surrogate" in text and "'prompt'" in text


def test_lone_surrogate_fails_at_read_not_at_write(tmp_path):
    path = tmp_path / "train.jsonl"
    rows = copy.deepcopy(GSM8K)
    rows[2]["question"] = "pens \udc00"
    path.write_bytes(jsonl_bytes(rows))
    with pytest.raises(RecordError) as err:
        prepare_split("g", gsm8k_dataset(path), "train", tmp_path / "o.jsonl", tmp_path / "o.json", 1)
    text = one_line(err)
    assert f"{path}:3:" in text and "record 2" in text and "surrogate" in text
    assert not (tmp_path / "o.jsonl").exists()


def test_lone_surrogate_in_json_names_file_line_and_record(tmp_path):
    path = tmp_path / "data.json"
    path.write_text('[\n {"id": "a1", "x": "ok"},\n {"id": "b2", "x": "bad \\udbff"}\n]\n')
    with pytest.raises(RecordError) as err:
        read_json(path)
    text = one_line(err)
    assert f"{path}:3:" in text and "'b2'" in text and "surrogate" in text


def test_escaped_surrogate_pairs_and_plain_text_still_read(tmp_path):
    path = tmp_path / "ok.jsonl"
    path.write_text('{"id": "e", "x": "smile \\ud83d\\ude00 caf\\u00e9", "y": "literal \\\\ud800"}\n', encoding="utf-8")
    assert read_jsonl(path) == [{"id": "e", "x": "smile 😀 café", "y": "literal \\ud800"}]


@pytest.mark.parametrize("escaped", [r"\ud83d", r"\ude00", r"\ud83d\ud83d\ude00", r"\\ud83d\ude00",
                                     r"\ud83d\\ude00", r"x\udfff"])
def test_every_kind_of_lone_surrogate_escape_is_caught(tmp_path, escaped):
    path = tmp_path / "one.jsonl"
    path.write_text('{"id": "ok", "x": "fine \\ud83d\\ude00"}\n{"id": "k", "x": "' + escaped + '"}\n')
    with pytest.raises(RecordError, match=r"one\.jsonl:2: record 1 \(id 'k'\): field 'x' holds a lone surrogate"):
        read_jsonl(path)


# ---------------------------------------------------------------- 3. corrupt .gz

@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_gzip_names_the_file(tmp_path, damage):
    path = tmp_path / "HumanEval.jsonl.gz"
    whole = gzip.compress(jsonl_bytes(HUMANEVAL * 50))
    path.write_bytes(b"this is not gzip" if damage == "garbage" else whole[: len(whole) // 2])
    with pytest.raises(RecordError) as err:
        adapters.get("humaneval").load(tmp_path, "test")
    text = one_line(err)
    assert str(path) in text and "gzip" in text


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_parquet_names_the_file(tmp_path, damage):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    from citi.io import read_table

    path = tmp_path / "train-00000.parquet"
    pd.DataFrame({"question": ["q"] * 50, "answer": ["a"] * 50}).to_parquet(path)
    whole = path.read_bytes()
    path.write_bytes(b"PAR1 not parquet" if damage == "garbage" else whole[: len(whole) // 2])
    with pytest.raises(RecordError) as err:
        read_table(path)
    text = one_line(err)
    assert str(path) in text and "parquet" in text


def test_corrupt_json_gz_names_the_file(tmp_path):
    path = tmp_path / "x.json.gz"
    path.write_bytes(gzip.compress(b'[{"a": 1}]')[:-6])
    with pytest.raises(RecordError, match="x.json.gz"):
        read_json(path)


def test_gzip_data_still_reads(tmp_path):
    path = tmp_path / "HumanEval.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl_bytes(HUMANEVAL)))
    assert len(adapters.get("humaneval").load(tmp_path, "test")) == 3


# ---------------------------------------------------------------- 4-6. model folders

@pytest.fixture
def model_copy(tmp_path, tiny_model_dir):
    folder = tmp_path / "my-model"
    shutil.copytree(tiny_model_dir, folder)
    return folder


def _load(folder):
    from citi.models import load

    return load(folder)


def _local(folder):
    from citi.models import materialize

    return materialize("m", {"source": "local", "path": str(folder)}, folder.parent / "out")


@pytest.mark.parametrize("use", [_load, _local], ids=["load", "local"])
@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_broken_safetensors_names_the_file_and_the_fix(model_copy, use, damage):
    weights = model_copy / "model.safetensors"
    data = weights.read_bytes()
    weights.unlink()  # the copy may share nothing, but never write through into the fixture
    weights.write_bytes(b"" if damage == "empty" else data[: len(data) // 2])
    with pytest.raises(SourceError) as err:
        use(model_copy)
    text = one_line(err)
    assert str(weights) in text and "truncated or corrupt" in text
    # what to do: a materialised folder is rewritten by its step; a user's local copy is theirs to replace
    assert ("delete" in text and "materialize_model" in text) if use is _load else ("models.m.path" in text and "again" in text)
    assert not (model_copy.parent / "out").exists()


@pytest.mark.parametrize("use", [_load, _local], ids=["load", "local"])
def test_folder_without_config_json_names_the_given_folder(model_copy, use):
    (model_copy / "config.json").unlink()
    with pytest.raises(SourceError) as err:
        use(model_copy)
    text = one_line(err)
    assert str(model_copy) in text and "config.json" in text and ".tmp" not in text


@pytest.mark.parametrize("use", [_load, _local], ids=["load", "local"])
@pytest.mark.parametrize("content", ["garbage{", '{"version": "1.0"}'], ids=["not-json", "not-a-tokenizer"])
def test_garbage_tokenizer_json_names_the_file(model_copy, use, content):
    (model_copy / "tokenizer.json").unlink()
    (model_copy / "tokenizer.json").write_text(content)
    with pytest.raises(SourceError) as err:
        use(model_copy)
    text = one_line(err)
    assert str(model_copy / "tokenizer.json") in text and ".tmp" not in text


# ---------------------------------------------------------------- 7. tiny model settings

@pytest.mark.parametrize("change,key", [
    ({"num_heads": 3}, "models.m.tiny.num_heads"),
    ({"num_kv_heads": 3}, "models.m.tiny.num_kv_heads"),
    ({"hidden_size": 72, "num_heads": 8}, "models.m.tiny.hidden_size"),  # head size 9: rotary needs it even
    ({"num_layers": 0}, "models.m.tiny.num_layers"),
    ({"num_layers": -1}, "models.m.tiny.num_layers"),
    ({"hidden_size": 0}, "models.m.tiny.hidden_size"),
    ({"hidden_size": -4}, "models.m.tiny.hidden_size"),
    ({"num_heads": 0}, "models.m.tiny.num_heads"),
    ({"intermediate_size": 0}, "models.m.tiny.intermediate_size"),
    ({"vocab": 10}, "models.m.tiny.vocab"),
    ({"num_layers": "2"}, "models.m.tiny.num_layers"),
])
def test_impossible_tiny_model_names_the_key(tmp_path, change, key):
    from citi.models import materialize

    spec = copy.deepcopy(TINY_SPEC)
    spec["tiny"].update(change)
    with pytest.raises(ConfigError) as err:
        materialize("m", spec, tmp_path / "out")
    assert key in one_line(err)
    assert not (tmp_path / "out").exists()


def test_tiny_model_missing_key_is_named(tmp_path):
    from citi.models import materialize

    spec = copy.deepcopy(TINY_SPEC)
    del spec["tiny"]["intermediate_size"]
    with pytest.raises(ConfigError, match=r"models\.m\.tiny\.intermediate_size"):
        materialize("m", spec, tmp_path / "out")


# ---------------------------------------------------------------- 8. YAML syntax

def test_yaml_syntax_error_names_file_line_and_column(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nmodels:\n  tiny: {source: tiny_random\n  other: 1\nseed: [1\n")
    with pytest.raises(ConfigError) as err:
        read_config(path)
    text = one_line(err)
    assert text.startswith(f"{path}:") and "line " in text and "column " in text and "<unicode string>" not in text


def test_yaml_error_position_is_the_problem_spot(tmp_path):
    path = tmp_path / "tab.yaml"
    path.write_text("name: x\nseed: 1\nmodels:\n\ttiny: 1\n")
    with pytest.raises(ConfigError) as err:
        read_config(path)
    assert f"{path}: line 4, column 1:" in one_line(err)


def test_config_with_invalid_utf8_names_the_file(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: x\ndescription: caf\xe9\n")
    with pytest.raises(ConfigError) as err:
        read_config(path)
    text = one_line(err)
    assert str(path) in text and "line 2" in text and "UTF-8" in text


# ---------------------------------------------------------------- 9. empty split

@pytest.mark.parametrize("content", ["", "\n\n"])
def test_empty_split_file_names_the_file(tmp_path, content):
    path = tmp_path / "train.jsonl"
    path.write_text(content)
    with pytest.raises(RecordError) as err:
        prepare_split("g", gsm8k_dataset(path), "train", tmp_path / "o.jsonl", tmp_path / "o.json", 1)
    text = one_line(err)
    assert str(path) in text and "no records" in text and "'g'" in text
    assert not (tmp_path / "o.jsonl").exists()


def test_one_empty_file_of_a_split_is_still_fine(tmp_path):
    """API-Bank's release has an empty dialogue file among many: only a split with no record fails."""
    folder = tmp_path / "lv1-lv2-samples" / "level-1-given-desc"
    folder.mkdir(parents=True)
    (folder / "Empty-level-1-1.jsonl").write_text("")
    assert adapters.get("api_bank").load(folder / "Empty-level-1-1.jsonl", "dialogues") == []


def test_errors_are_citi_errors():
    assert issubclass(RecordError, CitiError) and issubclass(SourceError, CitiError)
