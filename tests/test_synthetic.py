"""The embedded (generated) data: mock APIs, dialogues, call syntax, general tasks."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from citi.data import adapters
from citi.io import read_jsonl
from citi.records import finalize, validate_record
from citi.synthetic import DEFAULT_SPEC, generate
from citi.synthetic.calc import CalcError, evaluate
from citi.toolcalls.syntax import format_call, parse_call
from citi.synthetic.general import check_constraints
from citi.synthetic.tools import ALL, CATALOGUE, ToolManager
from citi.synthetic.tools.world import USERS

LEVEL_DIRS = ("level-1-given-desc", "level-2-toolsearcher")


@pytest.fixture(scope="module")
def gen(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("embedded")
    generate(root, DEFAULT_SPEC)
    return root


def dialogue_files(root: Path, folder: str) -> list[Path]:
    return sorted(p for d in LEVEL_DIRS for p in (root / "tools" / folder / d).glob("*.jsonl"))


# ---------------------------------------------------------------- mock APIs

def test_catalogue_has_15_described_deterministic_apis():
    assert len(CATALOGUE) >= 15 and "ToolSearcher" in ALL
    user = {"username": USERS[0][0], "password": USERS[0][1], "token": ToolManager().db["Account"][USERS[0][0]]["token"]}
    for cls in CATALOGUE:
        d = cls.describe()
        assert set(d) == {"name", "description", "input_parameters", "output_parameters"} and d["description"]
        assert all(set(p) == {"type", "description"} for p in d["input_parameters"].values())
        if cls.name == "GetUserToken":
            params = {"username": user["username"], "password": user["password"]}
        else:
            params = cls(ToolManager()).ask(random.Random(cls.name), user).params
        a, b = ToolManager().call(cls.name, params), ToolManager().call(cls.name, params)
        assert a == b and a["exception"] is None and set(a) == {"api_name", "input", "output", "exception"}
        assert ToolManager().check(cls.name, a, b)


def test_bad_calls_return_exceptions_never_raise():
    tm = ToolManager()
    assert "Missing" in tm.call("GetWeather", {"city": "Veyra"})["exception"]
    assert "Unknown parameter" in tm.call("GetWeather", {"city": "Veyra", "date": "2024-05-02", "self": 1})["exception"]
    assert "number" in tm.call("ConvertCurrency", {"amount": "lots", "from_currency": "USD", "to_currency": "EUR"})["exception"]
    assert tm.call("NoSuchApi", {})["exception"] == "Unknown API 'NoSuchApi'."
    assert tm.call("QueryBalance", {"token": "forged"})["exception"] == "Invalid token."
    assert tm.call("Calculator", {"formula": "__import__('os')"})["exception"].startswith("Bad formula")
    assert tm.call("BookHotel", {"token": "x", "hotel": "h", "check_in": "a", "check_out": "b", "guests": "2.5"})["exception"]


def test_state_is_per_manager():
    tm = ToolManager()
    token = tm.db["Account"][USERS[0][0]]["token"]
    task = {"token": token, "task": "tune the piano", "due_date": "2024-05-09"}
    assert tm.call("AddTodo", task)["output"] == "success"
    assert tm.call("AddTodo", task)["exception"]  # now a duplicate in this manager
    assert ToolManager().call("AddTodo", task)["output"] == "success"  # a fresh manager is a fresh world


def test_relaxed_checks():
    tm = ToolManager()
    token = tm.db["Account"][USERS[1][0]]["token"]
    gold = tm.call("AddReminder", {"token": token, "content": "Call the dentist today", "time": "2024-05-03 09:00"})
    near = tm.call("AddReminder", {"token": token, "content": "call the dentist", "time": "2024-05-03 09:00"})
    far = tm.call("AddReminder", {"token": token, "content": "buy milk", "time": "2024-05-03 09:00"})
    assert tm.check("AddReminder", near, gold) and not tm.check("AddReminder", far, gold)
    assert tm.check("Calculator", tm.call("Calculator", {"formula": "2 * (3+4)"}), tm.call("Calculator", {"formula": "2*(3+4)"}))
    assert not tm.check("Calculator", tm.call("Calculator", {"formula": "2*3+4"}), tm.call("Calculator", {"formula": "2*(3+4)"}))
    assert tm.check("GetWeather", tm.call("GetWeather", {"city": "veyra", "date": "2024-05-02"}),
                    tm.call("GetWeather", {"city": "Veyra", "date": "2024-05-02"}))
    assert not tm.check("GetWeather", tm.call("GetWeather", {"city": "Veyra", "date": "2024-05-03"}),
                        tm.call("GetWeather", {"city": "Veyra", "date": "2024-05-02"}))


def test_toolsearcher_finds_every_keyword():
    tm = ToolManager()
    for cls in CATALOGUE:
        assert cls.keywords
        for kw in cls.keywords:
            assert tm.call("ToolSearcher", {"keywords": kw})["output"]["name"] == cls.name, kw


def test_calculator_parser_is_safe_and_exact():
    assert evaluate("0.1+0.2") == evaluate("3/10") and evaluate("-(2+3)*4") == -20
    for bad in ["", "2+", "(1", "1/0", "2**3", "a+1", "__import__('os')", "1" * 300]:
        with pytest.raises(CalcError):
            evaluate(bad)


# ---------------------------------------------------------------- dialogues

def test_gold_calls_replay_on_fresh_manager(gen):
    files = dialogue_files(gen, "lv1-lv2-samples") + dialogue_files(gen, "train-samples")
    assert len(files) == 250
    n = 0
    for path in files:
        tm = ToolManager()
        for turn in read_jsonl(path):
            if turn["role"] != "API":
                continue
            res = tm.call(turn["api_name"], turn["param_dict"])
            assert res == turn["result"] and res["exception"] is None, path
            assert tm.check(turn["api_name"], res, turn["result"])
            assert ToolManager().call(turn["api_name"], turn["param_dict"]) == res  # no hidden dependence on earlier calls
            assert parse_call(format_call(turn["api_name"], turn["param_dict"])) == (turn["api_name"], turn["param_dict"])
            n += 1
    assert n > 500


def test_level2_searches_before_each_api(gen):
    for path in dialogue_files(gen, "lv1-lv2-samples"):
        found = set()
        for turn in read_jsonl(path):
            if turn["role"] != "API":
                continue
            if turn["api_name"] == "ToolSearcher":
                assert "level-2" in path.name
                found.add(turn["result"]["output"]["name"])
            elif "level-2" in path.name:
                assert turn["api_name"] in found, path


def test_test_data_matches_dialogues(gen):
    tools = gen / "tools"
    for level in (1, 2):
        api = json.loads((tools / "test-data" / f"level-{level}-api.json").read_text())
        resp = json.loads((tools / "test-data" / f"level-{level}-response.json").read_text())
        assert api and resp
        for row in api:
            assert set(row) == {"file", "id", "instruction", "input", "expected_output"}
            assert row["input"].endswith("Generate API Request:\n") and row["expected_output"].startswith("API-Request: [")
            turns = read_jsonl(tools / "lv1-lv2-samples" / LEVEL_DIRS[level - 1] / row["file"])
            api_turns = [i for i, t in enumerate(turns) if t["role"] == "API"]
            i = api_turns[row["id"] // 2] + row["id"] % 2  # API-Bank's two samples per API turn
            assert parse_call(row["expected_output"]) == (turns[i]["api_name"], turns[i]["param_dict"])
            if level == 2:
                assert '"name": "ToolSearcher"' in row["instruction"] and row["instruction"].count('"name"') == 1
        for row in resp:
            assert "->" in row["input"] and row["input"].endswith("Generate AI Response:\n")
        for rows in (api, resp):  # no item twice: a repeated item would count twice in n
            items = [(r["instruction"], r["input"], r["expected_output"]) for r in rows]
            assert len(set(items)) == len(items)
    train = json.loads((tools / "training-data" / "lv1-api-train.json").read_text())
    assert train and set(train[0]) == {"instruction", "input", "output"}
    assert all(r["output"].startswith("AI: ") for r in json.loads((tools / "training-data" / "lv2-response-train.json").read_text()))
    assert (tools / "init_database" / "Account.json").is_file() and len(json.loads((tools / "apis.json").read_text())) == len(ALL)


def test_tool_splits_disjoint(gen):
    key = lambda p: p.read_text()
    test = {key(p) for p in dialogue_files(gen, "lv1-lv2-samples")}
    train = {key(p) for p in dialogue_files(gen, "train-samples")}
    assert len(test) == 50 and len(train) == 200 and not test & train


# ---------------------------------------------------------------- call syntax

CHARS = "abcXYZ 019'\",()[]{}=\\/-_:;.!?\n\tüéß漢字🙂->"


def rand_value(r: random.Random):
    kind = r.randrange(6)
    if kind == 0:
        return "".join(r.choice(CHARS) for _ in range(r.randrange(0, 20)))
    if kind == 1:
        return r.randint(-10**9, 10**9)
    if kind == 2:
        return r.choice([r.uniform(-1e6, 1e6), r.uniform(-1, 1) * 1e-9, float(r.randint(-50, 50)), 1e300])
    if kind == 3:
        return r.choice([True, False, None])
    if kind == 4:
        return r.choice(["it's", 'say "hi"', "both ' and \"", "a, b", "f(x)", "[Name(k='v')]", ")]", "\\'"])
    return str(r.randint(-99, 99))


def test_format_parse_round_trip():
    r = random.Random(0)
    for _ in range(2000):
        name = r.choice(["Calculator", "Book_Hotel2", "X"])
        params = {f"k{i}": rand_value(r) for i in range(r.randrange(0, 5))}
        text = format_call(name, params)
        assert parse_call(text) == (name, params), text
        assert parse_call(f"API-Request: {text}->{{'status': 'ok'}}") == (name, params)


def test_parse_call_on_hostile_text(tmp_path, monkeypatch):
    import builtins

    def boom(*a, **k):
        raise AssertionError("parse_call evaluated something")
    monkeypatch.setattr(builtins, "eval", boom)
    monkeypatch.setattr(builtins, "exec", boom)
    flag = tmp_path / "pwned"
    hostile = ["__import__('os').system('rm -rf /')", f"[X(a=__import__('pathlib').Path('{flag}').touch())]",
               "[X(a=open('/etc/passwd').read())]", "[X(a=1+1)]", "[X(a=lambda: 0)]", "[X(a='unterminated)]",
               "[X(a=[1,2])]", "[X(a=1, a=2)]", "[X(__class__=().__class__)]", "[X(a={'b': 1})]", "", "[", "[X(", "x" * 30000,
               "[X(a=" + "(" * 5000 + ")]"]
    for text in hostile:
        got = parse_call(text)
        assert got is None or all(v is None or isinstance(v, (str, int, float, bool)) for v in got[1].values()), text
    assert parse_call(hostile[0]) is None and parse_call(hostile[1]) is None
    assert parse_call("[X(a=os.system)]") == ("X", {"a": "os.system"})  # a bare word stays a plain string
    assert not flag.exists()


# ---------------------------------------------------------------- general tasks

STEP = re.compile(r"<<([^=<>]+)=([^<>]+)>>")


def test_math_answers_recompute(gen):
    for split in ("train", "test"):
        for row in read_jsonl(gen / "math" / f"{split}.jsonl"):
            steps = STEP.findall(row["answer"])
            assert steps
            for expr, value in steps:
                assert evaluate(expr) == int(value), row["id"]
            final = row["answer"].rsplit("####", 1)[1].strip()
            assert final == steps[-1][1] == row["final"] and int(final) >= 0


def test_instruct_references_pass_and_violations_fail(gen):
    violate = {
        "bullets": lambda s, c: s + "\n- one more point", "sentences": lambda s, c: s + " Another one here.",
        "paragraphs": lambda s, c: s + "\n\nAn extra paragraph.",
        "include": lambda s, c: re.sub(rf"\b{c['word']}\b", "", s, flags=re.I),
        "exclude": lambda s, c: s + " " + c["word"], "lowercase": lambda s, c: s + " Shout", "uppercase": lambda s, c: s + " quiet",
        "max_words": lambda s, c: s + " word" * c["n"], "starts_with": lambda s, c: "So. " + s, "ends_with": lambda s, c: s + " Bye",
        "no_commas": lambda s, c: s.replace(" ", ", ", 1)}
    seen = set()
    for row in read_jsonl(gen / "instruct" / "test.jsonl") + read_jsonl(gen / "instruct" / "train.jsonl"):
        cons = row["constraints"]
        assert check_constraints(row["response"], cons)["passed"], row["id"]
        for i, c in enumerate(cons):
            seen.add(c["type"])
            bad = check_constraints(violate[c["type"]](row["response"], c), cons)
            assert not bad["passed"] and not bad["results"][i], (row["id"], c)
    assert seen == set(violate)
    with pytest.raises(ValueError):
        check_constraints("x", [{"type": "rhymes"}])


def test_general_splits_disjoint_and_aliases(gen):
    rows = {(t, s): read_jsonl(gen / t / f"{s}.jsonl") for t in ("math", "knowledge", "instruct") for s in ("train", "test")}
    for task, key in (("math", "question"), ("knowledge", "fact"), ("instruct", "instruction")):
        train, test = rows[(task, "train")], rows[(task, "test")]
        assert len(train) == 300 and len(test) == 100
        assert not {r[key] for r in train} & {r[key] for r in test}, task
    for split in ("train", "test"):
        for r in rows[("knowledge", split)]:
            assert r["answer"] in r["aliases"]


def test_embedded_adapters_make_valid_records(gen):
    for name, kind, meta_key in (("embedded_math", "math", "answer"), ("embedded_knowledge", "knowledge", "aliases"),
                                 ("embedded_instruct", "instruct", "constraints")):
        ad = adapters.get(name)
        assert ad.splits == ["train", "test"] and ad.task == kind
        recs = ad.load(gen / kind, "test")
        assert len(recs) == 100
        for rec in recs:
            rec = validate_record(finalize(rec, name, "test"), name, need_target=True)
            assert [m["role"] for m in rec["messages"]] == ["user", "assistant"] and meta_key in rec["meta"]
    math = adapters.get("embedded_math").load(gen / "math", "train")
    assert all(r["meta"]["answer"] == r["messages"][1]["content"].rsplit("#### ", 1)[1] for r in math)


def test_same_spec_same_bytes(gen, tmp_path):
    generate(tmp_path, DEFAULT_SPEC)
    a = sorted(p.relative_to(gen) for p in gen.rglob("*") if p.is_file())
    b = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert a == b and len(a) > 250
    assert all((gen / p).read_bytes() == (tmp_path / p).read_bytes() for p in a)
    other = tmp_path / "other"
    generate(other, {**DEFAULT_SPEC, "seed": 8})
    assert (other / "math" / "test.jsonl").read_bytes() != (gen / "math" / "test.jsonl").read_bytes()
