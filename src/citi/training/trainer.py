"""The Trainer every stage uses: CE on the target turn (+ β·routing loss), resumable, logged.

``train_stage_model`` runs one stage on a prepared model: seeded data order,
cosine (or configured) schedule with warm-up, gradient accumulation, optional
gradient checkpointing, bf16/fp16 on GPU and fp32 on CPU. Intermediate Trainer
checkpoints go to ``work_dir`` every ``training.save_steps`` optimiser steps, and
a rerun resumes from the newest one (weights, optimiser, scheduler, RNG and data
position), so a killed job loses at most ``save_steps`` steps.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import signal
import time
from pathlib import Path

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments

from ..io import atomic_path
from ..precision import effective_precision, on_gpu as uses_gpu
from .collator import IGNORE, Collator, pad_id

log = logging.getLogger("citi.training")
KILL_ENV = "CITI_KILL_AFTER_STEP"  # tests only: SIGKILL this process after the checkpoint at that step


def target_token_loss(model, inputs: dict):
    """(outputs, mean CE over the target tokens), the loss ``model(labels=...)`` returns, with logits
    projected only where a target token is predicted: the vocabulary projection and its softmax over
    every prompt position are about a fifth of a small model's training FLOPs, all of them wasted."""
    labels = inputs["labels"]
    predicts = torch.zeros_like(labels, dtype=torch.bool)  # position t predicts labels[t + 1]
    predicts[:, :-1] = labels[:, 1:] != IGNORE
    rest = {k: v for k, v in inputs.items() if k != "labels"}
    outputs = model(**rest, logits_to_keep=predicts)
    logits = outputs.logits.reshape(-1, outputs.logits.shape[-1])  # (targets, vocab)
    if logits.shape[0] == 0:
        return outputs, outputs.logits.sum() * 0.0  # nothing to learn in this batch, but keep the graph
    return outputs, torch.nn.functional.cross_entropy(logits.float(), labels[:, 1:][predicts[:, :-1]])


def unpadded_target_token_loss(model, inputs: dict, after_row=None):
    """``target_token_loss`` of a right-padded batch, each row run at its own length: the same mean
    over the batch's target tokens and the same gradient, without computing the padding (random
    batches of 250-760-token tool samples were a fifth to a third padding). Returns (None, loss).
    ``after_row()`` runs after each row's forward (to gather what the forward left, e.g. gates)."""
    lengths = inputs["attention_mask"].sum(dim=1).tolist()
    total, count = None, 0
    for row, length in enumerate(lengths):
        part = {k: v[row:row + 1, :length] for k, v in inputs.items()}
        targets = int((part["labels"][:, 1:] != IGNORE).sum())
        _, loss = target_token_loss(model, part)
        if after_row is not None:
            after_row()
        total = loss * targets if total is None else total + loss * targets
        count += targets
    return None, total / max(count, 1)


