"""Training throughput and peak memory: FT, LoRA, each CITI stage and TL-Training's IRM (PPO) on SmolLM2-135M
(CPU; GPU too when present).

    python benchmarks/bench_training.py [--model-dir DIR] [--mixture FILE] [--steps N]

Each variant runs in its own process (so peak RSS is its own): the default config's
batch and cutoff, a few optimiser steps after one warm-up step; the IRM variant runs the
pipeline's own PPO loop (rollout, then update) for as many IRM steps after one warm-up step. Writes
results/perf/bench_training.json. Targets (exit 1 when missed):
- every variant's peak memory fits the default config's train memory (resources.train.mem_mb);
- the training jobs of the default config's main table (`results/tables/main.csv`, which must build
  in 30 min on 2 cores), projected from the measured tokens/s and the mixtures' token counts, fit
  TRAIN_BUDGET_S. Every other method's stages are projected too (reported only), TL-Training's
  `kind: ppo` (IRM) stages from the measured seconds per IRM step (see projected_seconds).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from citi import paths  # noqa: E402
from citi.config import load_config  # noqa: E402

MODEL = "smollm2-135m-instruct"
TRAIN_BUDGET_S = 15 * 60  # training's share of the 30 min main-table run
# variant -> (method in the default config, stage)
VARIANTS = {"ft": ("ft", 1), "lora": ("lora", 1), "citi_rp": ("citi", 1), "citi_mi": ("citi", 2),
            "citi_uco": ("citi", 3), "tl_irm": ("tl_training", 2)}


def selection_for(model) -> dict:
    """A fixed 20% MOLoRA set and 10% unfrozen set (speed does not depend on which modules)."""
    from citi.importance.components import list_components

    names = [full for _, _, full in list_components(model)]
    return {"molora": names[::5], "unfrozen": names[2::10]}


def measure(variant: str, model_dir: str, mixture: str, steps: int, device: str) -> dict:
    import torch

    from citi.data.mixtures import read_records
    from citi.methods.molora import routing_loss
    from citi.models import load
    from citi.training.collator import Collator, encode_records, pad_id
    from citi.training.groups import set_trainable
    from citi.training.adapters import method_stage, prepare_model

    config = load_config(REPO / "config" / "config.yaml")
    method, stage = VARIANTS[variant]
    spec, stage_spec = method_stage(config, method, stage)
    torch.manual_seed(0)
    model, tok = load(model_dir, dtype="float32")
    selection = selection_for(model)
    model = prepare_model(model, config, method, 1, selection)  # every CITI stage runs on the MOLoRA model
    n_trainable = set_trainable(model, stage_spec["trainable"], selection)
    if stage_spec.get("kind") == "ppo":
        return measure_ppo(variant, model, tok, config, stage_spec, mixture, steps, device, n_trainable)
    model.to(device).train()
    tr = config["training"]
    samples = encode_records(read_records(mixture), tok, tr["cutoff_len"])
    collate = Collator(pad_id(tok))
    batch_size = stage_spec.get("per_device_batch", tr["per_device_batch"])
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    use_routing = bool(stage_spec.get("routing_loss"))
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda" else torch.autocast("cpu", enabled=False)
    tokens, seconds = 0, 0.0
    for step in range(steps + 1):
        batch = collate(samples[step * batch_size:(step + 1) * batch_size])
        batch = {k: v.to(device) for k, v in batch.items()}
        task_type = batch.pop("task_type")
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with amp:
            loss = model(**batch).loss
            if use_routing:
                loss = loss + 0.01 * routing_loss(model, task_type, batch["attention_mask"])
        loss.backward()
        optim.step()
        optim.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        if step > 0:  # step 0 warms up allocators and kernels
            seconds += time.perf_counter() - start
            tokens += int(batch["attention_mask"].sum())
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"variant": variant, "device": device, "tokens_per_s": round(tokens / seconds, 1),
            "peak_mem_mb": round(peak), "trainable_parameters": n_trainable, "steps": steps,
            "batch_size": batch_size, "torch_threads": torch.get_num_threads()}


def measure_ppo(variant: str, model, tok, config: dict, stage_spec: dict, mixture: str, steps: int, device: str,
                n_trainable: int) -> dict:
    """Seconds per IRM step of the pipeline's PPO loop (methods/tl_training/ppo.py): a greedy rollout of
    ``prompts_per_step`` x ``num_generations`` completions (policy, reference and critic forwards) and
    its ``ppo_epochs`` x ``minibatches`` updates of actor and critic, on the RL prompts of the mixed
    mixture's tool records (the same tool data the TL mixtures re-cut per turn). Step 0 warms up."""
    import tempfile

    import torch

    from citi.data.mixtures import read_records
    from citi.methods.tl_training.irm import irm_reward_function, rl_prompts
    from citi.methods.tl_training.ppo import PPO, step_prompts

    irm = config["tl_training"]["irm"]
    prompts = rl_prompts(read_records(mixture), tok, mixture)
    reward = irm_reward_function(irm.get("rewards"), irm["reward_clip"])
    with tempfile.TemporaryDirectory() as work_dir:
        ppo = PPO(model, tok, prompts, reward, config, {**stage_spec, "max_steps": steps + 1}, Path(work_dir),
                  gpus=1 if device == "cuda" else 0)
        tokens, seconds, completion = 0, 0.0, 0.0
        for step in range(steps + 1):
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            batch = ppo.rollout(step_prompts(ppo.prompts, step, ppo.s["prompts_per_step"], ppo.rank, ppo.world,
                                             ppo.seed))
            ppo.update(batch)
            if device == "cuda":
                torch.cuda.synchronize()
            if step > 0:
                seconds += time.perf_counter() - start
                tokens += batch["tokens"]
                completion += float(batch["mask"].sum(1).float().mean())
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"variant": variant, "device": device, "tokens_per_s": round(tokens / seconds, 1),
            "seconds_per_step": round(seconds / steps, 2), "mean_completion_tokens": round(completion / steps, 1),
            "rl_prompts": len(prompts), "peak_mem_mb": round(peak), "trainable_parameters": n_trainable,
            "steps": steps, "batch_size": ppo.rollout_rows, "torch_threads": torch.get_num_threads()}


