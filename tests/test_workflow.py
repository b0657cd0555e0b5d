"""The Snakemake workflow: DAG for every config, lint, rule anatomy, end-to-end run."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from citi.config import paper_combinations, paper_configfiles

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
# each config as the --configfile list it runs with: a one-file config, or a paper setting's layers
CONFIGS = ([[p] for p in sorted((REPO / "config").glob("*.yaml")) if p.name != "schema.yaml"]
           + [paper_configfiles(b, t) for b, t in paper_combinations()])


def snakemake(*args, cwd=REPO, check=True):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run([*SNAKEMAKE, "-s", str(REPO / "Snakefile"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


@pytest.mark.parametrize("config", CONFIGS, ids=lambda files: "+".join(str(p.relative_to(REPO)) for p in files))
def test_dry_run_resolves_the_whole_dag(config, tmp_path, request):
    workdir = tmp_path
    if any("../shared/data/" in p.read_text() for p in config):  # a config on the real data, relative to the run directory
        shared = request.getfixturevalue("shared_data")
        (tmp_path / "shared").symlink_to(shared.parent)
        workdir = tmp_path / "run"
    out = snakemake("all", "-n", "--cores", "2", "-d", str(workdir), "--configfile", *map(str, config)).stdout
    assert "materialize_model" in out and "prepare_split" in out and "build_mixture" in out


def test_default_config_is_used_without_configfile(tmp_path):
    out = snakemake("all", "-n", "--cores", "1", "-d", str(tmp_path)).stdout
    assert "results/models/smollm2-135m-instruct" in out


def test_all_builds_the_chosen_methods_and_full_builds_every_method(tmp_path):
    # the default narrows `all` to all_methods (issue 18's time budget); `full` keeps every ablation
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    chosen = {"base", *config["all_methods"]}
    planned = lambda target: set(re.findall(r"results/eval/[^/]+/([^/]+)/",  # noqa: E731
                                            snakemake(target, "-n", "--cores", "1", "-d", str(tmp_path)).stdout))
    in_all, in_full = planned("all"), planned("full")
    assert in_all and in_all <= chosen
    assert in_full == {"base", *config["methods"]} and in_full > in_all
    out = snakemake("all", "-n", "--cores", "1", "-d", str(tmp_path)).stdout
    assert "results/tables/main.csv" in out and "results/tables/extra.csv" in out and "verdict.md" in out
    assert "results/tables/ablations.csv" not in out
    assert "results/tables/baselines.csv" in out and "results/data/bfcl/non_live_ast.jsonl" in out  # issue 22
    named = config["importance"].get("estimators", {})  # no named estimator's importance: no method of `all` uses one
    assert named and not any(f"results/importance/{m}/{e}/" in out for m in config["models"] for e in named)


def test_invalid_config_fails_before_any_job_with_the_key_named(tmp_path):
    config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    config["datasets"]["embedded_math"]["splits"]["train"]["n"] = "twelve"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    proc = snakemake("all", "-n", "--cores", "1", "-d", str(tmp_path), "--configfile", str(bad), check=False)
    assert proc.returncode != 0
    assert "datasets.embedded_math.splits.train.n" in proc.stdout + proc.stderr


@pytest.mark.parametrize("config", [["config/config.yaml"],
                                    [str(p) for p in paper_configfiles("llama-3-8b-instruct", "api-bank")]],
                         ids=["config.yaml", "paper-llama-3-8b-instruct_api-bank"])
def test_lint_is_clean(config):
    proc = snakemake("--lint", "--configfile", *config, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations" in proc.stdout + proc.stderr


def rule_blocks():
    for smk in sorted((REPO / "rules").glob("*.smk")):
        text = smk.read_text()
        for match in re.finditer(r"^rule (\w+):\n((?:    .*\n|\n)*)", text, re.M):
            yield smk, match.group(1), match.group(2)


def test_every_rule_declares_log_benchmark_resources_and_an_existing_conda_env():
    rules = list(rule_blocks())
    assert len(rules) >= 4
    for smk, name, body in rules:
        for directive in ("log:", "benchmark:", "resources:", "conda:", "threads:"):
            assert f"    {directive}" in body, f"{smk.name}: rule {name} has no {directive}"
        env = re.search(r'conda:\n\s+"([^"]+)"', body).group(1)
        assert (smk.parent / env).resolve().is_file(), f"rule {name}: conda env {env} missing"


@pytest.mark.slow
def test_end_to_end_test_config_is_deterministic_and_complete(local_test_run, tmp_path):
    # The whole DAG once (the session's shared run, also compared with SLURM's in test_slurm.py); the
    # data and model stages a second time, to show they are deterministic (training and evaluation
    # determinism have their own tests: resume gives identical weights and predictions).
    a, b = local_test_run, tmp_path / "b"
    config = yaml.safe_load((REPO / "config/test.yaml").read_text())
    upstream = ([f"results/data/{d}/{split}.jsonl" for d, spec in config["datasets"].items() for split in spec["splits"]]
                + [f"results/mixtures/{m}.jsonl" for m in config["mixtures"]] + ["results/models/tiny"])
    snakemake(*upstream, "--cores", "2", "-d", str(b), "--configfile", str(REPO / "config/test.yaml"))
    for dataset, spec in config["datasets"].items():
        for split, split_spec in spec["splits"].items():
            rel = Path("results/data") / dataset / f"{split}.jsonl"
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
            lines = (a / rel).read_text().splitlines()
            manifest = json.loads((a / rel.with_suffix(".manifest.json")).read_text())
            assert len(lines) == manifest["count"] == split_spec["n"] <= manifest["available"], rel
    for mixture in config["mixtures"]:
        rel = Path("results/mixtures") / f"{mixture}.jsonl"
        assert (a / rel).read_bytes() == (b / rel).read_bytes()
    model = a / "results/models/tiny"
    assert (model / "config.json").is_file() and (model / "tokenizer_config.json").is_file()
    assert (model / "model.safetensors").read_bytes() == (b / "results/models/tiny/model.safetensors").read_bytes()
    assert list((a / "results/logs").rglob("*.log")) and list((a / "results/benchmarks").rglob("*.tsv"))
    # the tables: every configured main-table method is a row, and every filled cell comes from a metrics file
    main = json.loads((a / "results/tables/main.sources.json").read_text())
    wanted = ["base", *[m for m in config["tables"]["main_methods"] if m in config["methods"]]]
    assert [r["method"] for r in main["rows"]] == wanted
    filled = [c for r in main["rows"] for c in r["cells"].values() if c["value"] is not None]
    assert filled and all((a / c["path"]).is_file() for c in filled if isinstance(c["path"], str))
    # every filled main cell carries its n and a 95% interval around its value (issue 18)
    assert all(c["n"] and c["lo"] <= c["value"] <= c["hi"] for c in filled), [c for c in filled if "lo" not in c]
    assert all((a / f"results/tables/{t}.csv").is_file() for t in ("main", "extra", "ablations", "analysis"))
    assert {c["name"] for c in json.loads((a / "results/tables/extra.sources.json").read_text())["columns"]} == \
        {c["name"] for c in config["tables"]["columns"] if c.get("table") == "extra"}
    verdict = (a / "results/tables/verdict.md").read_text()
    assert all(word in verdict for word in ("FT", "LoRA", "CITI"))
    assert (a / "results/figures/tradeoff.png").is_file()
    assert_outputs_plausible(a)
    # resumable: a finished run has nothing left to do
    again = snakemake("all", "-n", "--cores", "2", "-d", str(a), "--configfile", str(REPO / "config/test.yaml")).stdout
    assert "Nothing to be done" in again
    leftovers = [p for p in (a / "results").rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers


def assert_outputs_plausible(run: Path) -> None:
    """Values of the test config's run that a broken trainer or scorer would get wrong. (Its tool
    scores cannot tell methods apart: every tiny model, trained or not, answers only newlines, so TS,
    PI, CF and call correctness are 0 for all; the tool-data signal is FT's training curve.)"""
    import csv
    import math

    def log(method: str) -> list[dict]:
        path = run / "results/checkpoints/tiny/embedded_tools" / method / "stage1/training_log.csv"
        with open(path, newline="") as f:
            return list(csv.DictReader(f))

    # FT learns its tool data: its first step runs at warm-up lr 0 (the base model's CE on that batch),
    # and the last logged CE is clearly lower (5.56 -> 5.11 when written; batch-to-batch noise is ~0.03)
    rows = log("ft")
    assert len(rows) == 12  # 24 tool records, batch 2, one epoch
    first, last = float(rows[0]["ce_loss"]), float(rows[-1]["ce_loss"])
    assert last < first - 0.2, (first, last)
    # the untrained random model is at chance: its answer NLL is near log(vocabulary size)
    vocab = json.loads((run / "results/models/tiny/config.json").read_text())["vocab_size"]
    nll = {m: json.loads((run / f"results/eval/tiny/{m}/nll_math/metrics.json").read_text())["metrics"]["answer_nll"]
           for m in ("base", "ft")}
    assert abs(nll["base"] - math.log(vocab)) < 0.5, (nll, vocab)
    # training moved the evaluated model: FT's answer NLL differs from base's (lower: even tool text
    # teaches a random model the byte statistics of English)
    assert nll["ft"] < nll["base"] - 0.05, nll
    for method in ("base", "ft"):
        tool = json.loads((run / f"results/eval/tiny/{method}/tool_level1/metrics.json").read_text())
        assert sum(tool["call_categories"].values()) == tool["n"] == 4
        assert all(0.0 <= v <= 100.0 for v in tool["metrics"].values())


