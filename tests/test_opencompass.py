"""General evaluation through OpenCompass: sandbox, summary parsing, cross-env model folders, end to end."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from citi.evaluation.opencompass_config import check_templates
from citi.evaluation.opencompass_run import opencompass_python
from citi.evaluation.opencompass_summary import OpenCompassError, read_summary
from citi.evaluation.sandbox import Limits, humaneval_program, run_python
from citi.errors import ConfigError

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
    assert out.status == "timeout" and out.seconds < 10
    with pytest.raises(ProcessLookupError):
        os.killpg(out.pgid, 0)  # the whole group is gone


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
        assert m["metrics"] == theirs and theirs
    data = [json.loads(line)["id"] for line in
            (tmp_path / "results/data/humaneval/heldout.jsonl").read_text().splitlines()[:3]]
    assert json.loads((tmp_path / targets[-1]).read_text())["item_ids"] == data
