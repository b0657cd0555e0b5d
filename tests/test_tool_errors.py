"""Call error categories and their rewards (citi.toolcalls.taxonomy): every category is
reached by a planted call, in every call format, and hostile text is never run."""

from __future__ import annotations

import builtins

import pytest

from citi.config import load_config
from citi.errors import ConfigError, RecordError
from citi.toolcalls.taxonomy import (CATEGORIES, DEFAULT_REWARDS, call_reward, classify_call, diagnose,
                                         parse_prediction, reward, same_value)

GOLD = {"api_name": "AddAgenda", "parameters": {"token": "abc", "time": "2023-09-12 14:00", "n": 3}}
DECLARED = {"AddAgenda": ["token", "time", "n", "location"], "GetUserToken": ["username", "password"]}
TOOLS = list(DECLARED)

PLANTED = {
    "format_error": "I think you should add an agenda item.",
    "tool_hallucination": "API-Request: [BookFlight(to='Paris')]",
    "wrong_tool": "API-Request: [GetUserToken(username='jane', password='pw')]",
    "parameter_hallucination": "[AddAgenda(token='abc', time='2023-09-12 14:00', n=3, colour='red')]",
    "redundant_or_missing_parameters": "[AddAgenda(token='abc', time='2023-09-12 14:00')]",
    "wrong_content": "[AddAgenda(token='abc', time='2023-09-12 15:00', n=3)]",
    "exact_match": "API-Request: [AddAgenda(token='abc', time='2023-09-12 14:00', n=3)]->success",
}


@pytest.mark.parametrize("category", CATEGORIES)
def test_each_category_is_hit_by_a_planted_call(category):
    assert classify_call(PLANTED[category], GOLD, DECLARED) == category


def test_every_category_has_its_spec_reward():
    got = {c: call_reward(PLANTED[c], GOLD, DECLARED) for c in CATEGORIES}
    assert got == {"format_error": -2.0, "tool_hallucination": -2.0, "wrong_tool": -1.5,
                   "parameter_hallucination": -0.8, "redundant_or_missing_parameters": -0.5,
                   "wrong_content": -0.25, "exact_match": 1.0}


@pytest.mark.parametrize("call, key, value", [
    ("[AddAgenda(colour='red', location='x')]", "hallucinated_redundant_and_missing", -1.8),  # H, R, M
    ("[AddAgenda(token='abc', time='2023-09-12 14:00', colour='red')]", "hallucinated_and_redundant_or_missing", -1.3),
    ("[AddAgenda(token='abc', time='2023-09-12 14:00', n=3, location='x', colour='red')]",
     "hallucinated_and_redundant_or_missing", -1.3),
    ("[AddAgenda(token='abc', time='2023-09-12 14:00', location='x')]", "redundant_and_missing", -1.0),
    ("[AddAgenda(token='abc', time='2023-09-12 14:00', n=3, location='x')]", "redundant_or_missing_parameters", -0.5),
])
def test_combined_parameter_errors_cost_the_spec_values(call, key, value):
    d = diagnose(call, GOLD, DECLARED)
    assert d.reward_key == key and call_reward(call, GOLD, DECLARED) == value


def test_without_declared_parameters_the_gold_keys_are_the_declared_ones():
    extra = "[AddAgenda(token='abc', time='2023-09-12 14:00', n=3, location='x')]"
    assert classify_call(extra, GOLD, TOOLS) == "parameter_hallucination"  # unknown schema: not declared
    assert classify_call(extra, GOLD, DECLARED) == "redundant_or_missing_parameters"


def test_a_gold_call_with_an_undeclared_parameter_is_still_an_exact_match():
    gold = {"api_name": "TimedSwitch", "parameters": {"device_id": "d1", "time": "08:00"}}
    call = "[TimedSwitch(device_id='d1', time='08:00')]"
    assert classify_call(call, gold, {"TimedSwitch": ["name", "time"]}) == "exact_match"


@pytest.mark.parametrize("text", [
    "Action: AddAgenda\nAction Input: {\"token\": \"abc\", \"time\": \"2023-09-12 14:00\", \"n\": 3}",  # ToolAlpaca
    "Thought: I need a tool.\nAction: AddAgenda\nAction Input: {\"n\": \"3\", \"token\": \" abc \", "
    "\"time\": \"2023-09-12 14:00\"}\nObservation:",
    "AddAgenda\n{\"token\": \"abc\", \"time\": \"2023-09-12 14:00\", \"n\": 3.0}",  # TL-Training raw data
    "AddAgenda(token = 'abc', time=\"2023-09-12 14:00\", n=3)",  # TL-Training template
    "I will call AddAgenda(token='abc', time='2023-09-12 14:00', n=+3) (done).",
    "Let me check(the agenda): AddAgenda(token='abc', time='2023-09-12 14:00', n=3)",  # prose before
    "[AddAgenda(n='3', time='2023-09-12 14:00', token='abc')]",
])
def test_every_call_format_and_value_spelling_reads_as_the_same_call(text):
    assert classify_call(text, GOLD, DECLARED) == "exact_match"


