"""The pipeline on a real (local, single-node) SLURM cluster through `--profile slurm`, conda off.

Starts the cluster with tools/local-slurm/ (root and apt needed; skipped without them, a failure
under CI=true) and compares its outputs with the test config's local run (``local_test_run``,
shared with test_workflow.py). The whole DAG through SLURM costs the local run's compute plus
~4 s of Snakemake start-up per job (each job re-parses the workflow twice), too much for CI's
budget, so CI runs a slice that still puts every rule of the DAG on the cluster:

- a chain from scratch (raw data -> split -> mixture, model -> one training stage), so SLURM
  jobs wait on SLURM jobs; its training job is `scancel`led once it has a checkpoint, and the
  profile's retry must resume it and end with the weights of an uninterrupted run;
- for every other rule, its cheapest job rerun in a copy of the local run (picked from that run's
  Snakemake metadata, so rules added later are covered too), all compared byte for byte
  (up to the run folder's path and OpenCompass's run stamps; see test_slurm_slice.py).

CITI_SLURM_WHOLE_DAG=1 also runs the whole DAG from scratch on the cluster and compares every output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from citi import paths
from test_slurm_slice import Dag, differing, local_jobs, pick_slice, seed

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / "tools" / "local-slurm"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
ACCOUNT, PARTITION = "ml", "debug"  # what start_local_slurm.sh creates
# Conda off (no rule declares env modules, so nothing is loaded); first status check after 2 s.
SLURM_ARGS = ["--profile", "slurm", "--sdm", "env-modules", "--slurm-init-seconds-before-status-checks", "2",
              "--latency-wait", "5"]
TEST_CONFIG = REPO / "config" / "test.yaml"
RESUMED_METHOD = "ft"  # its stage 1 is the chain's training job
RUN_TIMEOUT = 1200

pytestmark = [pytest.mark.slow, pytest.mark.slurm]


# ---- the cluster -----------------------------------------------------------------------------

def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "the local SLURM cluster runs its daemons as root; run the tests as root"
    if not shutil.which("slurmctld") and not shutil.which("apt-get"):
        return "SLURM is not installed and apt-get is missing to install it (Debian/Ubuntu needed)"
    return None


def _cluster_up() -> bool:
    return shutil.which("scontrol") is not None and "UP" in subprocess.run(
        ["scontrol", "ping"], capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def cluster():
    """A running cluster; stopped afterwards (and checked stopped) unless it was up before."""
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
            assert not _cluster_up(), "stop_local_slurm.sh left slurmctld running"


def slurm_env(**overrides) -> dict:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CITI_SLURM_PARTITION": PARTITION, "CITI_SLURM_ACCOUNT": ACCOUNT}
    env.pop("CITI_SLURM_GPU_PARTITION", None)
    return {**env, **overrides}


# ---- runs ------------------------------------------------------------------------------------

def submitted_rules(log: str) -> set[str]:
    return set(re.findall(r"submitted with SLURM jobid \d+ \(log: .*?/slurm_logs/rule_(\w+)/", log))


def start(args: list[str], workdir: Path, config: Path, log: Path, env: dict | None = None) -> subprocess.Popen:
    workdir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([*args, "-d", str(workdir), "--configfile", str(config)], cwd=REPO, env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)


def finish(proc: subprocess.Popen, deadline: float) -> int:
    try:
        return proc.wait(timeout=max(1.0, deadline - time.time()))
    except subprocess.TimeoutExpired:
        proc.send_signal(2)  # SIGINT: the SLURM executor cancels its jobs (SIGTERM would not stop it)
        proc.wait(timeout=120)
        return -2


def running_jobs(rule: str, workdir: Path) -> list[str]:
    out = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i|%k|%Z"], capture_output=True, text=True).stdout
    return [job for job, comment, cwd in (line.split("|") for line in out.splitlines())
            if comment.startswith(f"rule_{rule}") and Path(cwd) == workdir]


def cancel_once_checkpointed(proc: subprocess.Popen, workdir: Path, stage: str) -> list[str]:
    """scancel the training job as soon as it has written a resumable checkpoint (the Trainer
    writes trainer_state.json last); the kill then usually lands in the middle of the next save."""
    partial = workdir / paths.stage_work_dir(stage)
    while proc.poll() is None:
        jobs = running_jobs("train_stage", workdir) if list(partial.glob("checkpoint-*/trainer_state.json")) else []
        if jobs:
            subprocess.run(["scancel", *jobs], check=True)
            return jobs
        time.sleep(0.1)
    return []


def resume_config(folder: Path) -> Path:
    """The test config, checkpointing every step and training long enough to be caught mid-way."""
    config = yaml.safe_load(TEST_CONFIG.read_text())
    config["training"]["save_steps"] = 1
    for stage in config["methods"][RESUMED_METHOD]["stages"]:
        stage["epochs"] = 8
    path = folder / "resume.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def slurm_runs(cluster, local_test_run, tmp_path_factory):
    """The chain (with a cancel) and the slice on SLURM, and an uninterrupted local reference of
    the chain's training job, all at once (SLURM's status-polling gaps leave the CPUs idle)."""
    base = tmp_path_factory.mktemp("slurm")
    local = local_test_run
    dag = Dag(local_jobs(local))
    config = yaml.safe_load(TEST_CONFIG.read_text())
    stage = paths.STAGE_CHECKPOINT.format(model=next(iter(config["models"])), method=RESUMED_METHOD, stage=1,
                                          tool_dataset=config["tasks"]["tool"]["dataset"])
    chain = dag.ancestors({dag.job_of(stage)})
    upstream = {out for i in chain for out in dag.jobs[i].outputs if not out.startswith(stage)}
    copies = pick_slice(dag, skip_rules={dag.jobs[i].rule for i in chain})
    slices = {f"slice{k}": {out for i in jobs for out in dag.jobs[i].outputs} for k, jobs in enumerate(copies)}
    for name, outputs in slices.items():
        seed(local, base / name, skip=outputs)
    seed(local, base / "reference", only=upstream)
    resume = resume_config(base)

    began = time.time()
    procs = {name: start([*SNAKEMAKE, *SLURM_ARGS, *sorted(outputs)], base / name, TEST_CONFIG,
                         base / f"{name}.log", slurm_env()) for name, outputs in slices.items()}
    procs["chain"] = start([*SNAKEMAKE, *SLURM_ARGS, stage], base / "chain", resume, base / "chain.log", slurm_env())
    procs["reference"] = start([*SNAKEMAKE, "--cores", "1", stage], base / "reference", resume, base / "reference.log")
    deadline = began + RUN_TIMEOUT
    try:
        cancelled = cancel_once_checkpointed(procs["chain"], base / "chain", stage)
    finally:
        rc = {name: finish(proc, deadline) for name, proc in procs.items()}
    seconds = time.time() - began
    print(f"SLURM: {sum(map(len, copies))} jobs in {len(copies)} copies of the local run, and a chain of "
          f"{len(chain)} jobs with one cancelled: {seconds:.0f} s")
    return {"base": base, "local": local, "dag": dag, "rc": rc, "seconds": seconds, "cancelled": cancelled,
            "stage": stage, "upstream": upstream, "slices": slices,
            "log": {name: (base / f"{name}.log").read_text() for name in procs}}


# ---- tests -----------------------------------------------------------------------------------

def test_every_rule_runs_on_slurm_and_gives_the_local_outputs(slurm_runs):
    runs, base, local = slurm_runs, slurm_runs["base"], slurm_runs["local"]
    for name in [*runs["slices"], "chain"]:
        assert runs["rc"][name] == 0, f"{name} run failed:\n{runs['log'][name][-5000:]}"
    on_slurm = set().union(*(submitted_rules(runs["log"][name]) for name in [*runs["slices"], "chain"]))
    all_rules = {job.rule for job in runs["dag"].jobs}
    assert on_slurm == all_rules, f"rules never submitted to SLURM: {sorted(all_rules - on_slurm)}"
    for name, outputs in runs["slices"].items():
        assert not differing(local, base / name, outputs), name
    assert not differing(local, base / "chain", runs["upstream"])  # the chain's data, mixture and model


def test_a_cancelled_training_job_resumes_from_its_checkpoint_without_data_loss(slurm_runs):
    runs, base, stage = slurm_runs, slurm_runs["base"], slurm_runs["stage"]
    assert runs["cancelled"], "the training job was never caught running with a checkpoint; lengthen it"
    assert runs["rc"]["chain"] == 0 and runs["rc"]["reference"] == 0, runs["log"]["reference"][-3000:]
    assert f"SLURM-job '{runs['cancelled'][0]}' failed, SLURM status is: 'CANCELLED'" in runs["log"]["chain"]
    log = next((base / "chain").glob("results/logs/train_stage/**/*.log")).read_text()
    assert f"resuming from {paths.stage_work_dir(stage)}/checkpoint-" in log, "the retry started over"
    assert not (base / "chain" / paths.stage_work_dir(stage)).exists(), "the checkpoint folder was left behind"
    ref, resumed = base / "reference" / stage, base / "chain" / stage
    provenance = {p.name for p in ref.glob("*.json") if "resumed_from" in p.read_text()}
    assert provenance, f"no provenance with resumed_from in {ref}"
    assert not differing(base / "reference", base / "chain", {f"{stage}/{n.name}" for n in ref.iterdir()
                                                                 if n.name not in provenance})
    for name in provenance:  # the same steps, tokens and loss; only the timing and the resume differ
        a, b = (json.loads((d / name).read_text()) for d in (ref, resumed))
        assert b["resumed_from"] and not a["resumed_from"]
        for key in ("resumed_from", "train_seconds"):
            a.pop(key), b.pop(key)
        assert a == b


def leftovers(base: str) -> list[str]:
    """Live processes of the runs (their command names the run folder) and job step daemons."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # it ended meanwhile
            continue
        if state != "Z" and (base in cmdline or cmdline.startswith("slurmstepd")):
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found