# rules whose outputs read no config value (only their input files); every other rule declares
# params: config_hash=config_params(...) with the config its outputs depend on (rules/common.smk)
READS_NO_CONFIG = {"importance_figures", "plot_tradeoff", "retention_vs_gain"}


def test_every_rule_reading_the_config_declares_its_config_in_params():
    for smk, name, body in rule_blocks():
        if name not in READS_NO_CONFIG:
            assert re.search(r"^    params:\n(?:        .*\n)*?        config_hash=(?:config_params\(|\w+_params,?$)", body, re.M), \
                f"{smk.name}: rule {name} has no params config_hash=config_params(...)"


def planned_jobs(out: str) -> set[tuple[str, str]]:
    """(rule, wildcards) of each job a dry-run's output plans."""
    jobs = set()
    for match in re.finditer(r"^(?:local)?rule (\w+):\n((?:    .*\n)*)", out, re.M):
        wildcards = re.search(r"^    wildcards: (.*)$", match.group(2), re.M)
        jobs.add((match.group(1), wildcards.group(1) if wildcards else ""))
    return jobs


@pytest.mark.slow
def test_a_config_change_reruns_the_jobs_that_read_it_and_only_those(tmp_path):
    """Issue 20 item 7: a changed value (a split's n, a mixture's general_per_task, a model spec) used to leave
    Snakemake saying 'Nothing to be done' over stale outputs; each rule's params carry its config's hash."""
    config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    targets = ([f"results/mixtures/{m}.jsonl" for m in config["mixtures"]]
               + ["results/data/embedded_math/test.jsonl", "results/models/tiny"])
    # about 30 s: the data, the mixtures and the tiny model for real, then only dry-runs
    snakemake(*targets, "--cores", "2", "-d", str(tmp_path), "--configfile", str(REPO / "config" / "test.yaml"))

    def plan(change) -> set[tuple[str, str]]:
        changed = copy.deepcopy(config)
        change(changed)
        path = tmp_path / "changed.yaml"
        path.write_text(yaml.safe_dump(changed))
        return planned_jobs(snakemake(*targets, "-n", "--cores", "1", "-d", str(tmp_path), "--configfile",
                                      str(path)).stdout)

    assert plan(lambda c: None) == set()  # the hashes are stable: an unchanged config plans nothing
    # one split: that split and the mixture drawing on it; not the dataset's other split, not other mixtures
    assert plan(lambda c: c["datasets"]["embedded_math"]["splits"]["train"].update(n=10)) == {
        ("prepare_split", "dataset=embedded_math, split=train"), ("build_mixture", "mixture=mixed")}
    assert plan(lambda c: c["mixtures"]["mixed"].update(general_per_task=3)) == {("build_mixture", "mixture=mixed")}
    assert plan(lambda c: c["models"]["tiny"]["tiny"].update(seed=1)) == {("materialize_model", "model=tiny")}
    # resources decide where a job runs, not what it computes
    assert plan(lambda c: c["resources"]["data"].update(mem_mb=2000)) == set()

    # the IRM settings rerun IRM stages only: FT's training does not read them
    trained = ["results/checkpoints/tiny/embedded_tools/ft/stage1", "results/checkpoints/tiny/embedded_tools/tl_training/stage2"]
    snakemake(*trained, "--cores", "2", "-d", str(tmp_path), "--configfile", str(REPO / "config" / "test.yaml"))
    changed = copy.deepcopy(config)
    changed["tl_training"]["irm"]["kl_coef"] = 0.1
    (tmp_path / "irm.yaml").write_text(yaml.safe_dump(changed))
    jobs = planned_jobs(snakemake(*trained, "-n", "--cores", "1", "-d", str(tmp_path), "--configfile",
                                  str(tmp_path / "irm.yaml")).stdout)
    assert {rule for rule, _ in jobs} == {"train_stage"} and all("method=tl_training" in w and "stage=2" in w
                                                                 for _, w in jobs), jobs


