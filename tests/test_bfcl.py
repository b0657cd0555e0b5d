"""BFCL through bfcl-eval's own environment (.venv-bfcl): the loader on the installed data, and the
official checker: gold answers written as predictions score 100, planted errors 0.

The tests that need bfcl-eval skip without its environment (./bootstrap.sh makes .venv-bfcl), except
under CI=true, where they fail. A few items per category keep them well under a minute.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

import pytest

from citi.errors import ConfigError
from citi.evaluation import registry
from citi.evaluation.bfcl import AST_CATEGORIES, CATEGORIES, SPLITS, check_many, format_calls, gold_calls
from citi.evaluation.bfcl.env import bfcl_python, info
from citi.evaluation.runner import check_item_scores
from citi.records import finalize, target_index, validate_record

REPO = Path(__file__).resolve().parents[1]
N_PER_CATEGORY = 12  # items scored per category (the first ones in BFCL's file order)
NO_CALL = "I cannot answer this with the functions I have."


# ---------------------------------------------------------------- without bfcl-eval

def test_gold_calls_take_the_first_option_and_leave_out_optional_parameters():
    gt = [{"math.hypot": {"x": [3, 3.0], "y": [4], "z": ["", 0]}},
          {"f": {"opts": [{"k": ["a", "b"], "skip": ["", 1], "inner": {"deep": [1, 2]}}],
                 "rows": [[{"n": [1]}, {"n": ["", 2]}]], "s": ["it's"], "flag": [True], "gone": [""],
                 "needed": ["", "x"]}}]
    calls = gold_calls(gt, {"f": ["s", "needed"]})
    assert calls == [("math.hypot", {"x": 3, "y": 4}),  # z may be omitted
                     ("f", {"opts": {"k": "a", "inner": {"deep": [1, 2]}}, "rows": [{"n": 1}, {}], "s": "it's",
                            "flag": True, "needed": "x"})]  # '' allowed, but the schema requires it
    assert format_calls(calls) == ("[math.hypot(x=3, y=4), f(opts={'k': 'a', 'inner': {'deep': [1, 2]}}, "
                                   "rows=[{'n': 1}, {}], s=\"it's\", flag=True, needed='x')]")


def test_the_driver_stays_inside_bfcls_environment():
    # driver.py runs in .venv-bfcl: standard library and bfcl_eval only, never citi
    import ast

    tree = ast.parse((REPO / "src/citi/evaluation/bfcl/driver.py").read_text())
    roots = {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    roots |= {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert "citi" not in roots and roots <= {"__future__", "atexit", "copy", "json", "os", "shutil", "sys",
                                             "tempfile", "importlib", "bfcl_eval"}, roots


def test_the_adapter_and_scorer_are_registered():
    from citi.data import adapters

    assert "bfcl" in adapters.names() and adapters.get("bfcl").splits == list(SPLITS)
    assert registry.get("bfcl").__module__ == "citi.evaluation.bfcl"


def test_a_missing_environment_names_the_fix(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="no interpreter"):
        bfcl_python(tmp_path)
    monkeypatch.setenv("CITI_BFCL_PYTHON", str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="CITI_BFCL_PYTHON"):
        bfcl_python()


# ---------------------------------------------------------------- with bfcl-eval

@pytest.fixture(scope="module")
def bfcl_py() -> str:
    """BFCL's interpreter. Skips without it, except under CI=true."""
    try:
        python = bfcl_python()
    except ConfigError as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires the BFCL environment: {e}")
        pytest.skip(str(e))
    return python


@pytest.fixture(scope="module")
def loaded(bfcl_py) -> dict[str, list[dict]]:
    """category -> its records as the adapter makes them (every item of each supported category)."""
    from citi.data import adapters

    adapter = adapters.get("bfcl")
    out = {}
    for category in CATEGORIES:
        files = adapter.files_for(Path(bfcl_py), category)
        out[category] = [finalize(r, "bfcl", category) for r in adapter.convert(files, category)]
    return out