def test_nothing_is_left_running(slurm_runs):
    base = str(slurm_runs["base"])
    queued = subprocess.run(["squeue", "-h", "-o", "%i %Z"], capture_output=True, text=True).stdout
    assert base not in queued, queued
    for _ in range(30):  # a finished job's slurmstepd may take a moment to exit
        if not leftovers(base):
            break
        time.sleep(0.5)
    assert not leftovers(base)


BAD_INPUTS = {
    "unknown partition": ({"CITI_SLURM_PARTITION": "nosuch"}, {}, "invalid partition specified: nosuch"),
    # the plugin checks the account against SLURM's accounting (sacctmgr) before sbatch
    "rejected account": ({"CITI_SLURM_ACCOUNT": "nosuch"}, {}, "account nosuch appears to be invalid"),
    "more GPUs than a node has": ({}, {"data": {"gpus": 8}}, "Requested node configuration is not available"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_cluster_settings_fail_fast_with_slurms_message_and_the_rule(case, cluster, tmp_path):
    env, resources, message = BAD_INPUTS[case]
    config = yaml.safe_load(TEST_CONFIG.read_text())
    for group, spec in resources.items():
        config["resources"].setdefault(group, {}).update(spec)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    began = time.time()
    proc = subprocess.run([*SNAKEMAKE, *SLURM_ARGS, paths.EMBEDDED_ROOT, "-d", str(tmp_path / "run"),
                           "--configfile", str(path)], cwd=REPO, env=slurm_env(**env),
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert message in out and "Error in rule generate_embedded" in out, out[-3000:]
    retries = yaml.safe_load((REPO / "slurm" / "config.yaml").read_text())["retries"]
    assert out.count("Error in rule generate_embedded") <= retries + 1  # bounded, never resubmitted forever
    assert time.time() - began < 120
    assert not (tmp_path / "run" / paths.EMBEDDED_ROOT).exists()


@pytest.mark.skipif(os.environ.get("CITI_SLURM_WHOLE_DAG") != "1",
                    reason="the whole DAG on SLURM takes several times CI's budget; set CITI_SLURM_WHOLE_DAG=1")
def test_whole_dag_on_slurm_gives_the_local_outputs(cluster, local_test_run, tmp_path):
    proc = start([*SNAKEMAKE, *SLURM_ARGS, "all"], tmp_path / "run", TEST_CONFIG, tmp_path / "log", slurm_env())
    began = time.time()
    rc = finish(proc, began + 3 * RUN_TIMEOUT)
    print(f"whole DAG on SLURM: {time.time() - began:.0f} s")
    assert rc == 0, (tmp_path / "log").read_text()[-5000:]
    outputs = {out for job in local_jobs(local_test_run) for out in job.outputs}
    assert not differing(local_test_run, tmp_path / "run", outputs)
