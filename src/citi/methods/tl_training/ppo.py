"""PPO in plain torch: TL-Training's IRM as its DeepSpeed-Chat fork runs it (docs tl-training.md, sec. 3).

The installed trl (1.16) has no PPOTrainer, in its main namespace or in ``trl.experimental``, so
the loop is written out here, following DeepSpeed-Chat's ``ppo_trainer.py``:

- actor: the stage's model (trained in place); reference: a frozen copy of it taken before the
  first step (the stage's input, the PKT model); critic: a copy of the actor's backbone (the
  decoder without its LM head) plus a new bias-free linear value head on the last hidden state,
  trained by its own AdamW at ``critic_lr_scale`` x the stage's lr (the paper: 1e-7 / 2e-7).
  A separate critic is what the paper trains; a head on the actor's own hidden states would be
  lighter, but its value loss would either move the actor or (detached) leave the critic with
  features it cannot adapt. The cost: a second copy of the weights and its optimiser state.
- rollout: ``prompts_per_step`` prompts per process, ``num_generations`` completions each,
  greedy when ``temperature`` is 0 (the paper's), else sampled at that temperature (no top-k /
  top-p); a completion ends at its first EOS (kept) or after ``max_new_tokens``.
- reward per completion token: -``kl_coef`` * (log pi - log pi_ref) of the sampled token, plus the
  task reward clipped to +-``reward_clip`` at the last token. Log-probabilities come from the
  raw logits (DeepSpeed-Chat's; not divided by the sampling temperature).
- GAE with ``gamma`` and ``lam`` over the completion (value 0 after its last token), returns =
  advantages + values; no advantage or reward whitening (the paper's).
- ``ppo_epochs`` passes over each rollout, in ``minibatches`` shuffled minibatches, one optimiser
  step of actor and critic each: clipped policy loss (``clip_range``), and the value loss
  0.5 * max((V - R)^2, (clip(V, V_old +- value_clip) - R)^2), both token means over the minibatch.

One training-log row per rollout (an IRM step): mean task reward and its spread, the KL to the
reference (mean over completions of the summed per-token log-ratio), policy and value loss, the
clipped fraction, completion length. The run is seeded (weights of the value head, prompt order,
sampling), saves a resumable checkpoint every ``training.save_steps`` rollouts, and runs under
DDP through accelerate when launched on several GPUs.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import shutil
import signal
import time
from pathlib import Path

import torch
from torch import nn

from ...precision import effective_precision, on_gpu as uses_gpu
from ...training.trainer import KILL_ENV, last_complete_checkpoint

log = logging.getLogger("citi.training")


# ---- the algorithm, on padded (batch, completion) tensors; mask 1 on completion tokens ------------

def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log p(token) under ``logits`` (batch, T, vocab) for ``tokens`` (batch, T)."""
    return torch.log_softmax(logits.float(), dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def token_rewards(task_reward: torch.Tensor, logprobs: torch.Tensor, ref_logprobs: torch.Tensor,
                  mask: torch.Tensor, kl_coef: float) -> torch.Tensor:
    """-kl_coef * (log pi - log pi_ref) on every completion token, plus the task reward on the last."""
    rewards = -kl_coef * (logprobs - ref_logprobs) * mask
    last = mask.sum(1).long() - 1
    rewards[torch.arange(len(last)), last] += task_reward
    return rewards


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float,
        lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and returns. delta_t = r_t + gamma V_{t+1} - V_t, with V = 0
    past a completion's last token; A_t = delta_t + gamma lam A_{t+1}; returns = A + V."""
    rewards, values = rewards * mask, values * mask
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        next_value = values[:, t + 1] if t + 1 < rewards.shape[1] else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = delta + gamma * lam * last
        advantages[:, t] = last
    advantages = advantages * mask
    return advantages, (advantages + values) * mask


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1)