@pytest.mark.parametrize("a, b, equal", [
    (3, "3", True), (3, "3.0", True), (2.5, " 2.5 ", True), (3, "3a", False), ("0012", "12", False),
    (True, "True", True), (True, "true", True), (True, 1, False), (False, "True", False),
    ("Paris", "paris", False), (" Paris ", "Paris", True), (None, "None", True), (None, "", False),
    (["a", 1], "['a', 1]", True), (["a", 1], ["a", "1"], True), (["a", 1], ["a"], False),
    ({"k": [1, {"x": "y"}]}, '{"k": [1, {"x": "y"}]}', True), ({"k": 1}, {"k": 2}, False),
])
def test_value_normalisation_is_only_the_obvious(a, b, equal):
    assert same_value(a, b) is equal and same_value(b, a) is equal


def test_nested_values_and_quotes_in_values_parse():
    text = """[AddMeeting(attendees=['Ann "A" Lee', "O'Brien"], meta={'room': 2, 'tags': ['x', (1, 2)]}, note='a)]b')]"""
    name, params = parse_prediction(text)
    assert name == "AddMeeting"
    assert params == {"attendees": ['Ann "A" Lee', "O'Brien"], "meta": {"room": 2, "tags": ["x", [1, 2]]},
                      "note": "a)]b"}


@pytest.mark.parametrize("text", [
    "[AddAgenda(token=__import__('os').system('touch {marker}'))]",
    "AddAgenda(token=open('{marker}', 'w'))",
    "Action: AddAgenda\nAction Input: __import__('os').system('touch {marker}')",
    "[AddAgenda(token=(lambda: exec(\"open('{marker}', 'w')\"))())]",
    "AddAgenda\n{{\"token\": \"abc\"}} ; import os; os.system('touch {marker}')",
])
def test_hostile_text_is_data_never_code(text, tmp_path, monkeypatch):
    marker = tmp_path / "ran"

    def forbidden(*args, **kwargs):
        raise AssertionError("model output reached eval/exec/compile")

    for fn in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, fn, forbidden)
    category = classify_call(text.format(marker=marker), GOLD, DECLARED)
    assert not marker.exists()
    assert category in CATEGORIES and category != "exact_match"


def test_huge_or_non_text_predictions_are_format_errors():
    assert classify_call("[AddAgenda(token='" + "a" * 50_000 + "')]", GOLD, DECLARED) == "format_error"
    assert classify_call(None, GOLD, DECLARED) == "format_error"
    assert classify_call("f(" * 5000, GOLD, DECLARED) == "format_error"
    assert classify_call("Action: " * 2500, GOLD, DECLARED) == "format_error"  # (a whole-text regex was quadratic here)


def test_rewards_are_overridable_and_bad_keys_are_named():
    assert reward("wrong_tool") == DEFAULT_REWARDS["wrong_tool"] == -1.5
    assert reward("wrong_tool", {"wrong_tool": -3}) == -3.0
    assert reward("exact_match", {"wrong_tool": -3}) == 1.0
    with pytest.raises(ConfigError, match="tl_training.irm.rewards.*wrong_tol"):
        reward("wrong_tool", {"wrong_tol": -3})
    with pytest.raises(ValueError, match="unknown error category"):
        reward("typo")
    with pytest.raises(RecordError, match="parameters"):
        classify_call("[A()]", {"api_name": "A", "parameters": "x=1"}, ["A"])


def test_config_defaults_are_the_reward_defaults():
    config = load_config("config/test.yaml")
    assert config["tl_training"]["irm"]["rewards"] == DEFAULT_REWARDS


# ---- TS / PI / CF on the real benchmarks ----------------------------------------------------------
API_BANK_SPLITS = {"level1_api": "level-1-api.json", "level2_api": "level-2-api.json",
                   "level3_api": "level-3-batch-inf.json"}


def _api_bank(root, split):
    from citi.data.adapters.api_bank import APIBank
    return APIBank().convert([root / "test-data" / API_BANK_SPLITS[split]], split)