def test_the_installed_version_is_the_pinned_one(bfcl_py):
    pinned = re.search(r"^bfcl-eval==(\S+)", (REPO / "requirements/bfcl.txt").read_text(), re.M).group(1)
    got = info(bfcl_py)
    assert got["version"] == pinned
    assert got["categories"] == list(CATEGORIES)  # driver.py's list is the package's


def test_the_loader_reads_real_bfcl_data(loaded, bfcl_py):
    from citi.data import adapters

    sizes = {c: len(rs) for c, rs in loaded.items()}
    assert sizes["simple_python"] == 400 and sizes["irrelevance"] == 240, sizes
    assert all(n > 0 for n in sizes.values()), sizes
    for category, records in loaded.items():
        assert len({r["id"] for r in records}) == len(records)
        for rec in records[:N_PER_CATEGORY]:
            validate_record(rec, rec["id"])
            meta, turns = rec["meta"], rec["messages"]
            assert rec["task"] == "tool" and meta["category"] == category
            assert rec["id"] == f"bfcl/{category}/{meta['bfcl_id']}"
            assert turns[0]["role"] == "system" and turns[1]["role"] == "user"
            assert all(name in turns[0]["content"] for name in meta["function_names"])  # the schemas
            if category in AST_CATEGORIES:  # the gold turn, in the format the system prompt asks for
                assert turns[-1] == {"role": "assistant",
                                     "content": format_calls(gold_calls(meta["ground_truth"], meta["required"]))}
                assert turns[-1]["content"].startswith("[")
            elif category in IRRELEVANCE:  # the empty call list
                assert turns[-1] == {"role": "assistant", "content": "[]"} and "ground_truth" not in meta
            else:
                assert turns[-1]["role"] == "user" and "ground_truth" not in meta
    # a few live_irrelevance questions hold assistant turns: the gold turn is last, so the pipeline's
    # prompt (the turns before the last assistant turn) is the whole question
    inner = [r for r in loaded["live_irrelevance"] if [m["role"] for m in r["messages"]].count("assistant") > 1]
    assert len(inner) == 8
    assert all(target_index(r) == len(r["messages"]) - 1 and r["messages"][-2]["role"] == "user" for r in inner)
    files = adapters.get("bfcl").files_for(Path(bfcl_py), "non_live")  # questions and possible answers
    assert len(files) == 9 and all(f.is_file() for f in files)


def gold_prediction(rec: dict) -> str:
    if rec["meta"]["category"] in AST_CATEGORIES:
        return format_calls(gold_calls(rec["meta"]["ground_truth"], rec["meta"]["required"]))
    if rec["meta"]["category"] == "live_relevance":  # any decodable call is right
        return f"[{rec['meta']['function_names'][0]}()]"
    return rec["messages"][-1]["content"]  # irrelevance: the gold turn, the empty call list


# Items whose possible answer no prediction can satisfy (bfcl-eval 2026.3.23's data; measured on every
# item: all others of every supported category score 100 with their gold answer). In live_simple a required
# parameter's list of possible values is empty; in live_multiple 507-149-4 a required parameter's only
# possible value is '' (omit it), 862-181-3's answer has a parameter its function lacks, and 964-207-0's
# answer names `question` where the schema requires `statement`.
GOLD_EXCEPTIONS = {"live_simple": {"live_simple_106-63-0", "live_simple_112-68-0"},
                   "live_multiple": {"live_multiple_507-149-4", "live_multiple_862-181-3",
                                     "live_multiple_964-207-0"}}


def gold_records(loaded, category: str) -> list[dict]:
    return loaded[category][:N_PER_CATEGORY] + [r for r in loaded[category]
                                               if r["meta"]["bfcl_id"] in GOLD_EXCEPTIONS.get(category, ())]


PLANTED = ["wrong_function", "wrong_value", "missing_required"]
PLANT_CATEGORIES = ["simple_python", "multiple", "parallel", "parallel_multiple", "live_simple"]
IRRELEVANCE = ["irrelevance", "live_irrelevance"]


def planted_records(loaded, category: str, kind: str) -> list[dict]:
    return [r for r in loaded[category][:3 * N_PER_CATEGORY] if plant(r, kind) is not None][:N_PER_CATEGORY]


