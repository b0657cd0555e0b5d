"""Issue 19's real-data reproduction config (config/smollm2-135m-instruct_api-bank-repro.yaml) on a handful of
items with the tiny model, so CI keeps its path alive: the whole DAG of `all` resolves, and a minimal target
(the real data sampled, the mixed training data built, base's level-1 C and TriviaQA answer NLL scored) runs.

The run reads ../shared/data: it skips without it, except under CI=true (the ``shared_data`` fixture).
The real-size DAG is checked too, by test_workflow.py's dry run of every config.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from citi.config import load_config
from citi.tables import spec

from conftest import TINY_SPEC
from test_workflow import snakemake

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config" / "smollm2-135m-instruct_api-bank-repro.yaml"
MODEL = "smollm2-135m-instruct"  # the config's model name, kept so every path and table stays the config's


def tiny(config: dict) -> dict:
    """The same config on the tiny random model and a few items of every split (nothing else changes)."""
    c = copy.deepcopy(config)
    c["models"] = {MODEL: copy.deepcopy(TINY_SPEC)}
    c["generate"] = {"seed": 7, "tools": {"train_dialogues": 4, "test_dialogues": 4},
                     **{t: {"train": 12, "test": 4} for t in ("math", "knowledge", "instruct")}}
    sizes = {("api_bank", "train"): 8, ("triviaqa", "validation"): 6, ("triviaqa", "train"): 8,
             ("codealpaca", "train"): 8, ("gsm8k", "train"): 8, ("embedded_instruct", "train"): 8}
    for name, ds in c["datasets"].items():
        for split, s in ds["splits"].items():
            s["n"] = sizes.get((name, split), 2)
    c["mixtures"]["mixed"]["general_per_task"] = 2
    c["importance"].update(n_per_task=2, batch_size=2, max_length=128)
    c["importance"]["estimators"]["ablation_zero"]["n_per_task"] = 1
    c["representation"]["n_per_task"] = 2
    c["router_analysis"]["n_per_source"] = 2
    c["training"].update(cutoff_len=128, per_device_batch=2)
    c["evaluation"].update(max_new_tokens=8, batch_size=4)
    for bench in c["evaluation"]["benchmarks"].values():
        bench.pop("max_new_tokens", None)
    c["evaluation"]["general"]["opencompass"].update(batch_size=4, max_seq_len=512)
    for bench in c["evaluation"]["general"]["benchmarks"].values():
        bench["max_out_len"] = 8
    return c


@pytest.fixture
def run_dir(shared_data, tmp_path) -> tuple[Path, Path]:
    """A run directory whose ../shared/data is the shared data, and the tiny config file."""
    (tmp_path / "shared").symlink_to(shared_data.parent)
    workdir = tmp_path / "run"
    workdir.mkdir()
    path = tmp_path / "repro-tiny.yaml"
    path.write_text(yaml.safe_dump(tiny(load_config(CONFIG))))
    return workdir, path


def test_the_repro_config_sizes_hold_its_budget_arithmetic():
    """The sizes the config's comment block computes its 4 h from are the sizes it runs."""
    config = load_config(CONFIG)
    splits = config["datasets"]["api_bank"]["splits"]
    calls = [splits[f"level{k}_api"]["n"] for k in (1, 2, 3)]
    assert sum(calls) == 390 >= 385  # 1.96 * sqrt(0.25 / n) <= 0.05
    assert calls == [round(total / 2) for total in (399, 135, 245)]  # half of each level: stratified, proportional
    assert sum(splits[f"level{k}_response"]["n"] for k in (1, 2, 3)) == 64
    assert splits["train"] == {"n": 80, "options": {"levels": [3]}}
    assert config["mixtures"]["mixed"]["general_per_task"] == 20
    assert config["evaluation"]["cap"] is None  # each benchmark scores its whole seeded split
    parts = [config["datasets"]["triviaqa"]["splits"][s]["partition"] for s in ("train", "validation")]
    assert {p["part"] for p in parts} == {0, 1} and {p["parts"] for p in parts} == {2}  # disjoint questions
    assert set(config["all_methods"]) == {"ft", "lora", "ft_dm", "lora_dm", "citi", "citi_ablation"}
    assert config["tables"]["main_methods"] == config["all_methods"]
    assert spec.paper_setting(config)["reference"] == ["llama-3-8b-instruct", "phi-3-mini", "mistral-7b-instruct-v0.2"]
    assert spec.note_path(config) == "docs/results-smollm2-api-bank.md" in spec.targets(config, scope=config["all_methods"])
    text = CONFIG.read_text()
    block = text.split("# Job seconds")[1].split("#   in all")[0]
    stages = [int(m.replace(",", "")) for m in re.findall(r"^#.*?\s{2,}(\d[\d,]*)$", block, re.M)]
    assert len(stages) == 10 and sum(stages) == 13_595, stages  # the block's lines add up to its total
    assert re.search(r"^#\s+in all\s+13,595$", text, re.M)