def test_a_rule_script_runs_alone_from_the_shell(tmp_path):
    out, manifest = tmp_path / "dev.jsonl", tmp_path / "dev.manifest.json"
    proc = subprocess.run([sys.executable, "scripts/prepare_split.py", "--config", "config/test.yaml",
                           "--dataset", "humaneval", "--split", "dev", "--data", str(out), "--manifest", str(manifest)],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert len(out.read_text().splitlines()) == json.loads(manifest.read_text())["count"] == 12


def test_a_script_run_alone_reports_a_user_error_without_a_traceback(tmp_path):
    bad = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    bad["datasets"]["humaneval"]["source"] = str(tmp_path / "missing.jsonl")
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump(bad))
    proc = subprocess.run([sys.executable, "scripts/prepare_split.py", "--config", str(cfg), "--dataset", "humaneval",
                           "--split", "dev", "--data", str(tmp_path / "o.jsonl"), "--manifest", str(tmp_path / "o.json")],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 1
    assert "missing.jsonl" in proc.stderr and "datasets.humaneval.source" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "o.jsonl").exists()


def test_a_rule_script_computes_on_the_jobs_threads_only(monkeypatch):
    """Under Snakemake a script is limited to its job's threads (no oversubscription of a shared node)."""
    import torch

    from citi import cli

    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "64")
    try:
        cli.limit_threads(1)
        assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"
    finally:
        torch.set_num_threads(before)