def call_on(rec: dict) -> str:
    return f"[{rec['meta']['function_names'][0]}(x=1)]"


@pytest.fixture(scope="module")
def checked(loaded, bfcl_py) -> dict[tuple, dict[str, bool]]:
    """Every prediction set the tests below score, through one checker process (its import takes seconds):
    key -> record id -> valid."""
    sets = {("gold", c): (gold_records(loaded, c), gold_prediction) for c in CATEGORIES}
    sets.update({("planted", c, k): (planted_records(loaded, c, k), lambda r, k=k: plant(r, k))
                 for c in PLANT_CATEGORIES for k in PLANTED})
    sets.update({("call", c): (loaded[c][:N_PER_CATEGORY], call_on) for c in IRRELEVANCE})
    sets[("no_call", "live_relevance")] = (loaded["live_relevance"][:N_PER_CATEGORY], lambda r: NO_CALL)
    sets.update({("text", c): (loaded[c][:N_PER_CATEGORY], lambda r: NO_CALL) for c in IRRELEVANCE})
    keys = list(sets)
    got = check_many(bfcl_py, [(key[1], [{"id": r["meta"]["bfcl_id"], "result": sets[key][1](r)} for r in sets[key][0]])
                               for key in keys])
    return {key: {r["id"]: v[r["meta"]["bfcl_id"]]["valid"] for r in sets[key][0]} for key, v in zip(keys, got)}


@pytest.mark.parametrize("category", CATEGORIES)
def test_gold_answers_score_100(checked, category):
    got = checked[("gold", category)]
    failed = {i.rsplit("/", 1)[-1] for i, ok in got.items() if not ok}
    assert len(got) >= N_PER_CATEGORY
    assert failed == GOLD_EXCEPTIONS.get(category, set())


def plant(rec: dict, kind: str) -> str | None:
    """The gold answer with one error planted; None when the item offers no place for it."""
    calls = gold_calls(rec["meta"]["ground_truth"], rec["meta"]["required"])
    name, args = calls[0]
    if kind == "wrong_function":
        calls[0] = (name + "_x", args)
    elif kind == "wrong_value":
        (key, options), = [(k, v) for k, v in rec["meta"]["ground_truth"][0][name].items() if k in args][:1] or [(None, None)]
        if key is None:
            return None
        value = args[key]
        if isinstance(value, bool):
            new = not value
        elif isinstance(value, (int, float)):
            new = value + 987654
        elif isinstance(value, str):
            new = value + " planted zz"
        else:
            return None
        if new in options:
            return None
        calls[0] = (name, {**args, key: new})
    elif kind == "missing_required":
        required = [k for k in rec["meta"]["required"].get(name, []) if k in args]
        if not required:
            return None
        calls[0] = (name, {k: v for k, v in args.items() if k != required[0]})
    return format_calls(calls)


@pytest.mark.parametrize("category", PLANT_CATEGORIES)
@pytest.mark.parametrize("kind", PLANTED)
def test_planted_errors_score_0(checked, category, kind):
    got = checked[("planted", category, kind)]
    assert len(got) >= 3, f"{category}: no items to plant a {kind} in"
    assert not any(got.values()), [i for i, ok in got.items() if ok]


@pytest.mark.parametrize("category", IRRELEVANCE)
def test_a_call_on_an_irrelevance_item_scores_0(checked, category):
    assert len(checked[("call", category)]) == N_PER_CATEGORY
    assert not any(checked[("call", category)].values())


@pytest.mark.parametrize("category", IRRELEVANCE)
def test_a_plain_answer_on_an_irrelevance_item_scores_100(checked, category):
    assert len(checked[("text", category)]) == N_PER_CATEGORY and all(checked[("text", category)].values())


def test_no_call_on_a_relevance_item_scores_0(checked):
    assert checked[("no_call", "live_relevance")] and not any(checked[("no_call", "live_relevance")].values())


