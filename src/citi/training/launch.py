"""Multi-GPU launch: re-execute a training script under torchrun, and DeepSpeed settings.

The GPU count comes from the job's resources (Snakemake's ``gpu`` resource, or
``resources.train.gpus`` when a script runs alone); CUDA_VISIBLE_DEVICES is left
to the scheduler.
"""

from __future__ import annotations

import logging
import os
import sys

from ..errors import ConfigError

log = logging.getLogger("citi.training")


def in_distributed_launch() -> bool:
    return "LOCAL_RANK" in os.environ or "WORLD_SIZE" in os.environ


def job_gpus(config: dict, smk=None) -> int:
    """GPUs this job was given: the rule's resources under Snakemake, else the config's train group."""
    if smk is not None:
        return int(getattr(smk.resources, "gpu", 0) or 0)
    return int(config.get("resources", {}).get("train", {}).get("gpus", 0))


def torchrun_command(gpus: int, argv: list[str]) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={gpus}", *argv]


def relaunch_if_needed(gpus: int, argv: list[str] | None = None) -> None:
    """With more than one GPU and not yet inside a distributed launch, replace this process with
    torchrun running the same script and arguments (one process per GPU, DDP)."""
    if gpus <= 1 or in_distributed_launch():
        return
    import torch

    visible = torch.cuda.device_count()
    if visible < gpus:
        raise ConfigError(f"resources.train.gpus is {gpus} but this job sees {visible} GPU(s); "
                          f"lower resources.train.gpus or request the GPUs from the scheduler")
    cmd = torchrun_command(gpus, list(argv if argv is not None else sys.argv))
    log.info("relaunching under torchrun: %s", " ".join(cmd))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(cmd[0], cmd)


def deepspeed_config(kind: str, precision: str) -> dict | None:
    """A ZeRO-2 config for the Trainer ("auto" values filled from TrainingArguments), or None
    (with a warning) when deepspeed is not installed, so the job falls back to plain DDP."""
    try:
        import deepspeed  # noqa: F401
    except ImportError:
        log.warning("training.deepspeed is %r but deepspeed is not installed; training with plain DDP", kind)
        return None
    if kind != "zero2":
        raise ConfigError(f"training.deepspeed: unsupported value {kind!r}; supported: zero2")
    return {
        "train_micro_batch_size_per_gpu": "auto",
        "train_batch_size": "auto",
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "bf16": {"enabled": precision == "bf16"},
        "fp16": {"enabled": precision == "fp16", "loss_scale": 0, "initial_scale_power": 16},
        "zero_optimization": {"stage": 2, "overlap_comm": True, "contiguous_gradients": True,
                              "reduce_scatter": True, "allgather_partitions": True,
                              "reduce_bucket_size": 5e8, "allgather_bucket_size": 5e8},
    }