class CitiTrainer(Trainer):
    """Adds ``beta`` × the MOLoRA routing loss, and logs it with the token count."""

    def __init__(self, *args, routing_beta: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.routing_beta = routing_beta  # None: no routing loss in this stage
        # Each micro-batch's loss is its own token mean, divided by the accumulation steps by the
        # Trainer; so the routing loss added per micro-batch is scaled the same way.
        self.model_accepts_loss_kwargs = False
        self._sums = {"routing_loss": 0.0, "ce_loss": 0.0, "micro": 0, "tokens": 0}

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        task_type = inputs.pop("task_type")
        weights = inputs.pop("weights", None)  # PKT: per-token weights from the collator
        routing = self.routing_beta is not None and model.training
        usages: dict[str, list] = {}
        if weights is None and not return_outputs and self._rows_alone(model, routing):
            def gather():  # each row's slot usage, for the routing loss of the whole batch
                from ..methods.molora.layer import routing_usage

                for name, usage in routing_usage(self.accelerator.unwrap_model(model)).items():
                    usages.setdefault(name, []).append(usage)

            outputs, loss = unpadded_target_token_loss(model, inputs, gather if routing else None)
        elif weights is None:
            outputs, loss = target_token_loss(model, inputs)
        else:
            from ..methods.tl_training.pkt import weighted_loss

            labels = inputs.pop("labels")
            outputs = model(**inputs)
            loss = weighted_loss(outputs.logits, labels, weights)
        self._sums["ce_loss"] += loss.detach().float().item()
        self._sums["micro"] += 1
        self._sums["tokens"] += int(inputs["attention_mask"].sum())
        if self.routing_beta is not None and model.training:
            from ..methods.molora import routing_loss

            if usages:
                from ..methods.molora.layer import routing_loss_from_usage

                r = routing_loss_from_usage(self.accelerator.unwrap_model(model),
                                            {name: torch.cat(rows) for name, rows in usages.items()}, task_type)
            else:
                r = routing_loss(self.accelerator.unwrap_model(model), task_type, inputs["attention_mask"])
            loss = loss + self.routing_beta * r
            self._sums["routing_loss"] += float(r.detach())
        return (loss, outputs) if return_outputs else loss

    def _rows_alone(self, model, routing: bool) -> bool:
        """Whether each row may run at its own length: one process (DDP wants one forward per step),
        batches with padding, and a routing loss (if any) that leaves padding out, as the default's
        does (the paper configs sum the authors' way, over padded positions too)."""
        if self.accelerator.num_processes != 1:
            return False
        if not routing:
            return True
        from ..methods.molora import molora_layers

        return all(layer.mask_padding for _, layer in molora_layers(self.accelerator.unwrap_model(model))
                   if layer.null_slot)

    def log(self, logs: dict, start_time: float | None = None) -> None:
        if "loss" in logs and self._sums["micro"]:
            n = self._sums["micro"]
            sums = torch.tensor([self._sums["ce_loss"] / n, self._sums["routing_loss"] / n,
                                 float(self._sums["tokens"])], device=self.args.device, dtype=torch.float64)
            if self.accelerator.num_processes > 1:
                sums = self.accelerator.reduce(sums, reduction="sum")
                sums[:2] /= self.accelerator.num_processes
            logs["ce_loss"], logs["tokens"] = float(sums[0]), int(sums[2])
            if self.routing_beta is not None:
                logs["routing_loss"] = float(sums[1])
            self._sums = {"routing_loss": 0.0, "ce_loss": 0.0, "micro": 0, "tokens": 0}
        super().log(logs, start_time)


def last_complete_checkpoint(work_dir: Path) -> str | None:
    """The newest checkpoint the Trainer finished writing. trainer_state.json is the last file it
    writes (after weights, optimizer, scheduler and RNG states), and the older checkpoint is rotated
    out only after it, so a job killed mid-save (scancel, preemption, time limit) resumes from the
    checkpoint before instead of failing on a half-written one."""
    if not work_dir.is_dir():
        return None
    for path in sorted(work_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]), reverse=True):
        try:
            json.loads((path / "trainer_state.json").read_text())
        except (OSError, ValueError):
            log.warning("skipping %s: incomplete (the job was stopped while saving it)", path)
            continue
        return str(path)
    return None


class KillAfterStep(TrainerCallback):
    """Simulates a crashed job (SIGKILL, no clean-up) right after a checkpoint is written."""

    def __init__(self, step: int):
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def training_arguments(config: dict, stage: dict, work_dir: Path, gpus: int) -> TrainingArguments:
    tr = config["training"]
    on_gpu = uses_gpu(gpus)
    precision = effective_precision(tr["precision"], on_gpu)
    extra = {}
    if tr.get("deepspeed") and gpus > 1:
        from .launch import deepspeed_config

        ds = deepspeed_config(tr["deepspeed"], precision)
        if ds is not None:
            extra["deepspeed"] = ds
    return TrainingArguments(
        output_dir=str(work_dir),
        per_device_train_batch_size=stage.get("per_device_batch", tr["per_device_batch"]),
        gradient_accumulation_steps=stage.get("grad_accum", tr["grad_accum"]),
        learning_rate=stage["lr"],
        num_train_epochs=stage["epochs"],
        max_steps=stage.get("max_steps", -1),  # a cap on optimiser steps (short PPO runs); -1: the epochs decide
        lr_scheduler_type=tr["scheduler"],
        warmup_steps=stage.get("warmup_ratio", tr["warmup_ratio"]),  # below 1: a fraction of the steps (transformers 5)
        weight_decay=stage.get("weight_decay", 0.0),
        adam_beta2=stage.get("adam_beta2", 0.999),
        max_grad_norm=tr["max_grad_norm"],
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not on_gpu,
        activation_checkpointing=tr["gradient_checkpointing"],
        activation_checkpointing_kwargs={"use_reentrant": False} if tr["gradient_checkpointing"] else None,
        seed=tr["seed"],
        data_seed=tr["seed"],
        logging_steps=1,
        save_strategy="steps",
        save_steps=tr["save_steps"],
        save_total_limit=1,
        report_to="none",
        remove_unused_columns=False,  # task_type reaches compute_loss
        dataloader_num_workers=0,
        ddp_find_unused_parameters=False,
        disable_tqdm=True,
        **extra,
    )


