"""Cluster scheduling: a rule group's SLURM resources, from config and the user's environment.

The config's ``resources:`` section says what a rule group needs (GPUs, CPUs, memory,
runtime, constraint); where it runs (partition, account) belongs to the user, not the
repository, so it comes from environment variables:

- ``CITI_SLURM_PARTITION``: partition for every job (unset: the cluster's default);
- ``CITI_SLURM_GPU_PARTITION``: partition for GPU jobs (unset: ``CITI_SLURM_PARTITION``);
- ``CITI_SLURM_ACCOUNT``: account to charge (unset: the SLURM plugin guesses it).

Snakemake's local executor ignores the SLURM-only keys.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

PARTITION = "CITI_SLURM_PARTITION"
GPU_PARTITION = "CITI_SLURM_GPU_PARTITION"
ACCOUNT = "CITI_SLURM_ACCOUNT"

DEFAULTS = {"gpus": 0, "cpus": 1, "mem_mb": 4000, "runtime": 60, "constraint": None}


def group_resources(spec: Mapping, environ: Mapping[str, str] = os.environ) -> dict:
    """Snakemake ``resources:`` for one rule group's config ``spec``.

    ``gpu`` (a count) becomes ``--gpus`` under SLURM and is what multi-GPU training reads
    to launch one process per GPU; ``nodes=1`` keeps those GPUs on one node.
    """
    spec = {**DEFAULTS, **spec}
    res = {"mem_mb": spec["mem_mb"], "runtime": spec["runtime"], "cpus_per_task": spec["cpus"]}
    if spec["gpus"]:
        res.update(gpu=spec["gpus"], nodes=1)
    if spec["constraint"]:
        res["constraint"] = spec["constraint"]
    partition = environ.get(GPU_PARTITION) if spec["gpus"] else None
    partition = partition or environ.get(PARTITION)
    if partition:
        res["slurm_partition"] = partition
    if environ.get(ACCOUNT):
        res["slurm_account"] = environ[ACCOUNT]
    return res
