"""ToolAlpaca: the ReAct agent in each execution mode, the judge's P/R/O and procedure_offline.

Runs on the real eval_real file (a few instructions). The tiny model never writes an action,
so execution is driven by a scripted policy engine that replays the gold calls; the tiny
model itself runs the whole generate -> score path once.
"""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from pathlib import Path

import pytest

from citi.config import load_config
from citi.data.adapters import get as get_adapter
from citi.evaluation import runner
from citi.evaluation.loopback import LoopbackServer
from citi.evaluation.toolalpaca.agent import parse_turn, run_agent
from citi.generation import GenerationSettings
from citi.generation.engine import Output
from citi.io import read_json, read_jsonl, write_jsonl
from citi.records import finalize

REPO = Path(__file__).resolve().parents[1]
SECRET = "s3cr3t-key-value"
PICK = ["0-0", "5-0", "7-1"]  # Nager.Date, weatherstack (keyed), WolframAlpha (keyed)


@pytest.fixture(scope="module")
def dataset(shared_data, tmp_path_factory):
    """A copy of the dataset folder (eval_real + the judge template) and the picked records."""
    root = tmp_path_factory.mktemp("toolalpaca")
    (root / "data").mkdir()
    (root / "prompts").mkdir()
    shutil.copy(shared_data / "toolalpaca/data/eval_real.json", root / "data/eval_real.json")
    shutil.copy(shared_data / "toolalpaca/prompts/Evaluation.txt", root / "prompts/Evaluation.txt")
    records = [finalize(r, "ta", "eval_real") for r in get_adapter("toolalpaca").load(root, "eval_real")]
    picked = [r for r in records if r["id"].rsplit("/", 1)[1] in PICK]
    write_jsonl(root / "split.jsonl", picked)
    return root, picked


@pytest.fixture(scope="module")
def llm(dataset, tmp_path_factory):
    """One scripted loopback server: judge verdicts by instruction, simulator replies otherwise."""
    _, recs = dataset
    instruction = [r["messages"][1]["content"] for r in recs]
    script = {"rules": [
        {"match": instruction[1], "reply": "## Results\nProcess Correctness: No\nFinal Response Correctness: Yes"},
        {"match": instruction[2], "reply": "Looks fine overall."},  # malformed
        {"match": "## Standard Answer", "reply": "## Analysis\nok\n## Results\nProcess Correctness: Yes\n"
                                                 "Final Response Correctness: Yes"},
    ], "default": '{"simulated": true}'}
    path = tmp_path_factory.mktemp("script") / "script.json"
    path.write_text(json.dumps(script))
    with LoopbackServer(script=path) as server:
        yield server.base_url


class Echo(http.server.BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self):
        Echo.seen.append(self.path)
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def live_api(dataset):
    """The APIs' documented servers pointed at a local echo server (no network here)."""
    root, _ = dataset
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    live = root.parent / "live"
    shutil.copytree(root, live, dirs_exist_ok=True)
    apis = json.loads((live / "data/eval_real.json").read_text())
    for api in apis:
        doc = json.loads(api["Documentation"])
        doc["servers"] = [{"url": f"http://127.0.0.1:{server.server_port}/"}]
        api["Documentation"] = json.dumps(doc)
    (live / "data/eval_real.json").write_text(json.dumps(apis))
    yield live
    server.shutdown()


class GoldPolicy:
    """An engine stand-in that calls the gold functions in order, then answers."""

    def __init__(self, records):
        self.gold = {r["messages"][1]["content"]: r["meta"]["golden_answers"] for r in records}
        self.tokenizer = self

    def apply_chat_template(self, messages, **kw):
        return json.dumps(messages)

    def generate(self, prompts, settings):
        outs = []
        for prompt in prompts:
            messages = json.loads(prompt)
            gold, done = self.gold[messages[1]["content"]], sum(m["role"] == "tool" for m in messages)
            text = (f"Thought: step {done}\nAction: {gold[done]['Action']}\nAction Input: {gold[done]['Action_Input']}"
                    if done < len(gold) else "Thought: done\nResponse: here is the answer")
            outs.append(Output(text, len(prompt), len(text), "stop"))
        return outs


def config_for(root, llm_url, execution, **toolalpaca):
    config = load_config(REPO / "config/test.yaml")
    config["datasets"]["ta"] = {"adapter": "toolalpaca", "source": str(root), "splits": {"eval_real": {}}}
    config["evaluation"]["benchmarks"] = {"ta": {"dataset": "ta", "split": "eval_real", "scorer": "toolalpaca",
                                                 "max_new_tokens": 16, "stop": [], "options": {}}}
    config["evaluation"]["judge"].update(base_url=llm_url, model="judge", backoff=0.05)
    config["evaluation"]["simulator"].update(base_url=llm_url, model="simulator", backoff=0.05)
    config["evaluation"]["toolalpaca"].update(execution=execution, **toolalpaca)
    return config


def test_turns_are_parsed_as_calls_or_final_answers():
    assert parse_turn("Thought: x\nAction: Get\nAction Input: {\"a\": 1}")[:2] == ("Get", '{"a": 1}')
    assert parse_turn("Thought: ok\nResponse: It is sunny.") == "It is sunny."
    assert parse_turn("Final Answer: 42\nAction: Late\nAction Input: {}").startswith("42")  # answer comes first
    assert parse_turn("no format at all") == "no format at all"