def tr_checkpointing(config: dict) -> bool:
    return bool(config["training"]["gradient_checkpointing"])


def train_stage_model(model, tokenizer, samples: list[dict], config: dict, stage: dict, work_dir: str | Path,
                      gpus: int = 0, routing_beta: float | None = None) -> dict:
    """Train ``model`` in place on encoded ``samples``; return the log rows and run statistics."""
    work_dir = Path(work_dir)
    args = training_arguments(config, stage, work_dir, gpus)
    if tr_checkpointing(config):
        model.config.use_cache = False
    trainer = CitiTrainer(model=model, args=args, train_dataset=samples, data_collator=Collator(pad_id(tokenizer)),
                          routing_beta=routing_beta)
    if os.environ.get(KILL_ENV):
        trainer.add_callback(KillAfterStep(int(os.environ[KILL_ENV])))
    resume = last_complete_checkpoint(work_dir)
    if resume:
        log.info("resuming from %s", resume)
    start = time.time()
    trainer.train(resume_from_checkpoint=resume)
    rows = [{"step": h["step"], "epoch": h.get("epoch"), "loss": h["loss"], "ce_loss": h.get("ce_loss"),
             "routing_loss": h.get("routing_loss"), "lr": h.get("learning_rate"), "tokens": h.get("tokens", 0)}
            for h in trainer.state.log_history if "loss" in h]
    return {"rows": rows, "seconds": time.time() - start, "resumed_from": resume,
            "tokens_seen": sum(r["tokens"] or 0 for r in rows), "steps": trainer.state.global_step,
            "is_main": trainer.is_world_process_zero()}


def write_log(rows: list[dict], csv_path: Path, png_path: Path, title: str) -> None:
    """The training log as CSV and its loss curve (total, CE and routing loss) as PNG; columns beyond
    the standard ones (a PPO stage's reward and KL) follow them."""
    fields = ["step", "epoch", "loss", "ce_loss", "routing_loss", "lr", "tokens"]
    fields += [k for k in (rows[0] if rows else {}) if k not in fields]
    with atomic_path(csv_path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps = [r["step"] for r in rows]
    ax.plot(steps, [r["loss"] for r in rows], label="loss")
    if any(r["routing_loss"] is not None for r in rows):
        ax.plot(steps, [r["ce_loss"] for r in rows], label="CE", alpha=0.7)
        ax2 = ax.twinx()
        ax2.plot(steps, [r["routing_loss"] for r in rows], color="tab:red", label="routing (right)")
        ax2.set_ylabel("routing loss")
        ax2.legend(loc="upper center")
    if any(r.get("reward") is not None for r in rows):  # a PPO stage: mean reward and KL to the reference
        ax2 = ax.twinx()
        ax2.plot(steps, [r["reward"] for r in rows], color="tab:green", label="reward (right)")
        ax2.plot(steps, [r.get("kl") for r in rows], color="tab:purple", label="KL (right)")
        ax2.set_ylabel("reward / KL")
        ax2.legend(loc="upper center")
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend(loc="upper right")
    fig.tight_layout()
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
