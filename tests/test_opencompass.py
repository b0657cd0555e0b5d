"""General evaluation through OpenCompass: sandbox, summary parsing, cross-env model folders, end to end."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from citi.evaluation.opencompass.crosscheck import attach, crosscheck_names, prompt_sha256
from citi.evaluation.opencompass.config import check_templates
from citi.evaluation.opencompass.process import _Log
from citi.evaluation.opencompass.run import opencompass_python
from citi.evaluation.opencompass.summary import OpenCompassError, read_item_scores, read_summary
from citi.evaluation.sandbox import Limits, humaneval_program, run_python
from citi.errors import ConfigError, RecordError
from citi.io import read_jsonl, write_json, write_jsonl

REPO = Path(__file__).resolve().parents[1]
FAST = Limits(timeout_s=2.0)


# ---------------------------------------------------------------- sandbox

def test_a_correct_solution_passes_and_a_wrong_one_fails():
    prompt = "def add(a, b):\n"
    test = "def check(f):\n    assert f(2, 3) == 5\n"
    assert run_python(humaneval_program(prompt, "    return a + b\n", test, "add"), FAST).passed
    assert run_python(humaneval_program(prompt, "    return a - b\n", test, "add"), FAST).status == "failed"


def test_an_infinite_loop_is_stopped_at_the_timeout():
    out = run_python("while True:\n    pass\n", FAST)
    assert out.status == "timeout" and out.seconds < 6


def test_a_fork_bomb_is_contained_and_leaves_no_process():
    out = run_python("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n", FAST)
    assert out.status == "timeout" and out.seconds < 4
    left = []  # the whole group is dead; its zombies are re-parented to init, which reaps them in its own time
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            state, _, pgid = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(pgid) == out.pgid and state != "Z":
            left.append(pid)
    assert not left


def test_files_outside_the_sandbox_survive(tmp_path):
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("keep")
    for code in (f"import os\nos.remove({str(sentinel)!r})", f"import shutil\nshutil.rmtree({str(tmp_path)!r})",
                 f"open({str(sentinel)!r}, 'w').write('gone')", f"import subprocess\nsubprocess.run(['rm', {str(sentinel)!r}])",
                 f"import os\nos.system('rm {sentinel}')"):
        assert not run_python(code, FAST).passed, code
    assert sentinel.read_text() == "keep"
    # inside its own working directory the program may write and delete
    assert run_python("open('x', 'w').write('1')\nassert open('x').read() == '1'\n", FAST).passed


def test_a_huge_allocation_fails_inside_the_sandbox():
    out = run_python("x = bytearray(64 * 1024**3)\n", Limits(timeout_s=5.0, memory_mb=512))
    assert out.status == "failed" and "MemoryError" in out.stderr


def test_no_environment_secret_reaches_the_program(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    out = run_python("import os\nprint(os.environ.get('OPENAI_API_KEY'))\n", FAST)
    assert out.passed and out.stdout.strip() == "None"


# ---------------------------------------------------------------- summary and config checks

BENCH = {"gsm8k": {"kind": "gsm8k"}, "humaneval": {"kind": "humaneval"}}


def write_summary(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dataset", "version", "metric", "mode", "m_base"])
        w.writerows(rows)
    return path


def test_summary_numbers_are_read_with_our_metric_names(tmp_path):
    csv_path = write_summary(tmp_path / "s.csv", [["gsm8k", "1d7fe4", "accuracy", "gen", "12.50"],
                                                  ["humaneval", "x", "humaneval_pass@1", "gen", "33.33"]])
    assert read_summary(csv_path, "m_base", BENCH) == {"gsm8k": {"accuracy": 12.5}, "humaneval": {"pass@1": 33.33}}


@pytest.mark.parametrize("rows,named", [
    ([["gsm8k", "-", "-", "-", "-"], ["humaneval", "x", "humaneval_pass@1", "gen", "1.0"]], "gsm8k/-: '-'"),
    ([["humaneval", "x", "humaneval_pass@1", "gen", "1.0"]], "gsm8k: no row"),
])
def test_a_dash_or_missing_cell_is_an_error_naming_it(tmp_path, rows, named):
    with pytest.raises(OpenCompassError, match="unscored") as err:
        read_summary(write_summary(tmp_path / "s.csv", rows), "m_base", BENCH)
    assert named in str(err.value)


def write_results(path, metrics, flags, key="correct"):
    """An OpenCompass 0.5.4 results file: its metrics, then one detail per item, every field a one-run list."""
    details = [{"example_abbr": f"{path.stem}_{i}", "pred": [f"p{i}"], key: [flag]} for i, flag in enumerate(flags)]
    path.write_text(json.dumps({**metrics, "details": details}))
    return path


def test_item_scores_are_read_from_the_details_in_item_order(tmp_path):
    ids = ["q/7", "q/2", "q/5"]
    path = write_results(tmp_path / "ifeval.json", {"accuracy": 33.3333, "constraint_accuracy": 50.0},
                         [False, True, False])
    out = read_item_scores(path, "ifeval", ids, {"accuracy": 33.33, "constraint_accuracy": 50.0})
    # a share of constraints is no mean over items: it gets none
    assert out == {"accuracy": {"q/7": 0.0, "q/2": 100.0, "q/5": 0.0}} and list(out["accuracy"]) == ids
    # our MBPP scorer flags is_correct; its score is our pass@1, its counts are no item mean
    mbpp = write_results(tmp_path / "mbpp.json", {"pass": 2, "score": 100.0}, [True, True], key="is_correct")
    assert read_item_scores(mbpp, "mbpp", ["a", "b"], {"pass": 2, "pass@1": 100.0}) == {
        "pass@1": {"a": 100.0, "b": 100.0}}
    # a benchmark without such a metric needs no details
    assert read_item_scores(tmp_path / "absent.json", "x", ["a"], {"constraint_accuracy": 1.0}) == {}


@pytest.mark.parametrize("flags,metrics,match", [
    ([True, False], {"accuracy": 50.0}, r"x\.json: 2 per-item details for benchmark 'x', which has 3 items"),
    ([True, False, False], {"accuracy": 66.67}, r"x\.json: the per-item scores of benchmark 'x' average 33\.33"),
    ([True, "yes", False], {"accuracy": 33.33}, r"x\.json: detail 1 of benchmark 'x' has no single"),
    (None, {"accuracy": 0.0}, r"x\.json: no per-item details for benchmark 'x'"),
])
def test_details_that_do_not_match_the_items_or_the_summary_are_an_error(tmp_path, flags, metrics, match):
    path = tmp_path / "x.json"
    if flags is None:
        path.write_text(json.dumps(metrics))  # dumped without --dump-eval-details
    else:
        write_results(path, {"accuracy": 0.0}, flags)
    with pytest.raises(OpenCompassError, match=match):
        read_item_scores(path, "x", ["a", "b", "c"], metrics)


def assert_item_scores_contract(m: dict, expected: set):
    """Per-item scores of the ``expected`` metrics: 0 or 100 for each of item_ids, averaging to the metric."""
    assert set(m["item_scores"]) == expected, m["item_scores"]
    for metric, items in m["item_scores"].items():
        assert list(items) == m["item_ids"] and set(items.values()) <= {0.0, 100.0}
        assert sum(items.values()) / len(items) == pytest.approx(m["metrics"][metric], abs=0.01)


def test_recorded_shots_must_match_the_template():
    bench = {"gsm8k": {"kind": "gsm8k", "template": "gsm8k.gsm8k_gen_1d7fe4", "shots": 8}}
    with pytest.raises(ConfigError, match="benchmarks.gsm8k.shots: 8.*has 4"):
        check_templates(bench, {"gsm8k.gsm8k_gen_1d7fe4": {"variable": "gsm8k_datasets", "shots": 4}})
    bench["gsm8k"]["shots"] = 4
    check_templates(bench, {"gsm8k.gsm8k_gen_1d7fe4": {"variable": "gsm8k_datasets", "shots": 4}})


# ---------------------------------------------------------------- the OpenCompass environment

@pytest.fixture(scope="session")
def oc_python() -> str:
    """OpenCompass's interpreter (./bootstrap.sh makes it). Skips without it, except under CI=true."""
    try:
        return opencompass_python({})
    except ConfigError as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires the OpenCompass environment: {e}")
        pytest.skip(str(e))