@pytest.mark.real_data
def test_the_repro_dag_on_the_tiny_model_resolves_every_method_and_the_note(run_dir):
    workdir, config = run_dir
    out = snakemake("all", "-n", "--cores", "2", "-d", str(workdir), "--configfile", str(config)).stdout
    evaluated = set(re.findall(rf"results/eval/{MODEL}/([^/]+)/", out))
    assert evaluated == {"base", "ft", "lora", "ft_dm", "lora_dm", "citi", "citi_ablation"}
    assert re.search(rf"results/importance/{MODEL}/ablation_zero/tool\.csv", out)  # CITI-ablation's named estimator
    for rule in ("prepare_split", "build_mixture", "importance", "select_components", "train_stage",
                 "generate_predictions", "score_predictions", "general_eval", "make_table", "make_verdict",
                 "results_note"):
        assert f"rule {rule}:" in out, rule
    benchmarks = set(re.findall(rf"results/eval/{MODEL}/base/([^/]+)/metrics.json", out))
    assert benchmarks >= {"api_bank_level1_api", "api_bank_level3_response", "nll_tool_calls", "choice_knowledge",
                          "gsm8k", "humaneval", "triviaqa"}
    assert "docs/results-smollm2-api-bank.md" in out


@pytest.mark.real_data
@pytest.mark.slow
def test_the_repro_config_runs_a_minimal_target_on_real_data_with_the_tiny_model(run_dir):
    """About a minute: real splits, the mixed data, and base's level-1 C and TriviaQA answer NLL."""
    workdir, config = run_dir
    targets = ["results/mixtures/mixed.jsonl", f"results/eval/{MODEL}/base/api_bank_level1_api/metrics.json",
               f"results/eval/{MODEL}/base/nll_knowledge/metrics.json"]
    snakemake(*targets, "--cores", "2", "-d", str(workdir), "--configfile", str(config))
    mixed = [json.loads(line) for line in (workdir / targets[0]).read_text().splitlines()]
    assert sum(r["task"] == "tool" for r in mixed) == 8 and len(mixed) == 8 + 4 * 2
    assert any(r["source"] == "api_bank" and "API-Request:" in r["messages"][-1]["content"] for r in mixed)
    train = {r["messages"][0]["content"] for r in map(json.loads, (workdir / "results/data/triviaqa/train.jsonl")
                                                      .read_text().splitlines())}
    held = {r["messages"][0]["content"] for r in map(json.loads, (workdir / "results/data/triviaqa/validation.jsonl")
                                                     .read_text().splitlines())}
    assert train and held and not train & held  # the partition keeps evaluation questions out of training
    c = json.loads((workdir / targets[1]).read_text())
    assert c["n"] == 2 and 0 <= c["metrics"]["call_correctness_official"] <= 100
    assert set(c["item_scores"]["call_correctness_official"].values()) <= {0.0, 100.0}
    nll = json.loads((workdir / targets[2]).read_text())
    assert nll["n"] == 6 and nll["metrics"]["answer_nll"] > 0