def policy_loss(logprobs, old_logprobs, advantages, mask, clip: float) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate (a loss: lower is better) and the fraction of tokens whose ratio was clipped."""
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped, clipped = -advantages * ratio, -advantages * torch.clamp(ratio, 1 - clip, 1 + clip)
    return masked_mean(torch.max(unclipped, clipped), mask), masked_mean((clipped > unclipped).float(), mask)


def value_loss(values, old_values, returns, mask, clip: float) -> torch.Tensor:
    clipped = torch.clamp(values, old_values - clip, old_values + clip)
    return 0.5 * masked_mean(torch.max((values - returns) ** 2, (clipped - returns) ** 2), mask)


def completion_mask(tokens: torch.Tensor, eos_ids: list[int]) -> torch.Tensor:
    """1 on each completion's tokens up to and including its first EOS, 0 on the padding after it."""
    is_eos = torch.isin(tokens, torch.tensor(eos_ids, device=tokens.device))
    after_eos = (is_eos.long().cumsum(1) - is_eos.long()) > 0
    return (~after_eos).float()


class ValueModel(nn.Module):
    """The critic: a transformer backbone and a bias-free linear head giving one value per position."""

    def __init__(self, backbone: nn.Module, hidden_size: int):
        super().__init__()
        self.backbone = backbone
        self.v_head = nn.Linear(hidden_size, 1, bias=False)

    def forward(self, input_ids, attention_mask, position_ids):
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                               use_cache=False).last_hidden_state
        return self.v_head(hidden.to(self.v_head.weight.dtype)).squeeze(-1)


def critic_from(policy: nn.Module) -> ValueModel:
    """A trainable copy of the policy's backbone (no LM head) with a new value head."""
    backbone = copy.deepcopy(policy.get_decoder())
    for p in backbone.parameters():
        p.requires_grad_(True)
    hidden = policy.config.get_text_config().hidden_size
    return ValueModel(backbone, hidden).to(next(backbone.parameters()).device)


# ---- settings, prompts, rollouts -----------------------------------------------------------------

def ppo_settings(irm: dict) -> dict:
    keys = ("kl_coef", "clip_range", "value_clip", "reward_clip", "gamma", "lam", "ppo_epochs", "minibatches",
            "num_generations", "prompts_per_step", "temperature", "max_new_tokens", "critic_lr_scale",
            "warmup_steps", "adam_beta2")
    return {k: irm[k] for k in keys}


def encode_prompts(prompts: list[dict], tokenizer) -> list[dict]:
    """Token ids per prompt, whole (the paper's prompts, <= 8192 tokens, were not cut either)."""
    return [{**p, "input_ids": tokenizer(p["prompt"])["input_ids"]} for p in prompts]


def left_pad(seqs: list[list[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.tensor([[pad_id] * (width - len(s)) + s for s in seqs], device=device)
    mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in seqs], device=device)
    return ids, mask


def positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids that start at 0 on each row's first real token (left padding), as generate counts them."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def eos_ids(model, tokenizer) -> list[int]:
    eos = getattr(model.generation_config, "eos_token_id", None)
    eos = tokenizer.eos_token_id if eos is None else eos
    return sorted({e for e in (eos if isinstance(eos, list) else [eos]) + [tokenizer.eos_token_id] if e is not None})


def prompt_order(n: int, seed: int, epoch: int) -> list[int]:
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g).tolist()