def rl_prompt_count(mixture: str, model_dir: str) -> int:
    from transformers import AutoTokenizer

    from citi.data.mixtures import read_records
    from citi.methods.tl_training.irm import rl_prompts

    return len(rl_prompts(read_records(mixture), AutoTokenizer.from_pretrained(model_dir), mixture))


def ppo_steps(config: dict, stage: dict, n_prompts: int | None) -> int | None:
    """IRM steps as methods/tl_training/ppo.py counts them on one process: max_steps when set, else epochs over
    the RL prompts at prompts_per_step a step (None: the prompts are not known)."""
    if stage.get("max_steps", -1) > 0:
        return stage["max_steps"]
    if n_prompts is None:
        return None
    return math.ceil(stage["epochs"] * math.ceil(n_prompts / config["tl_training"]["irm"]["prompts_per_step"]))


def mixture_tokens(mixture: str, model_dir: str, cutoff: int) -> int:
    from transformers import AutoTokenizer

    from citi.data.mixtures import read_records
    from citi.training.collator import encode_records

    tok = AutoTokenizer.from_pretrained(model_dir)
    return sum(len(s["input_ids"]) for s in encode_records(read_records(mixture), tok, cutoff))


def projected_seconds(config: dict, cpu: dict, mixtures: dict[str, str], model_dir: str) -> dict:
    """Default-config training time: every stage of every method, at the measured rate of its kind.

    An SFT stage costs its mixture's tokens x epochs at its kind's measured tokens/s. A ``kind: ppo``
    stage (TL-Training's IRM) does not run epochs over its mixture's tokens: its work is IRM steps
    (on-policy rollouts, each generated, scored by three models and trained on), so it is projected
    as its step count (``ppo_steps``: max_steps, else epochs over the mixture's RL prompts) x the
    measured seconds per step of the pipeline's own PPO loop (variant tl_irm). A step's cost follows
    its prompt and completion lengths, which the measurement takes from the same tool data.
    A ``kind: grpo`` stage (trl's GRPOTrainer) is not measured and is left out, and said so."""
    kind = {"all": "ft", "selected": "ft", "lora": "lora", "molora_router": "citi_rp",
            "molora_experts": "citi_mi", "unfrozen": "citi_uco"}
    counts, prompts = {}, {}
    out = {}
    for method, spec in config["methods"].items():
        if "stages" not in spec:
            continue
        mix = mixtures.get(spec["mixture"])
        for i, stage in enumerate(spec["stages"], 1):
            key = f"{method}/stage{i}"
            if stage.get("kind", "sft") == "ppo":
                if mix is not None and mix not in prompts and stage.get("max_steps", -1) <= 0:
                    prompts[mix] = rl_prompt_count(mix, model_dir)
                steps = ppo_steps(config, stage, prompts.get(mix))
                if steps is not None:  # else: no built mixture to count its RL prompts, as for SFT stages
                    out[key] = round(steps * cpu["tl_irm"]["seconds_per_step"], 1)
                continue
            if stage.get("kind", "sft") != "sft":
                print(f"note: {key} is of kind {stage['kind']!r}, not measured: left out of the projection",
                      file=sys.stderr)
                continue
            if mix is None:
                continue
            if mix not in counts:
                counts[mix] = mixture_tokens(mix, model_dir, config["training"]["cutoff_len"])
            variant = kind[stage["trainable"][-1]]
            out[key] = round(counts[mix] * stage["epochs"] / cpu[variant]["tokens_per_s"], 1)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=paths.MODEL.format(model=MODEL))
    parser.add_argument("--mixtures-dir", default=str(Path(paths.MIXTURE.format(mixture="x")).parent),
                        help="folder holding the default config's built mixtures (tool.jsonl, mixed.jsonl, ...)")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--ppo-steps", type=int, default=2,
                        help="IRM steps measured for the ppo variant (one takes minutes on 2 CPU cores)")
    parser.add_argument("--out", default=f"{paths.PERF}/bench_training.json")
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # child process: one measurement
    parser.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = parser.parse_args()
    mixtures = {p.stem: str(p) for p in Path(args.mixtures_dir).glob("*.jsonl")}
    if "mixed" not in mixtures:
        print(f"error: no mixed.jsonl in {args.mixtures_dir}; build the default mixtures first "
              f"(snakemake results/mixtures/mixed.jsonl results/mixtures/tool.jsonl)", file=sys.stderr)
        return 2
    if not Path(args.model_dir).is_dir():
        print(f"error: no model at {args.model_dir}; python scripts/materialize_model.py --model {MODEL} "
              f"--folder {args.model_dir}", file=sys.stderr)
        return 2
    if args.variant:
        print(json.dumps(measure(args.variant, args.model_dir, mixtures["mixed"], args.steps, args.device)))
        return 0

    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    results = {d: {} for d in devices}
    for device in devices:
        for variant in VARIANTS:
            proc = subprocess.run([sys.executable, __file__, "--variant", variant, "--device", device,
                                   "--model-dir", args.model_dir, "--mixtures-dir", args.mixtures_dir,
                                   "--steps", str(args.ppo_steps if variant == "tl_irm" else args.steps)],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                print(proc.stderr[-3000:], file=sys.stderr)
                return 1
            results[device][variant] = json.loads(proc.stdout.strip().splitlines()[-1])
            print(device, variant, results[device][variant], flush=True)
    config = load_config(REPO / "config" / "config.yaml")
    mem_limit = config["resources"]["train"]["mem_mb"]
    projection = projected_seconds(config, results["cpu"], mixtures, args.model_dir)
    main_methods = config["tables"]["main_methods"]
    total = round(sum(s for key, s in projection.items() if key.split("/")[0] in main_methods), 1)
    targets = {
        "peak_mem_within_train_mem_mb": all(r["peak_mem_mb"] <= mem_limit for r in results["cpu"].values()),
        "default_training_within_budget": total <= TRAIN_BUDGET_S,
    }
    report = {"model": MODEL, "results": results, "train_mem_mb": mem_limit,
              "default_config_projected_training_s": {"per_stage": projection, "main_table_methods": main_methods,
                                                      "main_table_total": total, "budget": TRAIN_BUDGET_S},
              "targets": targets}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"projected_total_s": total, "targets": targets}))
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
