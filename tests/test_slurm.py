"""The pipeline on a real (local, single-node) SLURM cluster through `--profile slurm`.

Starts the cluster with tools/local-slurm/ (root and apt needed; skipped without them unless
CI=true), runs the test config's whole DAG through the profile with conda off, and checks:
the outputs equal a local run's, a cancelled training job resumes from its checkpoint, and a
bad partition, account or GPU count fails at once with SLURM's message and the rule named.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / "tools" / "local-slurm"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
ACCOUNT, PARTITION = "ml", "debug"  # what start_local_slurm.sh creates
# Conda off (no rule declares env modules, so nothing is loaded); poll job states every few seconds.
SLURM_ARGS = ["--profile", "slurm", "--sdm", "env-modules", "--slurm-init-seconds-before-status-checks", "2",
              "--latency-wait", "5"]
# Outputs that legitimately differ between two runs: wall-clock timings and job logs.
NONDETERMINISTIC = ("results/logs/", "results/benchmarks/")
HAS_TRAINING = "rule train_stage:" in (REPO / "rules" / "training.smk").read_text()

pytestmark = [pytest.mark.slow, pytest.mark.slurm]


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "the local SLURM cluster runs its daemons as root; run the tests as root"
    if not shutil.which("slurmctld") and not shutil.which("apt-get"):
        return "SLURM is not installed and apt-get is missing to install it (Debian/Ubuntu needed)"
    return None


def _cluster_up() -> bool:
    return shutil.which("scontrol") is not None and subprocess.run(
        ["scontrol", "ping"], capture_output=True, text=True).stdout.count("UP") > 0


@pytest.fixture(scope="module")
def cluster():
    """A running cluster; stopped afterwards unless it was already up before the tests."""
    reason = _unavailable()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires the local SLURM cluster: {reason}")
        pytest.skip(reason)
    was_up = _cluster_up()
    started = subprocess.run(["bash", str(TOOLS / "start_local_slurm.sh")], capture_output=True, text=True,
                             env={**os.environ, "ACCOUNT": ACCOUNT}, timeout=900)
    try:
        if started.returncode != 0:
            pytest.fail(f"start_local_slurm.sh failed:\n{started.stdout[-2000:]}\n{started.stderr[-2000:]}")
        yield
    finally:
        if not was_up:
            subprocess.run(["bash", str(TOOLS / "stop_local_slurm.sh")], capture_output=True, timeout=120)


def slurm_env(**overrides) -> dict:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CITI_SLURM_PARTITION": PARTITION, "CITI_SLURM_ACCOUNT": ACCOUNT}
    env.pop("CITI_SLURM_GPU_PARTITION", None)
    return {**env, **overrides}


def write_config(folder: Path, **resources) -> Path:
    """config/test.yaml, with one training method long enough to be cancelled mid-way."""
    config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    if HAS_TRAINING:
        config.setdefault("training", {})["save_steps"] = 2
        config["methods"]["ft"]["stages"][0]["epochs"] = 8
    for group, spec in resources.items():
        config["resources"].setdefault(group, {}).update(spec)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def running_jobs(rule: str) -> list[str]:
    out = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i|%k"], capture_output=True, text=True).stdout
    return [line.split("|")[0] for line in out.splitlines() if line.split("|")[-1].startswith(f"rule_{rule}")]


def cancel_checkpointed_training(proc: subprocess.Popen, workdir: Path) -> list[str]:
    """scancel the running training jobs as soon as one has written a resumable checkpoint."""
    while proc.poll() is None:
        checkpoints = list(workdir.glob("results/checkpoints/*/*/*/stage*.partial/checkpoint-*"))
        jobs = running_jobs("train_stage") if checkpoints else []
        if jobs:
            subprocess.run(["scancel", *jobs], check=True)
            return jobs
        time.sleep(0.2)
    return []


def digests(workdir: Path) -> dict[str, str]:
    files = (p for p in (workdir / "results").rglob("*") if p.is_file())
    return {str(p.relative_to(workdir)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files
            if not str(p.relative_to(workdir)).startswith(NONDETERMINISTIC)}


@pytest.fixture(scope="module")
def dag_runs(cluster, tmp_path_factory):
    """The whole test DAG run locally and on SLURM (cancelling one training job on the way)."""
    base = tmp_path_factory.mktemp("slurm-dag")
    config = write_config(base)
    local = subprocess.run([*SNAKEMAKE, "all", "--cores", "2", "-d", str(base / "local"), "--configfile", str(config)],
                           cwd=REPO, capture_output=True, text=True)
    assert local.returncode == 0, local.stdout[-3000:] + local.stderr[-3000:]
    start = time.time()
    log = base / "slurm.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([*SNAKEMAKE, *SLURM_ARGS, "all", "-d", str(base / "slurm"), "--configfile", str(config)],
                                cwd=REPO, env=slurm_env(), stdout=out, stderr=subprocess.STDOUT)
        try:
            cancelled = cancel_checkpointed_training(proc, base / "slurm") if HAS_TRAINING else []
            rc = proc.wait(timeout=900)
        finally:
            if proc.poll() is None:
                proc.send_signal(2)  # SIGINT: the executor cancels its SLURM jobs
                proc.wait(timeout=120)
    print(f"SLURM run of the whole test DAG: {time.time() - start:.0f} s")
    return {"local": base / "local", "slurm": base / "slurm", "rc": rc, "log": log.read_text(),
            "cancelled": cancelled}


def test_whole_dag_on_slurm_gives_the_local_outputs(dag_runs):
    assert dag_runs["rc"] == 0, dag_runs["log"][-5000:]
    assert "submitted with SLURM jobid" in dag_runs["log"]  # really through the cluster
    local, slurm = digests(dag_runs["local"]), digests(dag_runs["slurm"])
    assert sorted(slurm) == sorted(local)
    differing = [path for path in local if local[path] != slurm[path]]
    assert not differing, f"outputs differ between the local and the SLURM run: {differing}"
    assert not list(dag_runs["slurm"].rglob("*.partial")), "a training work dir was left behind"


@pytest.mark.skipif(not HAS_TRAINING, reason="awaits rule train_stage in rules/training.smk")
def test_a_cancelled_training_job_resumes_from_its_checkpoint(dag_runs):
    assert dag_runs["cancelled"], "no training job was caught running with a checkpoint; lengthen its training"
    states = subprocess.run(["sacct", "-X", "-n", "-P", "-o", "State", "-j", ",".join(dag_runs["cancelled"])],
                            capture_output=True, text=True).stdout
    assert "CANCELLED" in states, states
    logs = [p.read_text() for p in (dag_runs["slurm"] / "results/logs/train_stage").rglob("*.log")]
    assert any("resuming from" in text for text in logs), "the rerun started over instead of resuming"
    assert dag_runs["rc"] == 0  # and its outputs equal the uninterrupted local run's (test above)


def test_no_job_is_left_on_the_cluster(dag_runs):
    assert subprocess.run(["squeue", "-h"], capture_output=True, text=True).stdout.strip() == ""


BAD_INPUTS = {
    "unknown partition": ({"CITI_SLURM_PARTITION": "nosuch"}, {}, "invalid partition specified: nosuch"),
    "rejected account": ({"CITI_SLURM_ACCOUNT": "nosuch"}, {}, "account nosuch appears to be invalid"),
    "more GPUs than a node has": ({}, {"data": {"gpus": 8}}, "Requested node configuration is not available"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_cluster_settings_fail_fast_with_slurms_message_and_the_rule(case, cluster, tmp_path):
    env, resources, message = BAD_INPUTS[case]
    config = write_config(tmp_path, **resources)
    start = time.time()
    proc = subprocess.run([*SNAKEMAKE, *SLURM_ARGS, "results/raw/embedded", "-d", str(tmp_path / "run"),
                           "--configfile", str(config)], cwd=REPO, env=slurm_env(**env),
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert message in out and "Error in rule generate_embedded" in out, out[-3000:]
    retries = yaml.safe_load((REPO / "slurm" / "config.yaml").read_text())["retries"]
    assert out.count("Error in rule generate_embedded") <= retries + 1  # bounded, never resubmitted forever
    assert time.time() - start < 120
    assert not (tmp_path / "run" / "results" / "raw" / "embedded").exists()
