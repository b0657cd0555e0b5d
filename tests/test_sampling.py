"""Seeded sampling, mixtures, manifests and located errors on bad records."""

from __future__ import annotations

import json

import pytest

from citi.data.mixtures import GENERAL_TASKS, build_mixture
from citi.data.sampling import prepare_split, sample_indices
from citi.errors import ConfigError, RecordError
from citi.io import read_json, read_jsonl, sha256_file, write_jsonl
from citi.records import make_record, message, validate_record


def gsm8k_file(path, n=50):
    rows = [{"question": f"Ann has {i} pens and buys {i + 2} more. How many pens?",
             "answer": f"{i} + {i + 2} = {2 * i + 2}\n#### {2 * i + 2}"} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def dataset(path, n=None, seed=None):
    split = {"n": n, "options": {}}
    if seed is not None:
        split["seed"] = seed
    return {"adapter": "gsm8k", "source": str(path), "revision": None, "splits": {"train": split}}


def test_sample_indices_are_distinct_sorted_and_seeded():
    a = sample_indices(100, 10, seed=1)
    assert a == sorted(set(a)) and len(a) == 10 and all(0 <= i < 100 for i in a)
    assert a == sample_indices(100, 10, seed=1)
    assert a != sample_indices(100, 10, seed=2)
    assert sample_indices(5, None, 1) == sample_indices(5, 50, 1) == [0, 1, 2, 3, 4]


def test_same_config_and_seed_give_byte_identical_files(tmp_path):
    raw = gsm8k_file(tmp_path / "train.jsonl")
    outs = []
    for run in ("a", "b"):
        out, man = tmp_path / run / "train.jsonl", tmp_path / run / "train.manifest.json"
        prepare_split("gsm8k", dataset(raw, n=20), "train", out, man, default_seed=1)
        outs.append((out.read_bytes(), man.read_bytes()))
    assert outs[0] == outs[1]
    other = tmp_path / "c.jsonl"
    prepare_split("gsm8k", dataset(raw, n=20, seed=2), "train", other, tmp_path / "c.json", default_seed=1)
    assert other.read_bytes() != outs[0][0]


def test_manifest_records_provenance(tmp_path):
    raw = gsm8k_file(tmp_path / "train.jsonl")
    out, man = tmp_path / "o.jsonl", tmp_path / "o.json"
    prepare_split("mygsm", dataset(raw, n=7), "train", out, man, default_seed=3)
    info = read_json(man)
    assert info["count"] == 7 and info["available"] == 50 and info["seed"] == 3
    assert info["sha256"] == sha256_file(out)
    assert info["input_files"] == [{"file": "train.jsonl", "sha256": sha256_file(raw)}]
    records = read_jsonl(out)
    assert all(r["id"].startswith("mygsm/train/") and r["source"] == "mygsm" for r in records)


def test_partitions_of_one_file_are_disjoint_and_cover_it(tmp_path):
    """Two splits reading one file (TriviaQA's subsample: knowledge training and evaluation questions)
    keep disjoint slices by position before their seeded samples are drawn."""
    raw = gsm8k_file(tmp_path / "raw.jsonl", n=21)  # not train.jsonl: the train split is written there
    ds = {"adapter": "gsm8k", "source": str(raw), "revision": None,
          "splits": {"train": {"n": 6, "partition": {"parts": 2, "part": 0}},
                     "test": {"n": None, "partition": {"parts": 2, "part": 1}}}}
    questions = {}
    for split in ("train", "test"):
        info = prepare_split("g", ds, split, tmp_path / f"{split}.jsonl", tmp_path / f"{split}.json", default_seed=1)
        questions[split] = {r["messages"][0]["content"] for r in read_jsonl(tmp_path / f"{split}.jsonl")}
        assert info["partition"] == ds["splits"][split]["partition"]
    assert len(questions["train"]) == 6 and len(questions["test"]) == 10  # positions 1, 3, ..., 19
    assert not questions["train"] & questions["test"]
    whole = {r["question"] for r in map(json.loads, raw.read_text().splitlines())}
    assert questions["test"] == {q for i, q in enumerate(sorted(whole, key=lambda q: int(q.split()[2]))) if i % 2}
    assert "partition" not in prepare_split("g", dataset(raw), "train", tmp_path / "o.jsonl", tmp_path / "o.json", 1)
    bad = {**ds, "splits": {"train": {"partition": {"parts": 2, "part": 2}}}}
    with pytest.raises(ConfigError, match=r"datasets\.g\.splits\.train\.partition': part 2"):
        prepare_split("g", bad, "train", tmp_path / "b.jsonl", tmp_path / "b.json", 1)


def test_broken_json_line_names_file_and_line(tmp_path):
    raw = gsm8k_file(tmp_path / "train.jsonl", n=3)
    raw.write_text(raw.read_text() + '{"question": "x", "answer": \n')
    with pytest.raises(RecordError, match=r"train.jsonl:4: broken JSON"):
        prepare_split("g", dataset(raw), "train", tmp_path / "o.jsonl", tmp_path / "o.json", 1)
    assert not (tmp_path / "o.jsonl").exists()  # nothing half-written


def test_missing_field_names_file_record_and_field(tmp_path):
    raw = tmp_path / "train.jsonl"
    raw.write_text(json.dumps({"question": "q", "answer": "#### 1"}) + "\n" + json.dumps({"question": "q"}) + "\n")
    with pytest.raises(RecordError, match=r"train.jsonl: record 1: missing field 'answer'"):
        prepare_split("g", dataset(raw), "train", tmp_path / "o.jsonl", tmp_path / "o.json", 1)


def test_wrong_type_names_the_field(tmp_path):
    raw = tmp_path / "train.jsonl"
    raw.write_text(json.dumps({"question": 7, "answer": "#### 1"}) + "\n")
    with pytest.raises(RecordError, match=r"record 0: field 'question' should be str"):
        prepare_split("g", dataset(raw), "train", tmp_path / "o.jsonl", tmp_path / "o.json", 1)


def test_validate_record_names_the_nested_field():
    rec = make_record(1, "math", [message("user", "q"), {"role": "robot", "content": "a"}])
    rec["source"] = "s"
    with pytest.raises(RecordError, match=r"f.jsonl:3: field 'messages\[1\].role'"):
        validate_record(rec, "f.jsonl:3")


def records(task, n, prefix):
    out = []
    for i in range(n):
        r = make_record(i, task, [message("user", f"{prefix} q{i}"), message("assistant", f"a{i}")])
        out.append({**r, "id": f"{prefix}/train/{i}", "source": prefix})
    return out


def write_task_files(tmp_path):
    tool = tmp_path / "tool.jsonl"
    write_jsonl(tool, [{**r, "messages": [message("system", "tools: X"), *r["messages"]]} for r in records("tool", 10, "tool")])
    general = {}
    for t in GENERAL_TASKS:
        general[t] = tmp_path / f"{t}.jsonl"
        write_jsonl(general[t], records(t, 8, t))
    return tool, general


def test_mixture_has_all_tool_samples_and_n_per_general_task(tmp_path):
    tool, general = write_task_files(tmp_path)
    spec = {"general_per_task": 3, "general_system_prompt": "SYS"}
    info = build_mixture(spec, tool, general, tmp_path / "m.jsonl", tmp_path / "m.json", default_seed=1)
    mixed = read_jsonl(tmp_path / "m.jsonl")
    assert info["parts"] == {"tool": 10, **{t: 3 for t in GENERAL_TASKS}} and len(mixed) == 22
    by_task = {t: [r for r in mixed if r["task"] == t] for t in ("tool", *GENERAL_TASKS)}
    assert len({r["id"] for r in by_task["tool"]}) == 10
    assert all(r["messages"][0] == {"role": "system", "content": "SYS"} for t in GENERAL_TASKS for r in by_task[t])
    assert all(r["messages"][0]["content"] == "tools: X" for r in by_task["tool"])  # own system prompt kept
    assert [r["task"] for r in mixed] != sorted(r["task"] for r in mixed)  # shuffled, not grouped


def test_mixture_is_deterministic_and_tool_only_mixture_has_no_general(tmp_path):
    tool, general = write_task_files(tmp_path)
    a = build_mixture({"general_per_task": 2}, tool, general, tmp_path / "a.jsonl", tmp_path / "a.json", 1)
    b = build_mixture({"general_per_task": 2}, tool, general, tmp_path / "b.jsonl", tmp_path / "b.json", 1)
    assert a["sha256"] == b["sha256"]
    only = build_mixture({"general_per_task": 0}, tool, general, tmp_path / "t.jsonl", tmp_path / "t.json", 1)
    assert only["parts"] == {"tool": 10}


def test_mixture_rejects_a_record_without_an_answer(tmp_path):
    tool, general = write_task_files(tmp_path)
    rows = read_jsonl(tool)
    rows[4]["messages"] = rows[4]["messages"][:-1]
    write_jsonl(tool, rows)
    with pytest.raises(RecordError, match=r"tool.jsonl:5: no assistant turn"):
        build_mixture({"general_per_task": 0}, tool, general, tmp_path / "m.jsonl", tmp_path / "m.json", 1)
    assert not (tmp_path / "m.jsonl").exists()


def test_duplicate_record_ids_are_a_located_error(tmp_path, monkeypatch):
    from citi.data import adapters
    from citi.data.adapters.gsm8k import GSM8K

    class Twice(GSM8K):
        def convert(self, files, split, **options):
            first = super().convert(files, split, **options)[0]
            return [first, first]

    monkeypatch.setattr(adapters, "get", lambda name: Twice())
    raw = gsm8k_file(tmp_path / "train.jsonl", n=2)
    with pytest.raises(RecordError, match=r"dataset 'g' split 'train' record 1: duplicate id 'g/train/0'"):
        prepare_split("g", dataset(raw), "train", tmp_path / "o.jsonl", tmp_path / "o.json", 1)