def test_the_pipeline_prepares_and_scores_a_bfcl_benchmark(loaded, bfcl_py, tmp_path):
    """A config with a BFCL dataset and benchmark: validated, the split sampled, scored by runner.score."""
    from citi.config import check_config, read_config
    from citi.data.sampling import prepare_split
    from citi.evaluation.runner import score
    from citi.io import read_json, read_jsonl, write_jsonl

    venv = str(Path(bfcl_py).parents[1])  # the environment folder, as `source: .venv-bfcl` names it
    config = read_config(REPO / "config/test.yaml")
    config["datasets"]["bfcl"] = {"adapter": "bfcl", "source": venv, "splits": {"non_live": {"n": 20}}}
    config["evaluation"]["benchmarks"]["bfcl_non_live"] = {"dataset": "bfcl", "split": "non_live", "scorer": "bfcl",
                                                           "max_new_tokens": 256, "cap": 20}
    config = check_config(config, source="test.yaml + bfcl")
    data = tmp_path / "non_live.jsonl"
    prepare_split("bfcl", config["datasets"]["bfcl"], "non_live", data, tmp_path / "manifest.json", config["seed"])
    manifest = read_json(tmp_path / "manifest.json")
    assert len(manifest["input_files"]) == 9  # BFCL's question and possible-answer files, hashed
    records = read_jsonl(data)
    assert len(records) == 20 and {r["meta"]["category"] for r in records} <= set(SPLITS["non_live"])
    preds = {r["id"]: gold_prediction(r) for r in records}
    wrong = [records[0]["id"], records[1]["id"]]
    preds.update({i: NO_CALL if records[k]["meta"]["category"] != "irrelevance" else call_on(records[k])
                  for k, i in enumerate(wrong)})
    write_jsonl(tmp_path / "predictions.jsonl", [{"id": i, "prediction": p} for i, p in preds.items()])
    result = score(config, "tiny", "base", "bfcl_non_live", data, tmp_path / "predictions.jsonl",
                   tmp_path / "metrics.json")
    check_item_scores(result, "bfcl")  # runner.score checked it too
    assert result["n"] == 20 and result["metrics"]["accuracy"] == 90.0
    assert [i["id"] for i in result["per_item"] if not i["valid"]] == wrong
    assert all(result["item_scores"]["accuracy"][i] == 0.0 for i in wrong)
    cats = {c: [r["id"] for r in records if r["meta"]["category"] == c] for c in SPLITS["non_live"]}
    for c, ids in cats.items():  # one accuracy per category, from its own items
        if ids:
            assert result["metrics"][c] == 100.0 * sum(i not in wrong for i in ids) / len(ids)
            assert set(result["item_scores"][c]) == set(ids)


def test_the_default_configs_bfcl_splits_come_from_env_bfcl_wherever_snakemake_runs(bfcl_py, tmp_path, monkeypatch):
    """The embedded default's BFCL dataset (``source: env:bfcl``) resolves from another working directory,
    through $CITI_BFCL_PYTHON given as an interpreter; non_live_ast holds only the AST categories."""
    from citi.config import read_config
    from citi.data.sampling import prepare_split
    from citi.io import read_json, read_jsonl

    dataset = read_config(REPO / "config/config.yaml")["datasets"]["bfcl"]
    assert dataset["source"] == "env:bfcl" and set(dataset["splits"]) == {"non_live_ast", "irrelevance"}
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CITI_BFCL_PYTHON", bfcl_py)
    spec = {**dataset, "splits": {"non_live_ast": {"n": 30}}}
    prepare_split("bfcl", spec, "non_live_ast", "ast.jsonl", "manifest.json", 1)
    records = read_jsonl("ast.jsonl")
    assert len(records) == 30 and {r["meta"]["category"] for r in records} <= set(SPLITS["non_live_ast"])
    assert "irrelevance" not in SPLITS["non_live_ast"] and set(SPLITS["non_live_ast"]) < set(SPLITS["non_live"])
    files = [f["file"] for f in read_json("manifest.json")["input_files"]]
    assert len(files) == 8 and all(f.startswith("lib/") for f in files)  # relative to the environment's folder
