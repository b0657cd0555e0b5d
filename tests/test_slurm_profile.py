"""The `slurm` profile and the per-rule SLURM resources, without a cluster."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from citi.cluster import ACCOUNT, GPU_PARTITION, PARTITION, group_resources
from citi.config import paper_combinations, paper_configfiles, read_configs

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "slurm" / "config.yaml"
# each paper setting as its --configfile layers (base, backbone, tool dataset, pair)
PAPER = [paper_configfiles(b, t) for b, t in paper_combinations()]
PAPER_IDS = [f"{b}_{t}" for b, t in paper_combinations()]
# Conda is not installable here and `--sdm conda` fails even a dry run without it; no rule
# declares env modules, so `--sdm env-modules` is the profile minus conda.
NO_CONDA = [] if shutil.which("conda") else ["--sdm", "env-modules"]


def test_profile_is_found_from_the_repo_root_and_sends_jobs_to_slurm():
    profile = yaml.safe_load(PROFILE.read_text())
    assert profile["executor"] == "slurm"
    assert profile["software-deployment-method"] == "conda"
    assert 1 <= profile["retries"] <= 3, "retries must be bounded"
    assert profile["latency-wait"] >= 10 and profile["rerun-incomplete"] is True
    # the profile carries no partition or account: they are the user's (environment)
    assert not re.search(r"slurm_(partition|account)", PROFILE.read_text().split("default-resources:")[-1])
    # a workflow profile would override this one key by key (executor: local, default-resources)
    for folder in (REPO / "profiles" / "default", REPO / "workflow" / "profiles" / "default"):
        assert not folder.exists(), f"{folder} would silently override the slurm profile"


@pytest.mark.parametrize("config", PAPER, ids=PAPER_IDS)
def test_profile_dry_run_resolves_every_paper_config(config, tmp_path):
    env = {**os.environ, "CITI_SLURM_ACCOUNT": "proj", "CITI_SLURM_GPU_PARTITION": "gpu"}
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--profile", "slurm", *NO_CONDA, "-n", "all",
                           "-d", str(tmp_path), "--configfile", *map(str, config)],
                          cwd=REPO, env=env, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "materialize_model" in out
    resources = read_configs(config)["resources"]
    gpus = resources["train"]["gpus"]
    if "rule train_stage:" in out:  # training jobs carry the train group's GPUs, the user's partition
        block = out.split("rule train_stage:")[1].split("\n\n")[0]
        assert f"gpu={gpus}" in block and "slurm_partition=gpu" in block and "slurm_account=proj" in block


def test_gpu_groups_get_gpus_on_one_node_and_cpu_groups_none():
    gpu = group_resources({"gpus": 4, "cpus": 32, "mem_mb": 256000, "runtime": 1440, "constraint": "a100|h100"}, {})
    assert gpu == {"mem_mb": 256000, "runtime": 1440, "cpus_per_task": 32, "gpu": 4, "nodes": 1,
                   "constraint": "a100|h100"}
    cpu = group_resources({"cpus": 2, "mem_mb": 16000, "runtime": 60}, {})
    assert cpu == {"mem_mb": 16000, "runtime": 60, "cpus_per_task": 2}


def test_partition_and_account_come_from_the_environment():
    env = {PARTITION: "cpu", GPU_PARTITION: "gpu", ACCOUNT: "proj"}
    assert group_resources({"gpus": 1}, env)["slurm_partition"] == "gpu"
    assert group_resources({}, env)["slurm_partition"] == "cpu"
    assert group_resources({"gpus": 1}, {PARTITION: "all"})["slurm_partition"] == "all"
    assert group_resources({}, env)["slurm_account"] == "proj"
    assert "slurm_partition" not in group_resources({}, {}) and "slurm_account" not in group_resources({}, {})


@pytest.mark.parametrize("config", PAPER, ids=PAPER_IDS)
def test_paper_configs_size_gpu_groups_for_their_backbone(config):
    resources = read_configs(config)["resources"]
    for group in ("importance", "train", "eval"):
        assert resources[group].get("gpus", 0) >= 1, f"{config[-1].name}: resources.{group} has no GPU"
    for group in ("data", "tables"):
        assert resources[group].get("gpus", 0) == 0, f"{config[-1].name}: resources.{group} asks for a GPU"

