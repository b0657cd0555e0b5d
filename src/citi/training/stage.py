"""Run one training stage end to end: load, wrap, freeze, train, save, clean up.

The stage folder (``paths.STAGE_CHECKPOINT``) is the declared output; the
Trainer's intermediate checkpoints live beside it in ``<folder>.partial/``
(``paths.stage_work_dir``), which Snakemake does not delete when a job fails,
so a rerun resumes there. It is removed once the stage folder is written.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import torch

from .. import paths
from ..config import config_hash
from ..data.mixtures import read_records
from ..errors import ConfigError, RecordError
from ..io import read_json, sha256_file
from ..models import DTYPES, load, read_provenance
from .collator import encode_records
from .groups import adapter_parameter_ids, set_trainable
from ..importance.selection import needed_selections, stage_selection
from .adapters import method_stage, molora_settings, prepare_model
from ..methods.tl_training.pkt import pkt_settings

log = logging.getLogger("citi.training")


def half_precision_on_gpu(config: dict, gpus: int) -> bool:
    return torch.cuda.is_available() and gpus > 0 and config["training"]["precision"] != "fp32"


def run_stage(config: dict, model: str, method: str, stage: int, folder: str | Path, gpus: int = 0,
              inputs: dict | None = None) -> dict | None:
    """Train ``method``'s 1-based ``stage`` for ``model`` into ``folder``; return its provenance (main process).
    ``inputs``: the folder it starts from, its mixture and selection files (``citi.inputs.train_stage``;
    resolved from the config when None)."""
    from transformers import set_seed

    from ..inputs import train_stage as resolve

    spec, stage_spec = method_stage(config, method, stage)
    inputs = inputs or resolve(config, model, method, stage)
    folder = Path(folder)
    # read first: an empty mixture fails here, before the model loads and before any folder is made
    mixture = inputs["mixture"]
    records = read_records(mixture)
    if not records:
        raise RecordError(f"{mixture}: no records (mixture '{spec['mixture']}' of methods.{method}); "
                          f"a training stage needs at least one: check the tool data and the mixture's settings")
    sel_files = dict(zip(needed_selections(method, spec), inputs["selection"], strict=True))
    selection = stage_selection(method, spec, {n: read_json(p) for n, p in sel_files.items()})
    save_dtype = config["models"][model].get("dtype", "float32")
    half = half_precision_on_gpu(config, gpus)
    # CPU trains in fp32; GPU loads the stored dtype and trains the trainable weights in fp32 under autocast
    load_dtype = save_dtype if half else "float32"

    set_seed(config["training"]["seed"])  # adapter initialisation is part of the seeded run
    source = inputs["start"]
    net, tokenizer = load(source, dtype=load_dtype)
    net.train()
    net = prepare_model(net, config, method, stage, selection)
    n_trainable = set_trainable(net, stage_spec["trainable"], selection, stage_spec.get("freeze_bottom"),
                                where=f"methods.{method}.stages[{stage - 1}].freeze_bottom")
    if half and not config["training"].get("deepspeed"):
        for p in net.parameters():
            if p.requires_grad:
                p.data = p.data.float()

    work_dir = paths.stage_work_dir(folder)
    kind = stage_spec.get("kind", "sft")
    pkt = pkt_settings(spec, stage_spec) if kind == "sft" else None
    log.info("%s stage %d (%s, %s%s): %d records, %d trainable parameters, groups %s", method, stage,
             stage_spec["name"], kind, " + PKT" if pkt else "", len(records), n_trainable, stage_spec["trainable"])
    from ..methods.tl_training.irm import RL_KINDS

    rl = kind in RL_KINDS  # TL-Training's IRM: PPO or GRPO
    if rl and spec.get("adapter", "none") != "none":
        raise ConfigError(f"config key 'methods.{method}.stages[{stage - 1}].kind': a {kind} stage trains full weights "
                          f"(its reference is a copy of its input); method adapter {spec['adapter']!r} is not supported")
    if kind != "sft" and any(r.get("train_on", "last") != "last" for r in records):
        raise ConfigError(f"config key 'methods.{method}.mixture': a {kind} stage takes one RL prompt per record (its "
                          f"last turn), but {mixture} has records with train_on: all_assistant_turns; give it the "
                          f"per-turn tool data (mixtures.{spec['mixture']}.tool_turns)")
    if rl:  # TL-Training's IRM: on-policy RL from this stage's input model (PPO, or GRPO)
        from ..methods.tl_training.irm import train_irm

        stats = train_irm(net, tokenizer, records, config, stage_spec, work_dir, gpus, where=mixture)
    else:
        from .trainer import train_stage_model

        samples = encode_records(records, tokenizer, config["training"]["cutoff_len"], where=mixture, pkt=pkt)
        routing_beta = molora_settings(config, spec)["beta"] if stage_spec.get("routing_loss") else None
        stats = train_stage_model(net, tokenizer, samples, config, stage_spec, work_dir, gpus, routing_beta)
        stats["samples"] = len(samples)
    if not stats["is_main"]:
        return None
    provenance = {
        "name": f"{model}/{method}/stage{stage}",
        "method": method, "stage": stage, "stage_name": stage_spec["name"], "stages": len(spec["stages"]),
        "base_model": {"name": model, "folder": paths.MODEL.format(model=model),
                       "provenance": _base_provenance(paths.MODEL.format(model=model))},
        "started_from": source,
        "mixture": {"name": spec["mixture"], "file": mixture, "sha256": sha256_file(mixture), "samples": stats["samples"]},
        "kind": kind,
        "pkt": pkt,
        "selection": {n: {"file": p, "sha256": sha256_file(p)} for n, p in sel_files.items()},
        "config_hash": config_hash(config, ("models", "datasets", "tasks", "mixtures", "importance", "selection",
                                            "molora", "lora", "training", "methods", "tl_training", "seed")),
        "stage_config": stage_spec,
        "trainable_groups": stage_spec["trainable"],
        "trainable_parameters": n_trainable,
        "tokens_seen": stats["tokens_seen"],
        "optimizer_steps": stats["steps"],
        "train_seconds": round(stats["seconds"], 1),
        "resumed_from": stats["resumed_from"],
        "final_loss": stats["rows"][-1]["loss"] if stats["rows"] else None,
        **({"irm": {**config["tl_training"]["irm"], "reward_first_step": stats["reward_first"],
                    "reward_last_step": stats["reward_last"], "kl_last_step": stats["kl_last"]}}
           if rl else {}),
        "dtype": save_dtype,
        "trust_remote_code": False,
    }
    restore_dtype(net, DTYPES[save_dtype])
    from .checkpoint import save_trained

    save_trained(net, tokenizer, folder, provenance, stats["rows"], f"{method} stage {stage} ({stage_spec['name']})")
    shutil.rmtree(work_dir, ignore_errors=True)
    return provenance


def restore_dtype(model, dtype) -> None:
    """Base weights back to the stored dtype (they may have trained in fp32); adapter weights keep
    their own (MOLoRA and LoRA hold float32 masters whatever the base dtype)."""
    adapters = adapter_parameter_ids(model)
    for p in model.parameters():
        if id(p) not in adapters and p.is_floating_point() and p.dtype != dtype:
            p.data = p.data.to(dtype)


def _base_provenance(folder: str) -> dict | None:
    try:
        return read_provenance(folder)
    except FileNotFoundError:
        return None