def step_prompts(prompts: list[dict], step: int, per_process: int, rank: int, world: int, seed: int) -> list[dict]:
    """This process's prompts for rollout ``step`` (0-based): consecutive slices of a seeded
    permutation per epoch, ``per_process`` for each of the ``world`` processes."""
    n, per_step = len(prompts), per_process * world
    picked = []
    for k in range(step * per_step + rank * per_process, step * per_step + (rank + 1) * per_process):
        picked.append(prompts[prompt_order(n, seed, k // n)[k % n]])
    return picked


# ---- the training loop ---------------------------------------------------------------------------

class PPO:
    """One IRM stage: ``train`` runs the rollouts and updates; ``rows`` is the training log."""

    def __init__(self, policy, tokenizer, prompts: list[dict], reward_fn, config: dict, stage: dict,
                 work_dir: Path, gpus: int = 0):
        from accelerate import Accelerator
        from transformers import get_scheduler, set_seed

        self.tr, self.s, self.stage = config["training"], ppo_settings(config["tl_training"]["irm"]), stage
        self.work_dir, self.reward_fn, self.tokenizer = Path(work_dir), reward_fn, tokenizer
        on_gpu = uses_gpu(gpus)
        precision = effective_precision(self.tr["precision"], on_gpu)
        self.acc = Accelerator(cpu=not on_gpu, mixed_precision={"fp32": "no"}.get(precision, precision))
        self.rank, self.world = self.acc.process_index, self.acc.num_processes
        self.seed = self.tr["seed"]
        self.prompts = encode_prompts(prompts, tokenizer)

        set_seed(self.seed)  # the value head's initialisation (the same on every process)
        self.eos = eos_ids(policy, tokenizer)
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos[0]
        self.ref = copy.deepcopy(policy).eval().requires_grad_(False)
        if precision in ("bf16", "fp16"):  # half the memory; autocast ran its matmuls in half precision anyway
            self.ref.to({"bf16": torch.bfloat16, "fp16": torch.float16}[precision])
        self.ref.to(self.acc.device)
        critic = critic_from(policy)
        if self.tr["gradient_checkpointing"]:
            for m in (policy, critic.backbone):
                m.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        betas = (0.9, self.s["adam_beta2"])
        actor_opt = torch.optim.AdamW([p for p in policy.parameters() if p.requires_grad], lr=stage["lr"],
                                      betas=betas, weight_decay=0.0)
        critic_opt = torch.optim.AdamW(critic.parameters(), lr=stage["lr"] * self.s["critic_lr_scale"],
                                       betas=betas, weight_decay=0.0)
        self.steps_per_epoch = math.ceil(len(self.prompts) / (self.s["prompts_per_step"] * self.world))
        max_steps = stage.get("max_steps", -1)
        self.total_steps = max_steps if max_steps > 0 else math.ceil(stage["epochs"] * self.steps_per_epoch)
        updates = self.total_steps * self.s["ppo_epochs"] * min(self.s["minibatches"], self.rollout_rows)
        self.schedulers = [get_scheduler(self.tr["scheduler"], opt, num_warmup_steps=self.s["warmup_steps"],
                                         num_training_steps=updates) for opt in (actor_opt, critic_opt)]
        self.policy, self.critic, self.actor_opt, self.critic_opt = self.acc.prepare(policy, critic, actor_opt,
                                                                                    critic_opt)
        self.step, self.rows = 0, []

    @property
    def rollout_rows(self) -> int:
        return self.s["prompts_per_step"] * self.s["num_generations"]

    # -- experience --

    def forward_logprobs(self, model, batch: dict) -> torch.Tensor:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       position_ids=batch["position_ids"], use_cache=False).logits
        p = batch["prompt_len"]
        return token_logprobs(logits[:, p - 1:-1], batch["input_ids"][:, p:])

    def forward_values(self, batch: dict) -> torch.Tensor:
        values = self.critic(batch["input_ids"], batch["attention_mask"], batch["position_ids"])
        return values[:, batch["prompt_len"] - 1:-1].float()

    @torch.no_grad()
    def rollout(self, prompts: list[dict]) -> dict:
        from transformers import GenerationConfig

        s = self.s
        rows = [p for p in prompts for _ in range(s["num_generations"])]
        prompt_ids, prompt_mask = left_pad([p["input_ids"] for p in rows], self.pad, self.acc.device)
        greedy = s["temperature"] == 0
        gen = GenerationConfig(do_sample=not greedy, temperature=None if greedy else s["temperature"],
                               top_k=None if greedy else 0, top_p=None if greedy else 1.0,
                               max_new_tokens=s["max_new_tokens"], eos_token_id=self.eos, pad_token_id=self.pad)
        policy = self.acc.unwrap_model(self.policy)
        policy.eval()
        self.critic.eval()
        with self.acc.autocast():
            out = policy.generate(input_ids=prompt_ids, attention_mask=prompt_mask, generation_config=gen)
            completion = out[:, prompt_ids.shape[1]:]
            mask = completion_mask(completion, self.eos)
            batch = {"input_ids": out, "prompt_len": prompt_ids.shape[1]}
            batch["attention_mask"] = torch.cat([prompt_mask, mask.long()], dim=1)
            batch["position_ids"] = positions(batch["attention_mask"])
            batch["mask"] = mask
            batch["logprobs"] = self.forward_logprobs(self.policy, batch) * mask
            batch["ref_logprobs"] = self.forward_logprobs(self.ref, batch) * mask
            batch["values"] = self.forward_values(batch) * mask
        texts = self.tokenizer.batch_decode(completion * mask.long() + self.pad * (1 - mask.long()),
                                            skip_special_tokens=True)
        scores = self.reward_fn(prompts=[r["prompt"] for r in rows], completions=texts,
                                gold_call=[r.get("gold_call") for r in rows],
                                tool_names=[r.get("tool_names") for r in rows])
        clip = s["reward_clip"]
        batch["task_reward"] = torch.tensor([max(-clip, min(clip, float(x))) for x in scores], device=self.acc.device)
        batch["rewards"] = token_rewards(batch["task_reward"], batch["logprobs"], batch["ref_logprobs"], mask,
                                         s["kl_coef"])
        batch["advantages"], batch["returns"] = gae(batch["rewards"], batch["values"], mask, s["gamma"], s["lam"])
        batch["tokens"] = int(batch["attention_mask"].sum())
        return batch

    # -- update --

    def update(self, batch: dict) -> dict:
        s, n = self.s, batch["input_ids"].shape[0]
        self.policy.train()
        self.critic.train()
        sums = {"policy_loss": 0.0, "value_loss": 0.0, "clipfrac": 0.0}
        updates = 0
        g = torch.Generator().manual_seed(self.seed * 7919 + self.step)
        for _ in range(s["ppo_epochs"]):
            for idx in torch.randperm(n, generator=g).tensor_split(min(s["minibatches"], n)):
                idx = idx.to(self.acc.device)
                mb = {k: (v[idx] if isinstance(v, torch.Tensor) and v.dim() > 0 else v) for k, v in batch.items()}
                logprobs = self.forward_logprobs(self.policy, mb)
                pg, clipfrac = policy_loss(logprobs, mb["logprobs"], mb["advantages"], mb["mask"], s["clip_range"])
                vf = value_loss(self.forward_values(mb), mb["values"], mb["returns"], mb["mask"], s["value_clip"])
                self.acc.backward(pg + vf)  # disjoint parameters: the same as one backward pass each
                for model, opt, sched in ((self.policy, self.actor_opt, self.schedulers[0]),
                                          (self.critic, self.critic_opt, self.schedulers[1])):
                    if self.tr["max_grad_norm"] > 0:
                        self.acc.clip_grad_norm_([p for p in model.parameters() if p.requires_grad],
                                                 self.tr["max_grad_norm"])
                    opt.step()
                    sched.step()
                    opt.zero_grad(set_to_none=True)
                sums["policy_loss"] += float(pg.detach())
                sums["value_loss"] += float(vf.detach())
                sums["clipfrac"] += float(clipfrac)
                updates += 1
        return {k: v / updates for k, v in sums.items()}

    def log_row(self, batch: dict, losses: dict) -> dict:
        mask = batch["mask"]
        kl = ((batch["logprobs"] - batch["ref_logprobs"]) * mask).sum(1)
        local = torch.stack([batch["task_reward"].mean(), batch["task_reward"].std(unbiased=False), kl.mean(),
                             mask.sum(1).mean(), masked_mean(batch["values"], mask),
                             *(torch.tensor(losses[k], device=kl.device) for k in ("policy_loss", "value_loss",
                                                                                     "clipfrac"))]).double()
        tokens = torch.tensor(float(batch["tokens"]), device=kl.device, dtype=torch.float64)
        if self.world > 1:
            local, tokens = self.acc.reduce(local, "mean"), self.acc.reduce(tokens, "sum")
        reward, reward_std, kl_mean, length, value, pg, vf, clipfrac = local.tolist()
        return {"step": self.step, "epoch": round(self.step / self.steps_per_epoch, 4), "loss": pg,
                "ce_loss": None, "routing_loss": None, "lr": self.schedulers[0].get_last_lr()[0],
                "tokens": int(tokens), "reward": reward, "reward_std": reward_std, "kl": kl_mean,
                "policy_loss": pg, "value_loss": vf, "value": value, "clipfrac": clipfrac,
                "completion_length": length}

    def train(self) -> dict:
        resume = last_complete_checkpoint(self.work_dir)
        if resume:
            log.info("resuming from %s", resume)
            self.load(Path(resume))
        else:
            torch.manual_seed(self.seed + self.rank)  # rollouts: each process samples its own
        log.info("IRM (PPO): %d prompts, %d per step and process, %d completion(s) each, %s, %d steps",
                 len(self.prompts), self.s["prompts_per_step"], self.s["num_generations"],
                 "greedy" if self.s["temperature"] == 0 else f"temperature {self.s['temperature']}",
                 self.total_steps)
        start = time.time()
        while self.step < self.total_steps:
            batch = self.rollout(step_prompts(self.prompts, self.step, self.s["prompts_per_step"], self.rank,
                                              self.world, self.seed))
            losses = self.update(batch)
            self.step += 1
            self.rows.append(self.log_row(batch, losses))
            log.info("IRM step %d/%d: %s", self.step, self.total_steps,
                     {k: round(v, 4) for k, v in self.rows[-1].items() if isinstance(v, float)})
            if self.step % self.tr["save_steps"] == 0 and self.step < self.total_steps:
                self.save()
        rewards = [r["reward"] for r in self.rows]
        return {"rows": self.rows, "seconds": time.time() - start, "resumed_from": resume,
                "tokens_seen": sum(r["tokens"] for r in self.rows), "steps": self.step,
                "is_main": self.acc.is_main_process, "samples": len(self.prompts),
                "reward_first": rewards[0] if rewards else None, "reward_last": rewards[-1] if rewards else None,
                "kl_last": self.rows[-1]["kl"] if self.rows else None}

    # -- resumable checkpoints: checkpoint-<step>/state.pt, then trainer_state.json last --

    def save(self) -> None:
        self.acc.wait_for_everyone()
        folder = self.work_dir / f"checkpoint-{self.step}"
        if self.acc.is_main_process:
            folder.mkdir(parents=True, exist_ok=True)
            torch.save({"policy": self.acc.unwrap_model(self.policy).state_dict(),
                        "critic": self.acc.unwrap_model(self.critic).state_dict(),
                        "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
                        "schedulers": [s.state_dict() for s in self.schedulers]}, folder / "state.pt")
        rng = {"cpu": torch.get_rng_state(),
               "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(rng, folder / f"rng_{self.rank}.pt")
        self.acc.wait_for_everyone()
        if self.acc.is_main_process:
            (folder / "trainer_state.json").write_text(json.dumps({"global_step": self.step, "rows": self.rows}))
            for old in self.work_dir.glob("checkpoint-*"):
                if old != folder:
                    shutil.rmtree(old, ignore_errors=True)
        self.acc.wait_for_everyone()
        if os.environ.get(KILL_ENV) and self.step >= int(os.environ[KILL_ENV]):
            os.kill(os.getpid(), signal.SIGKILL)  # tests: a crash right after a checkpoint

    def load(self, folder: Path) -> None:
        state = torch.load(folder / "state.pt", map_location="cpu", weights_only=False)
        self.acc.unwrap_model(self.policy).load_state_dict(state["policy"])
        self.acc.unwrap_model(self.critic).load_state_dict(state["critic"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        for sched, sd in zip(self.schedulers, state["schedulers"]):
            sched.load_state_dict(sd)
        saved = json.loads((folder / "trainer_state.json").read_text())
        self.step, self.rows = saved["global_step"], saved["rows"]
        rng = torch.load(folder / f"rng_{self.rank}.pt", weights_only=False)
        torch.set_rng_state(rng["cpu"])
        if rng["cuda"]:
            torch.cuda.set_rng_state_all(rng["cuda"])


def run_ppo(policy, tokenizer, prompts: list[dict], reward_fn, config: dict, stage: dict, work_dir: str | Path,
            gpus: int = 0) -> dict:
    """Train ``policy`` in place by PPO on ``prompts`` (``irm.rl_prompts``); the stage statistics."""
    return PPO(policy, tokenizer, prompts, reward_fn, config, stage, Path(work_dir), gpus).train()