@pytest.mark.parametrize("execution", ["offline", "simulated", "live"])
def test_each_execution_mode_end_to_end_with_judge_and_offline_procedure(execution, dataset, llm, live_api,
                                                                         tmp_path, monkeypatch):
    root, recs = dataset
    root = live_api if execution == "live" else root
    monkeypatch.setenv("CITI_TEST_WEATHER_KEY", SECRET)
    config = config_for(root, llm, execution, http_timeout=5,
                        credentials={"apilayer weatherstack": {"access_key": "CITI_TEST_WEATHER_KEY"}})
    out, metrics = tmp_path / "predictions.jsonl", tmp_path / "metrics.json"
    Echo.seen.clear()
    run_agent(GoldPolicy(recs), recs, out, GenerationSettings(16, 2), data_root=root, split="eval_real",
              evaluation=config["evaluation"], simulator_url=llm, progress=False)
    rows = read_jsonl(out)
    observations = [step[1] for r in rows for step in r["instance"]["intermediate_steps"]]
    assert all(r["instance"]["output"] == "here is the answer" for r in rows)
    assert [len(r["instance"]["intermediate_steps"]) for r in rows] == [len(r["meta"]["golden_answers"]) for r in recs]
    if execution == "offline":
        assert set(observations) == {config["evaluation"]["toolalpaca"]["offline_observation"]}
    elif execution == "simulated":
        assert set(observations) == {'{"simulated": true}'}
    else:
        assert all('"path"' in o for o in observations) and len(Echo.seen) == len(observations)
        assert any(SECRET in path for path in Echo.seen)  # the key reached the API ...
        assert SECRET not in out.read_text()  # ... but never the results
        assert any("access_key=***" in o for o in observations)

    (tmp_path / "split.jsonl").write_bytes((dataset[0] / "split.jsonl").read_bytes())
    result = runner.score(config, "m", "base", "ta", tmp_path / "split.jsonl", out, metrics)
    assert result["metrics"]["procedure_offline"] == 100.0  # the gold calls, in order
    stats = result["statistics"]
    assert stats["num"] == 3 and stats["error_num"] == 0 and stats["malformed"] == 1
    assert stats["process"] == {"Yes": 1, "No": 1, "Uncertain": 1} and stats["both"] == 1
    assert result["metrics"]["P"] == pytest.approx(100 / 3) and result["metrics"]["R"] == pytest.approx(200 / 3)
    assert result["metrics"]["O"] == pytest.approx(100 / 3)
    written = json.loads(metrics.read_text())
    assert written["item_ids"] == [r["id"] for r in recs] and written["judge"]["failed"] == 0
    assert SECRET not in metrics.read_text()


def test_procedure_offline_fails_a_wrong_parameter_and_a_missing_step(dataset, llm, tmp_path):
    root, recs = dataset
    rows = []
    for k, r in enumerate(recs):
        steps = [[[g["Action"], g["Action_Input"], ""], "obs"] for g in r["meta"]["golden_answers"]]
        if k == 1:
            steps = steps[:-1]  # a gold step missing
        if k == 2:
            steps[0][0][1] = json.dumps({key: "wrong" for key in json.loads(steps[0][0][1])})
        rows.append({"id": r["id"], "prediction": "x",
                     "instance": {"input": "", "output": "x", "intermediate_steps": steps}})
    write_jsonl(tmp_path / "p.jsonl", rows)
    config = config_for(root, llm, "offline", judge=False)
    result = runner.score(config, "m", "base", "ta", root / "split.jsonl", tmp_path / "p.jsonl", tmp_path / "m.json")
    assert [i["procedure_offline"] for i in result["per_item"]] == [True, False, False]
    assert set(result["metrics"]) == {"procedure_offline", "TS", "PI", "CF"}  # no judge: no P/R/O
    first = [(i["TS"], i["PI"], i["CF"]) for i in result["per_item"]]  # first call vs first gold step
    assert first[0] == (True, True, True) and first[2] == (True, True, False)
    assert read_json(tmp_path / "m.json")["metrics"]["CF"] <= 100 * 2 / 3


@pytest.mark.slow
def test_tiny_model_generates_and_is_scored_through_the_runner(dataset, llm, tiny_model_dir, tmp_path):
    root, recs = dataset
    config = config_for(root, llm, "offline", max_steps=2)
    out = tmp_path / "predictions.jsonl"
    runner.generate(config, tiny_model_dir, "ta", root / "split.jsonl", out)
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == [r["id"] for r in recs]
    assert all(r["new_tokens"] > 0 and "intermediate_steps" in r["instance"] for r in rows)
    result = runner.score(config, "tiny", "base", "ta", root / "split.jsonl", out, tmp_path / "metrics.json")
    stats = result["statistics"]
    # instances without a call count toward num, never as Yes
    no_calls = sum(not r["instance"]["intermediate_steps"] for r in rows)
    assert stats["num"] == 3 and stats["error_num"] == no_calls
    assert result["metrics"]["P"] <= 100 * (3 - no_calls) / 3