def read_folder(python: str, folder: Path) -> dict:
    proc = subprocess.run([python, str(REPO / "tests/helpers/crossenv_logits.py"), str(folder)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def smollm2_style_folder(out: Path, portable: bool = True) -> Path:
    """A tiny Llama with SmolLM2's rope_theta (100000, not the 10000 default), saved by transformers 5."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from citi.models import save
    from citi.models.tiny import byte_tokenizer

    torch.manual_seed(0)
    tok = byte_tokenizer()
    config = LlamaConfig(vocab_size=len(tok), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, intermediate_size=128, tie_word_embeddings=True,
                         rope_parameters={"rope_type": "default", "rope_theta": 100000.0},
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    model = LlamaForCausalLM(config)
    if portable:
        return save.save_model(model, tok, out, {"name": "smollm2-style"})
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def assert_same_reading(a: dict, b: dict):
    assert a["transformers"].split(".")[0] != b["transformers"].split(".")[0]  # really two majors
    assert a["text"] == b["text"] and a["ids"] == b["ids"] and a["rope_theta"] == b["rope_theta"]
    diff = max(abs(x - y) for ra, rb in zip(a["logits"], b["logits"]) for x, y in zip(ra, rb))
    assert diff < 1e-4, diff


@pytest.mark.slow
def test_a_materialised_model_reads_identically_in_both_environments(oc_python, tiny_model_dir):
    assert_same_reading(read_folder(sys.executable, tiny_model_dir), read_folder(oc_python, tiny_model_dir))


@pytest.mark.slow
def test_a_smollm2_style_rope_base_survives_the_older_reader(oc_python, tmp_path):
    folder = smollm2_style_folder(tmp_path / "portable")
    main, oc = read_folder(sys.executable, folder), read_folder(oc_python, folder)
    assert main["rope_theta"] == 100000.0
    assert_same_reading(main, oc)
    # the negative control: the same model saved without make_portable is misread (or not read) by 4.x
    raw = smollm2_style_folder(tmp_path / "raw", portable=False)
    proc = subprocess.run([oc_python, str(REPO / "tests/helpers/crossenv_logits.py"), str(raw)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 or json.loads(proc.stdout.strip().splitlines()[-1])["rope_theta"] != 100000.0


# ---------------------------------------------------------------- end to end

@pytest.mark.slow
def test_the_rule_runs_offline_and_its_metrics_equal_the_opencompass_summary(oc_python, tmp_path):
    env = {**os.environ, "CITI_OPENCOMPASS_PYTHON": oc_python, "HF_HUB_OFFLINE": "1"}
    targets = [f"results/eval/tiny/base/{b}/metrics.json"
               for b in ("embedded_math", "embedded_knowledge", "embedded_instruct", "humaneval")]
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path),
                           "--cores", "2", *targets, "--configfile", str(REPO / "config/test.yaml")],
                          cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = next((tmp_path / "results/opencompass/tiny/base/outputs").glob("*/summary/summary_*.csv"))
    with open(summary, newline="") as f:
        cells = {(r["dataset"], r["metric"]): float(r["tiny_base"]) for r in csv.DictReader(f)}
    renamed = {"humaneval_pass@1": "pass@1"}
    for target in targets:
        m = json.loads((tmp_path / target).read_text())
        assert m["scorer"] == "opencompass" and m["engine"]["opencompass"] == "0.5.4"
        assert m["n"] == m["cap"] == len(m["item_ids"]) == 3
        theirs = {renamed.get(metric, metric): v for (ds, metric), v in cells.items() if ds == m["benchmark"]}
        ours = {k: v for k, v in m["metrics"].items() if k != "crosscheck_lm_eval_accuracy"}
        assert ours == theirs and theirs
    # per-item scores for every metric that is a mean over items, lm-eval's cross-check included
    for target, expected in zip(targets, ({"accuracy", "crosscheck_lm_eval_accuracy"}, {"accuracy"}, {"accuracy"},
                                          {"pass@1"})):
        assert_item_scores_contract(json.loads((tmp_path / target).read_text()), expected)
    # the test config cross-checks embedded_math with lm-eval: both numbers, the same items and turns
    math = json.loads((tmp_path / targets[0]).read_text())
    check = json.loads((tmp_path / "results/eval/tiny/base/embedded_math/crosscheck_lm_eval.json").read_text())
    assert math["metrics"]["crosscheck_lm_eval_accuracy"] == check["accuracy"] == math["crosscheck"]["accuracy"]
    assert check["item_ids"] == math["item_ids"] and math["crosscheck"]["same_prompts"] is True
    assert math["crosscheck"]["identical_responses"] == 3  # greedy replies agree across the two engines
    gap = abs(math["metrics"]["accuracy"] - check["accuracy"])
    assert math["crosscheck_gap_flag"] is (gap > 10) and math["crosscheck"]["gap_points"] == gap
    # OpenCompass's scratch folders stay in its work dir, not the run directory
    assert not (tmp_path / "tmp").exists() and not (tmp_path / "icl_inference_output").exists()
    data = [json.loads(line)["id"] for line in
            (tmp_path / "results/data/humaneval/heldout.jsonl").read_text().splitlines()[:3]]
    assert json.loads((tmp_path / targets[-1]).read_text())["item_ids"] == data


# ---------------------------------------------------------------- lm-eval cross-check and failures

def oc_record(accuracy, ids=("a", "b")):
    return {"benchmark": "gsm8k", "metrics": {"accuracy": accuracy}, "item_ids": list(ids)}


def crosscheck_result(accuracy, ids=("a", "b"), hashes=("h1", "h2"), responses=("7", "8")):
    return {"accuracy": accuracy, "n": len(ids), "item_ids": list(ids), "shots": 4, "engine": {"lm_eval": "0.4.13"},
            "items": [{"id": i, "prompt_sha256": h, "response": r} for i, h, r in zip(ids, hashes, responses)]}


OC_ITEMS = [{"prompt_sha256": "h1", "prediction": "7\nQuestion: more"}, {"prompt_sha256": "h2", "prediction": "9"}]


@pytest.mark.parametrize("ours,theirs,flag", [(50.0, 38.0, True), (50.0, 60.0, False), (50.0, 40.0, False),
                                              (0.0, 10.5, True)])
def test_the_gap_flag_is_set_only_above_the_threshold(ours, theirs, flag):
    rec = attach(oc_record(ours), crosscheck_result(theirs), "x.json", OC_ITEMS, 10)
    assert rec["metrics"] == {"accuracy": ours, "crosscheck_lm_eval_accuracy": theirs}
    assert rec["crosscheck_gap_flag"] is flag is rec["crosscheck"]["gap_flag"]
    assert rec["crosscheck"]["gap_points"] == abs(ours - theirs) and rec["crosscheck"]["item_ids"] == ["a", "b"]
    # same turns in both engines; replies compared up to where OpenCompass's scoring cuts them
    assert rec["crosscheck"]["same_prompts"] is True and rec["crosscheck"]["identical_responses"] == 1


def test_other_items_or_other_turns_are_caught():
    with pytest.raises(RecordError, match="x.json: scored other items"):
        attach(oc_record(50.0, ids=("a", "c")), crosscheck_result(50.0), "x.json", OC_ITEMS, 10)
    other = [OC_ITEMS[0], {**OC_ITEMS[1], "prompt_sha256": "h3"}]
    assert attach(oc_record(50.0), crosscheck_result(50.0), "x.json", other, 10)["crosscheck"]["same_prompts"] is False
    assert attach(oc_record(50.0), crosscheck_result(50.0), "x.json", None, 10)["crosscheck"]["same_prompts"] is None


def test_the_switch_covers_gsm8k_like_kinds_and_a_benchmark_opts_in_or_out():
    bench = {"g": {"kind": "gsm8k"}, "m": {"kind": "embedded_math", "crosscheck": {"lm_eval": False}},
             "h": {"kind": "humaneval"}}
    assert crosscheck_names(bench, {"crosscheck": {"lm_eval": True}}) == ["g"]
    assert crosscheck_names(bench, {}) == []
    bench["g"]["crosscheck"] = {"lm_eval": True}
    assert crosscheck_names(bench, {"crosscheck": {"lm_eval": False}}) == ["g"]
    bench["h"]["crosscheck"] = {"lm_eval": True}
    with pytest.raises(ConfigError, match="benchmarks.h.crosscheck.lm_eval"):
        crosscheck_names(bench, {})


def math_records(n):
    """Invented GSM8K-style records (our record format)."""
    return [{"id": f"t/{i}", "source": "t", "task": "math", "task_type": 0, "meta": {"answer": str(2 * i)},
             "messages": [{"role": "user", "content": f"What is {i} + {i}?"},
                          {"role": "assistant", "content": f"{i} + {i} = {2 * i}.\n#### {2 * i}"}]} for i in range(n)]


def test_lm_eval_scores_the_capped_items_on_the_turns_it_is_given(tiny_model_dir, tmp_path):
    from citi.evaluation.opencompass.lm_eval import LAST_NUMBER, run_crosscheck
    from citi.evaluation.opencompass.templates import PLACEHOLDER

    split = tmp_path / "test.jsonl"
    write_jsonl(split, math_records(4))
    shot = [{"role": "user", "content": "Question: 1 + 1?\nAnswer:\n"}, {"role": "assistant", "content": "The answer is 2\n"}]
    question = {"role": "user", "content": f"Question: {PLACEHOLDER.format('question')}\nAnswer:\n"}
    torch.manual_seed(0)
    out = run_crosscheck("t", "embedded_math", split, 3, {"messages": [*shot, question], "input_columns": ["question"]},
                         str(tiny_model_dir), max_gen_toks=6, batch_size=2)
    assert out["item_ids"] == ["t/0", "t/1", "t/2"] and out["n"] == 3 and out["shots"] == 1
    # lm-eval built exactly these turns (run_crosscheck also checks its prompt against the chat template)
    assert out["items"][1]["prompt_sha256"] == prompt_sha256(
        [*shot, {"role": "user", "content": "Question: What is 1 + 1?\nAnswer:\n"}])
    assert [item["gold"] for item in out["items"]] == ["0", "2", "4"]
    for item in out["items"]:
        numbers = re.findall(LAST_NUMBER, item["response"])
        assert item["extracted"] == (numbers[-1].strip() if numbers else "[invalid]")
        assert item["correct"] == (item["extracted"].replace(",", "") == item["gold"])
    assert out["accuracy"] == pytest.approx(100.0 * sum(item["correct"] for item in out["items"]) / 3)
    # planted replies with a known score: lm-eval's own filter and exact match must count 2 of 3 right
    from lm_eval.models.huggingface import HFLM

    planted = {"What is 0 + 0?": "0 + 0 = 0.", "What is 1 + 1?": "1 + 1 = 3", "What is 2 + 2?": "2 + 2 is 5, no: 4"}
    reply = lambda req: next(r for q, r in planted.items() if q in req.doc["user"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(HFLM, "generate_until", lambda self, requests, disable_tqdm=False: [reply(q) for q in requests])
        out = run_crosscheck("t", "embedded_math", split, 3, {"messages": [*shot, question], "input_columns": ["question"]},
                             str(tiny_model_dir), max_gen_toks=6, batch_size=2)
    assert [item["response"] for item in out["items"]] == list(planted.values())
    assert [(item["extracted"], item["correct"]) for item in out["items"]] == [("0", True), ("3", False), ("4", True)]
    assert out["accuracy"] == pytest.approx(200.0 / 3)


def test_the_log_excerpt_keeps_the_end_and_the_error_lines_before_it():
    log = _Log()
    log.add("start\n")
    log.add("ValueError: the real cause\n")
    for i in range(100):
        log.add(f"step {i}\r step {i} done\n")  # a progress bar: only its last state is kept
    text = log.excerpt()
    assert "ValueError: the real cause" in text and text.endswith("step 99 done")
    assert "step 10 done" not in text and "start" not in text and "step 99\r" not in text


@pytest.mark.slow
def test_a_failing_opencompass_task_surfaces_its_own_log_tail(oc_python, tiny_model_dir, tmp_path, monkeypatch,
                                                               capsys):
    from citi.evaluation.opencompass.run import run_general_eval

    broken = tmp_path / "broken"  # a folder the OpenCompass env cannot read: the task fails inside OpenCompass
    shutil.copytree(tiny_model_dir, broken)
    cfg = json.loads((broken / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps({**cfg, "model_type": "citi_unknown_arch"}))
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "results/data/m/test.jsonl", math_records(2))
    bench = {"kind": "embedded_math", "dataset": "m", "split": "test", "template": "citi", "shots": 0, "cap": 2,
             "max_out_len": 4}
    config = {"evaluation": {"general": {"opencompass": {**OC_SETTINGS, "python": oc_python},
                                         "benchmarks": {"m": bench}}}}
    with pytest.raises(OpenCompassError) as err:
        run_general_eval(config, "tiny", "base", str(broken), tmp_path / "work", {"m": str(tmp_path / "m.json")})
    # the cause in OpenCompass's own words, in the error, in our (rule) log and in the work dir's log
    assert "citi_unknown_arch" in str(err.value) and "work/logs/opencompass.out" in str(err.value)
    assert "citi_unknown_arch" in capsys.readouterr().out
    assert "citi_unknown_arch" in (tmp_path / "work/logs/opencompass.out").read_text()
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "tmp").exists()


OC_SETTINGS = {"version": "0.5.4", "batch_size": 2, "max_seq_len": 256, "num_gpus": 0, "dtype": "float32"}
OPTIONS = {"math": ("math.math_gen_a58d9d", 4), "mbpp": ("mbpp.mbpp_gen_830460", 3)}  # as the paper configs


@pytest.fixture
def real_math_mbpp(shared_data, tmp_path, monkeypatch) -> dict:
    """The first three real MATH and MBPP test records, as prepared splits under tmp_path (the cwd)."""
    from citi.data import adapters

    monkeypatch.chdir(tmp_path)
    records = {name: adapters.get(name).load(shared_data / name, "test")[:3] for name in OPTIONS}
    for name, recs in records.items():
        write_jsonl(tmp_path / f"results/data/{name}/test.jsonl", recs)
    return records


@pytest.mark.slow
def test_capped_real_math_and_mbpp_load_whole_and_score_in_opencompass(oc_python, real_math_mbpp, tmp_path):
    from citi.evaluation.opencompass.data import write_benchmark

    math, mbpp = (write_benchmark(name, name, f"results/data/{name}/test.jsonl", 2, tmp_path / "cache")
                  for name in OPTIONS)
    answers = [rec["meta"]["answer"] for rec in real_math_mbpp["math"][:2]]
    code = real_math_mbpp["mbpp"][0]["messages"][-1]["content"]
    spec = tmp_path / "spec.json"
    write_json(spec, {
        "math_dir": math["path"], "mbpp_file": mbpp["path"], "templates": [t for t, _ in OPTIONS.values()],
        "math_predictions": [f"So it is $\\boxed{{{answers[0]}}}$.", "So it is $\\boxed{12345}$."],
        "mbpp_predictions": [f"[BEGIN]\n '{code}' \n[DONE]", "[BEGIN]\n 'def nothing():\n    return None' \n[DONE]"]})
    proc = subprocess.run([oc_python, str(REPO / "tests/helpers/opencompass_score.py"), str(spec)], cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO / "src")}, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # OpenCompass's MATH loader reads every capped item and takes the reference from \boxed{}
    assert [row["solution"] for row in out["math_rows"]] == answers and math["n"] == 2
    assert out["math"]["accuracy"] == 50.0
    # OpenCompass's own MBPP loader keeps rows 10-509 of a file: none of these; ours keeps both
    assert out["mbpp_n"] == mbpp["n"] == 2
    assert out["mbpp"]["pass"] == 1 and out["mbpp"]["score"] == 50.0
    assert out["mbpp"]["failed"] + out["mbpp"]["wrong_answer"] == 1
    # the shots recorded in the paper configs are the templates' own
    paper = yaml.safe_load((REPO / "config/paper/base.yaml").read_text())  # every paper setting's layer 1
    for name, (template, shots) in OPTIONS.items():
        bench = paper["evaluation"]["general"]["benchmarks"][name]
        assert bench["template"] == template and bench["shots"] == shots == out["templates"][template]["shots"]


@pytest.mark.slow
def test_a_capped_math_and_mbpp_run_scores_every_item(oc_python, real_math_mbpp, tiny_model_dir, tmp_path):
    from citi.evaluation.opencompass.run import run_general_eval

    benchmarks = {name: {"kind": name, "dataset": name, "split": "test", "template": template, "shots": shots,
                         "cap": 2, "max_out_len": 4} for name, (template, shots) in OPTIONS.items()}
    config = {"evaluation": {"general": {"opencompass": {**OC_SETTINGS, "python": oc_python},
                                         "benchmarks": benchmarks}}}
    metrics = {name: str(tmp_path / f"{name}.json") for name in OPTIONS}
    torch.manual_seed(0)
    scores = run_general_eval(config, "tiny", "base", str(tiny_model_dir), tmp_path / "work", metrics)
    for name, metric in (("math", "accuracy"), ("mbpp", "pass@1")):
        m = json.loads(Path(metrics[name]).read_text())
        assert m["n"] == m["cap"] == 2 and m["item_ids"] == [r["id"] for r in real_math_mbpp[name][:2]]
        assert metric in m["metrics"] and scores[name] == m["metrics"]
        assert_item_scores_contract(m, {metric})
    # every MBPP item was run (in our sandbox): its outcome counts add up to the capped items
    assert sum(scores["mbpp"][k] for k in ("pass", "timeout", "failed", "wrong_answer")) == 2