def _api_bank_gold(root, rec):
    """The gold call the scorer compares with: the dialogue turn (levels 1-2), level-3.json (level 3)."""
    from citi.evaluation.api_bank.catalog import DIALOGUE_DIRS, catalog
    from citi.evaluation.api_bank.evaluate import dialogue_samples
    from citi.io import read_jsonl
    meta = rec["meta"]
    if meta["level"] == 3:
        gold = catalog(str(root), 3).gold3[int(meta["sample_id"])]["apis"][int(meta["api_id"])]
        return gold["api_name"], gold["input"]
    turns = read_jsonl(root / "lv1-lv2-samples" / DIALOGUE_DIRS[meta["level"]] / meta["file"])
    turn = dialogue_samples(turns)[meta["id"]][1]
    return turn["api_name"], turn["param_dict"]


@pytest.mark.parametrize("split", API_BANK_SPLITS)
def test_api_bank_gold_calls_are_exact_matches_at_every_level(shared_data, split):
    from citi.evaluation.api_bank.call_accuracy import categorize, library, summary
    root = shared_data / "api_bank"
    recs = _api_bank(root, split)
    level = recs[0]["meta"]["level"]
    tools = library(root, level, embedded=False)
    cats = [categorize(r["messages"][-1]["content"], *_api_bank_gold(root, r), tools) for r in recs]
    assert len(cats) == {"level1_api": 399, "level2_api": 135, "level3_api": 245}[split]
    assert summary(cats)["metrics"] == {"TS": 100.0, "PI": 100.0, "CF": 100.0}


def _plant(name, params, category, tools):
    """A wrong call of the given category, made from one real gold call."""
    args = lambda p: ", ".join(f"{k}={v!r}" for k, v in p.items())
    other = next(t for t in tools if t != name)
    undeclared = "not_a_parameter"
    changed = {k: (v + "x" if isinstance(v, str) else "changed") for k, v in params.items()}
    return {"format_error": f"API-Request: {name}(",
            "tool_hallucination": f"[NoSuchApi({args(params)})]",
            "wrong_tool": f"[{other}({args(params)})]",
            "parameter_hallucination": f"[{name}({args({**params, undeclared: '1'})})]",
            "redundant_or_missing_parameters": f"[{name}({args(dict(list(params.items())[1:]))})]",
            "wrong_content": f"[{name}({args(changed)})]",
            "exact_match": f"API-Request: [{name}({args(params)})]"}[category]


@pytest.mark.parametrize("split", ["level1_api", "level3_api"])
def test_api_bank_scorer_reports_ts_pi_cf_of_planted_calls(shared_data, split):
    from citi.evaluation.api_bank import score_split
    from citi.evaluation.api_bank.call_accuracy import library
    root = shared_data / "api_bank"
    recs = _api_bank(root, split)
    tools = library(root, recs[0]["meta"]["level"], embedded=False)
    with_params = [r for r in recs if len(_api_bank_gold(root, r)[1]) >= 2][:len(CATEGORIES)]
    planted = {r["id"]: (c, _plant(*_api_bank_gold(root, r), c, tools)) for r, c in zip(with_params, CATEGORIES)}
    res = score_split(recs, {i: text for i, (_, text) in planted.items()}, root, split)  # the rest: missing
    got = {i["id"]: i["category"] for i in res["per_item"] if i["id"] in planted}
    assert got == {i: c for i, (c, _) in planted.items()}
    n = res["n"]
    # TS holds from parameter_hallucination on (4 of the 7 planted), PI from wrong_content (2), CF at exact (1)
    assert res["metrics"]["TS"] == pytest.approx(100 * 4 / n) and res["metrics"]["PI"] == pytest.approx(100 * 2 / n)
    assert res["metrics"]["CF"] == pytest.approx(100 * 1 / n)
    assert res["call_categories"]["format_error"] == n - 6  # missing predictions count as unreadable


def test_embedded_api_bank_scorer_reports_ts_pi_cf(tmp_path):
    from citi.data.adapters.api_bank import APIBank
    from citi.evaluation.api_bank import score_split
    from citi.synthetic.dialogues import write_api_bank
    write_api_bank(tmp_path, seed=3, n_train=2, n_test=6)
    recs = APIBank().convert([tmp_path / "test-data" / "level-1-api.json"], "level1_api")
    gold = {r["id"]: r["messages"][-1]["content"] for r in recs}
    assert {k: score_split(recs, gold, tmp_path, "level1_api")["metrics"][k] for k in ("TS", "PI", "CF")} == \
        {"TS": 100.0, "PI": 100.0, "CF": 100.0}
    # a real embedded tool, but never the gold one, with the gold arguments
    swapped = {i: t.replace("[GetUserToken(", "[GetWeekday(") if "[GetUserToken(" in t else
               "[GetUserToken(" + t.split("(", 1)[1] for i, t in gold.items()}
    res = score_split(recs, swapped, tmp_path, "level1_api")
    assert res["metrics"]["TS"] == 0.0 and res["call_categories"]["wrong_tool"] == res["n"]


