"""IRM (TL-Training): on-policy RL on tool calls with a rule-based reward, in stages of kind ppo or grpo.

``kind: ppo`` is the paper's algorithm: PPO with a critic, GAE and the KL to the frozen reference
folded into the per-token reward, greedy rollouts (``ppo.py``; trl 1.16 has no PPOTrainer, so it
is written out in plain torch, after the paper's DeepSpeed-Chat fork).

``kind: grpo`` is a named alternative, not the paper's: trl's GRPOTrainer with the paper's
settings where they carry over (``tl_training.irm``): ``kl_coef`` (beta 0.4) weighs the KL to the
reference, ``clip_range`` (0.2) clips the policy ratio, one policy epoch per rollout, no reward
whitening (so advantages are rewards minus their group mean). It has no critic, so no value head,
critic learning rate, value clip, gamma or GAE lambda: its advantage is the whole-completion reward
against the mean of ``num_generations`` (>= 2) sampled completions of the same prompt, and it
needs sampled rollouts (``temperature`` > 0; the paper's were greedy).

Both start the policy from the stage's input (the PKT model) and score each completion with
``citi.toolcalls.taxonomy.call_reward`` against the prompt's gold call and tools
(``tl_training.irm.rewards``), clipped to +-``reward_clip``. RL prompts are the tool records of the
method's mixture whose target turn is a call: the conversation before it, rendered with the chat
template and the generation prompt.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import torch

from ...errors import ConfigError
from ...records import target_index
from ...toolcalls.targets import target_call
from ...precision import effective_precision, on_gpu as uses_gpu
from ...training.trainer import KILL_ENV, KillAfterStep, last_complete_checkpoint

log = logging.getLogger("citi.training")


def rl_prompts(records: list[dict], tokenizer, where: str = "records") -> list[dict]:
    """One RL prompt per tool record whose target is a call: prompt text, gold call and tools (JSON)."""
    out = []
    for rec in records:
        found = target_call(rec)
        if found is None:
            continue
        gold, tools = found
        context = rec["messages"][: target_index(rec)]
        prompt = without_double_bos(tokenizer.apply_chat_template(context, tokenize=False, add_generation_prompt=True),
                                    tokenizer)
        out.append({"prompt": prompt, "gold_call": json.dumps(gold, ensure_ascii=False),
                    "tool_names": json.dumps(tools, ensure_ascii=False), "id": rec["id"]})
    if not out:
        raise ConfigError(f"{where}: no tool record whose target turn is a call, so IRM has no RL prompts")
    return out


def without_double_bos(prompt: str, tokenizer) -> str:
    """trl tokenises text prompts with special tokens; a template that writes the BOS itself
    (Llama-3) would then start with two."""
    bos = tokenizer.bos_token
    if bos and prompt.startswith(bos) and tokenizer("x")["input_ids"][:1] == [tokenizer.bos_token_id]:
        return prompt[len(bos):]
    return prompt


def irm_reward_function(rewards: dict | None, clip: float):
    """The reward callable (GRPOTrainer's signature; PPO calls it alike): one float per completion."""
    from ...toolcalls.taxonomy import call_reward

    def irm_reward(prompts, completions, gold_call, tool_names, **_):
        return [max(-clip, min(clip, call_reward(c, json.loads(g), json.loads(t), rewards)))
                for c, g, t in zip(completions, gold_call, tool_names)]

    return irm_reward


def grpo_config(config: dict, stage: dict, work_dir: Path, gpus: int):
    from trl import GRPOConfig

    tr, irm = config["training"], config["tl_training"]["irm"]
    if irm["num_generations"] < 2 or irm["temperature"] <= 0:
        raise ConfigError("config key 'tl_training.irm': a stage of kind grpo needs num_generations >= 2 and "
                          f"temperature > 0 (sampled groups), not {irm['num_generations']} and {irm['temperature']}")
    on_gpu = uses_gpu(gpus)
    precision = effective_precision(tr["precision"], on_gpu)
    return GRPOConfig(
        output_dir=str(work_dir),
        learning_rate=stage["lr"],
        num_train_epochs=stage["epochs"],
        max_steps=stage.get("max_steps", -1),
        # one prompt's group per micro-batch, one optimiser step per rollout of prompts_per_step prompts
        per_device_train_batch_size=irm["num_generations"],
        gradient_accumulation_steps=irm["prompts_per_step"],
        num_generations=irm["num_generations"],
        max_completion_length=irm["max_new_tokens"],
        temperature=irm["temperature"],
        beta=irm["kl_coef"],
        epsilon=irm["clip_range"],
        num_iterations=1,
        scale_rewards="none",
        lr_scheduler_type=tr["scheduler"],
        warmup_steps=irm["warmup_steps"],
        adam_beta2=irm["adam_beta2"],
        weight_decay=0.0,
        max_grad_norm=tr["max_grad_norm"],
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not on_gpu,
        activation_checkpointing=tr["gradient_checkpointing"],  # (trl's own default is on)
        activation_checkpointing_kwargs={"use_reentrant": False} if tr["gradient_checkpointing"] else None,
        seed=tr["seed"],
        data_seed=tr["seed"],
        logging_steps=1,
        save_strategy="steps",
        save_steps=tr["save_steps"],
        save_total_limit=1,
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
    )


def grpo_log_rows(history: list[dict]) -> list[dict]:
    """The training-log rows of a GRPO stage: the standard columns plus mean reward and KL."""
    rows, seen = [], 0
    for h in (h for h in history if "loss" in h):
        total = int(h.get("num_tokens", seen))  # trl counts tokens cumulatively; the log has them per step
        rows.append({"step": h["step"], "epoch": h.get("epoch"), "loss": h["loss"], "ce_loss": None,
                     "routing_loss": None, "lr": h.get("learning_rate"), "tokens": total - seen,
                     "reward": h.get("reward"), "reward_std": h.get("reward_std"), "kl": h.get("kl"),
                     "completion_length": h.get("completions/mean_length")})
        seen = total
    return rows


def train_ppo(model, tokenizer, records: list[dict], config: dict, stage: dict, work_dir: str | Path,
              gpus: int = 0, reward_fn=None, where: str = "records") -> dict:
    """IRM by PPO (the paper's; ``ppo.py``) on ``model`` in place: the stats dict of
    ``trainer.train_stage_model`` plus reward/KL. ``reward_fn`` replaces the IRM reward (tests plant
    easy tasks with it)."""
    from .ppo import run_ppo

    irm = config["tl_training"]["irm"]
    reward = reward_fn or irm_reward_function(irm.get("rewards"), irm["reward_clip"])
    return run_ppo(model, tokenizer, rl_prompts(records, tokenizer, where), reward, config, stage, work_dir, gpus)


def train_grpo(model, tokenizer, records: list[dict], config: dict, stage: dict, work_dir: str | Path,
               gpus: int = 0, reward_fn=None, where: str = "records") -> dict:
    """IRM by trl's GRPOTrainer (not the paper's algorithm), as ``train_ppo``."""
    from datasets import Dataset
    from trl import GRPOTrainer

    work_dir = Path(work_dir)
    irm = config["tl_training"]["irm"]
    args = grpo_config(config, stage, work_dir, gpus)
    prompts = rl_prompts(records, tokenizer, where)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    reward = reward_fn or irm_reward_function(irm.get("rewards"), irm["reward_clip"])
    trainer = GRPOTrainer(model=model, reward_funcs=[reward], args=args,
                          train_dataset=Dataset.from_list(prompts), processing_class=tokenizer)
    if os.environ.get(KILL_ENV):  # tests: a crash right after a checkpoint, as for sft stages
        trainer.add_callback(KillAfterStep(int(os.environ[KILL_ENV])))
    resume = last_complete_checkpoint(work_dir)  # a save cut short by a kill is skipped
    if resume:
        log.info("resuming from %s", resume)
    log.info("IRM (GRPO): %d RL prompts, %d generations each, kl_coef %s, clip %s", len(prompts),
             irm["num_generations"], irm["kl_coef"], irm["clip_range"])
    start = time.time()
    trainer.train(resume_from_checkpoint=resume)
    rows = grpo_log_rows(trainer.state.log_history)
    rewards = [r["reward"] for r in rows if r["reward"] is not None]
    return {"rows": rows, "seconds": time.time() - start, "resumed_from": resume,
            "tokens_seen": sum(r["tokens"] for r in rows), "steps": trainer.state.global_step,
            "is_main": trainer.is_world_process_zero(), "samples": len(prompts),
            "reward_first": rewards[0] if rewards else None, "reward_last": rewards[-1] if rewards else None,
            "kl_last": next((r["kl"] for r in reversed(rows) if r["kl"] is not None), None)}


RL_KINDS = {"ppo": train_ppo, "grpo": train_grpo}  # stage kinds that run IRM, and what runs them


def train_irm(model, tokenizer, records: list[dict], config: dict, stage: dict, work_dir: str | Path,
              gpus: int = 0, reward_fn=None, where: str = "records") -> dict:
    """Run the IRM stage ``stage`` by its kind (``RL_KINDS``)."""
    kind = stage.get("kind", "sft")
    if kind not in RL_KINDS:
        raise ConfigError(f"stage {stage.get('name')!r}: kind {kind!r} is not an IRM kind ({', '.join(RL_KINDS)})")
    return RL_KINDS[kind](model, tokenizer, records, config, stage, work_dir, gpus, reward_fn=reward_fn, where=where)
