"""MOLoRA training-step cost vs. a plain peft LoRA step on SmolLM2-135M-Instruct (CPU or GPU).

Both adapt the same 20% of the decoder's linear modules (seeded random pick): MOLoRA with 4
experts of rank 8 plus routers (CE + beta * routing loss, experts and routers trained, i.e.
stage 2), LoRA with rank 8. Step times come from interleaved steps in one process (so a
busy machine slows both alike); peak memory from one child process per method. Target (exit 1 if missed): MOLoRA step time <= 1.3x the LoRA step time.

    python benchmarks/bench_molora.py [--model-dir DIR] [--steps 6] [--batch 4] [--seq 128]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from citi import paths  # noqa: E402
from citi.config import load_config  # noqa: E402
from citi.io import write_json  # noqa: E402
from citi.methods.molora import MoloraConfig, inject_molora, molora_parameters, routing_loss  # noqa: E402
from citi.models import load, materialize  # noqa: E402

MODEL = "smollm2-135m-instruct"
TARGET_RATIO = 1.3
FRACTION = 0.2
METHODS = ("lora", "molora")


def pick_targets(model, seed: int = 0) -> list[str]:
    """20% of the decoder layers' nn.Linear modules, drawn with a fixed seed (lm_head excluded)."""
    names = sorted(n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and ".layers." in n)
    return sorted(random.Random(seed).sample(names, round(FRACTION * len(names))))


def prepare(method: str, model, targets: list[str]):
    """(model, trainable params, extra loss) for one method; the base stays frozen."""
    for p in model.parameters():
        p.requires_grad_(False)
    if method == "molora":
        cfg = MoloraConfig(experts=4, rank=8, target_modules=targets)
        inject_molora(model, cfg)
        params = [p for part in ("router", "experts") for _, p in molora_parameters(model, part)]
        for p in params:
            p.requires_grad_(True)
        return model, params, lambda task, mask: cfg.beta * routing_loss(model, task, mask)
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=targets))
    return model, [p for p in model.parameters() if p.requires_grad], lambda task, mask: 0.0


def setup(method: str, args, device: str):
    """A fresh model with ``method`` applied, its optimiser, and a step function."""
    torch.manual_seed(0)
    model, _ = load(args.model_dir, dtype="float32", device=device)
    targets = pick_targets(model)
    model, params, extra = prepare(method, model.train(), targets)
    opt = torch.optim.AdamW(params, lr=2e-4)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(10, min(40000, model.config.vocab_size), (args.batch, args.seq), generator=g).to(device)  # random ids within the vocabulary
    mask = torch.ones_like(ids)
    task = torch.tensor([1, 0] * (args.batch // 2) + [1] * (args.batch % 2), device=device)

    def step() -> float:
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = model(input_ids=ids, attention_mask=mask, labels=ids)
        (out.loss + extra(task, mask)).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    info = {"targets": len(targets), "trainable_params": sum(p.numel() for p in params)}
    return step, info


def peak_memory(method: str, args) -> dict:
    """Child-process mode: two steps of one method alone, so the peak is that method's own."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    step, info = setup(method, args, device)
    reset_peak_rss()  # loading peaks higher than training on CPU; measure the training steps only
    step(), step()
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else peak_rss_mib())
    return {**info, "peak_memory_mib": peak}


def reset_peak_rss() -> None:
    """Linux: writing 5 to clear_refs resets VmHWM (the process's peak RSS) to the current RSS."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # then VmHWM includes loading; still a fair comparison, both methods load alike


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timings(args, device: str) -> dict:
    """Steps of both methods interleaved (LoRA, MOLoRA, LoRA, ...) so that load from other
    processes hits both alike; two warm-up steps each, then the median."""
    steps = {m: setup(m, args, device)[0] for m in METHODS}
    times = {m: [] for m in METHODS}
    for i in range(args.steps + 2):
        for m in METHODS:
            t = steps[m]()
            if i >= 2:
                times[m].append(t)
    return {m: {"step_s_median": statistics.median(t), "step_s_all": t,
                "tokens_per_s": args.batch * args.seq / statistics.median(t)} for m, t in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=paths.MODEL.format(model=MODEL))
    parser.add_argument("--steps", type=int, default=6, help="timed steps per method (median taken)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--out", default=f"{paths.PERF}/bench_molora.json")
    parser.add_argument("--one", choices=["molora", "lora"], help=argparse.SUPPRESS)  # child-process mode
    args = parser.parse_args()
    if args.one:
        print(json.dumps(peak_memory(args.one, args)))
        return 0
    if not Path(args.model_dir).is_dir():
        materialize(MODEL, load_config(REPO / "config/config.yaml")["models"][MODEL], args.model_dir)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    res = timings(args, device)
    for method in METHODS:
        cmd = [sys.executable, __file__, "--one", method, "--model-dir", str(args.model_dir),
               "--batch", str(args.batch), "--seq", str(args.seq)]
        child = subprocess.run(cmd, capture_output=True, text=True)
        if child.returncode != 0:
            sys.stderr.write(child.stderr[-3000:])
            return 1
        res[method].update(json.loads(child.stdout.strip().splitlines()[-1]))
    ratio = res["molora"]["step_s_median"] / res["lora"]["step_s_median"]
    figures = {
        "model": MODEL, "device": device, "torch_threads": torch.get_num_threads(), "batch": args.batch, "seq": args.seq,
        "timed_steps": args.steps, "fraction_of_linear_modules": FRACTION, "molora": res["molora"], "lora": res["lora"],
        "step_time_ratio_molora_vs_lora": ratio,
        "memory_ratio_molora_vs_lora": res["molora"]["peak_memory_mib"] / res["lora"]["peak_memory_mib"],
        "peak_memory_kind": "cuda max allocated" if device == "cuda" else "peak RSS during 2 training steps (VmHWM reset after loading)",
        "targets": {"step_time_ratio_molora_vs_lora": TARGET_RATIO},
        "passed": ratio <= TARGET_RATIO,
    }
    write_json(args.out, figures)
    print(json.dumps(figures, indent=2))
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