def _toolalpaca(root):
    from citi.data.adapters import get as get_adapter
    from citi.records import finalize
    return [finalize(r, "ta", "eval_real") for r in get_adapter("toolalpaca").load(root, "eval_real")]


def _replay(steps):
    return {"instance": {"input": "", "output": "done", "intermediate_steps": [[[a, i, ""], "obs"] for a, i in steps]}}


def _score_toolalpaca(root, recs, rows):
    from citi.evaluation.toolalpaca import score
    return score(recs, {}, prediction_rows=rows, data_root=root, split="eval_real",
                 evaluation={"toolalpaca": {"judge": False}})


def test_toolalpaca_gold_runs_score_full_ts_pi_cf_but_for_the_unreadable_gold(shared_data):
    root = shared_data / "toolalpaca"
    recs = _toolalpaca(root)
    rows = {r["id"]: _replay([(g["Action"], g["Action_Input"]) for g in r["meta"]["golden_answers"]]) for r in recs}
    res = _score_toolalpaca(root, recs, rows)
    assert res["n"] == 114 and res["call_categories"]["gold_unreadable"] == 4  # CurrencyBeacon, documented
    assert res["metrics"]["TS"] == res["metrics"]["PI"] == res["metrics"]["CF"] == pytest.approx(100 * 110 / 114)
    unread = {i["id"] for i in res["per_item"] if i["gold_unreadable"]}
    assert all(i["CF"] for i in res["per_item"] if i["id"] not in unread)


def test_toolalpaca_planted_first_calls(shared_data):
    import json as _json
    root = shared_data / "toolalpaca"
    recs = [r for r in _toolalpaca(root) if r["meta"]["api_name"] == "Nager.Date"]
    first = {r["id"]: r["meta"]["golden_answers"][0] for r in recs}
    args = lambda i: _json.loads(first[i]["Action_Input"] or "{}")
    ids = [i for i in first if args(i)][:5]
    rows = {ids[0]: _replay([(first[ids[0]]["Action"], _json.dumps({**args(ids[0]), "colour": "red"}))]),
            ids[1]: _replay([("NoSuchFunction", first[ids[1]]["Action_Input"])]),
            ids[2]: _replay([(first[ids[2]]["Action"], _json.dumps({k: "ZZ" for k in args(ids[2])}))]),
            ids[3]: _replay([]),  # no call at all
            ids[4]: _replay([(first[ids[4]]["Action"], " " + first[ids[4]]["Action_Input"])])}
    res = _score_toolalpaca(root, [r for r in recs if r["id"] in ids], rows)
    cats = [next(i for i in res["per_item"] if i["id"] == k)["category"] for k in ids]
    assert cats == ["parameter_hallucination", "tool_hallucination", "wrong_content", "format_error", "exact_match"]
    # procedure_offline, by hand: each planted item's gold is one step; an extra parameter and a leading
    # space still match it, a wrong function, wrong values or no call at all do not: 2 of 5.
    assert all(len(r["meta"]["golden_answers"]) == 1 for r in recs if r["id"] in ids)
    offline = [next(i for i in res["per_item"] if i["id"] == k)["procedure_offline"] for k in ids]
    assert offline == [True, False, False, False, True]
    assert res["metrics"] == pytest.approx({"procedure_offline": 40.0, "TS": 60.0, "PI": 40.0, "CF": 20.0})


def test_an_optional_detail_column_of_an_older_metrics_file_is_an_empty_cell(tmp_path):
    from citi.io import write_json
    from citi.tables import build, spec
    column = spec.Column("TS (embedded tools)", "tool_level1", "TS", "tool", optional=True, plot=False)
    path = tmp_path / "metrics.json"
    write_json(path, {"metrics": {"call_correctness_official": 50.0}, "n": 4})  # scored before TS existed
    assert build.read_cell(path, column)["value"] is None
    with pytest.raises(RecordError, match="metric 'TS'"):
        build.read_cell(path, spec.Column("TS", "tool_level1", "TS", "tool"))
