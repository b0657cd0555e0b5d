"""Importance throughput, memory and validity on SmolLM2-135M-Instruct (CPU or GPU).

Targets (exit 1 if missed): batched importance >= 0.8x the tokens/s of a plain
training forward+backward on the same batches, and >= 4x the batch-1 loop at
batch 8. Reported only: peak memory, and the Spearman correlation between the
scores and the measured loss increase when each of the 210 components' output
is zeroed (exact zero ablation with layer reuse, on the first --zeroing-n examples).

    python benchmarks/bench_importance.py [--model-dir DIR] [--n 32]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from pathlib import Path

import torch
from scipy.stats import spearmanr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from citi import paths  # noqa: E402
from citi.importance.encoding import encode  # noqa: E402
from citi.importance import ablation  # noqa: E402
from citi.importance.taylor import pad_batch, score_records  # noqa: E402
from citi.config import load_config  # noqa: E402
from citi.io import write_json  # noqa: E402
from citi.models import load, materialize  # noqa: E402

MODEL = "smollm2-135m-instruct"
WORDS = "the a tool call api returns value user asks weather city date time list add find book note".split()


def records(n: int, seed: int = 0) -> list[dict]:
    """Chat records of varied length (about 60-250 tokens), made up on the spot."""
    rng = random.Random(seed)
    say = lambda k: " ".join(rng.choice(WORDS) for _ in range(k))  # noqa: E731
    return [{"id": str(i), "task": "tool", "messages": [
        {"role": "system", "content": say(rng.randint(5, 40))}, {"role": "user", "content": say(rng.randint(10, 120))},
        {"role": "assistant", "content": say(rng.randint(5, 60))}]} for i in range(n)]


def batches(tok, recs, batch_size, device):
    enc = sorted((encode(tok, r, 1024) for r in recs), key=lambda e: len(e[0]))
    return [pad_batch(enc[i:i + batch_size], tok.pad_token_id or 0, device) for i in range(0, len(enc), batch_size)]


def train_step_rate(model, tok, recs, batch_size, device) -> float:
    for p in model.parameters():
        p.requires_grad_(True)
    tokens, start = 0, time.perf_counter()
    for b in batches(tok, recs, batch_size, device):
        labels = b["input_ids"].masked_fill(~torch.roll(b["predicts"], 1, dims=1), -100)
        model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], labels=labels).loss.backward()
        model.zero_grad(set_to_none=True)
        tokens += int(b["attention_mask"].sum())
    return tokens / (time.perf_counter() - start)


def importance_rate(model, tok, recs, batch_size) -> tuple[float, dict]:
    start = time.perf_counter()
    result = score_records(model, tok, recs, batch_size, 1024)
    return float(result["lengths"].sum()) / (time.perf_counter() - start), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=paths.MODEL.format(model=MODEL))
    parser.add_argument("--n", type=int, default=32, help="examples per measurement")
    parser.add_argument("--threads", type=int, default=None, help="torch threads; default: 1 while the load exceeds the cores")
    parser.add_argument("--zeroing-n", type=int, default=8, help="examples of the zeroing measurement (one forward per component)")
    parser.add_argument("--out", default=f"{paths.RESULTS}/perf/bench_importance.json")
    args = parser.parse_args()
    if not Path(args.model_dir).is_dir():
        materialize(MODEL, load_config(REPO / "config/config.yaml")["models"][MODEL], args.model_dir)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    # on an oversubscribed CPU, extra torch threads mostly spin waiting for each other
    torch.set_num_threads(args.threads or (1 if os.getloadavg()[0] > os.cpu_count() else os.cpu_count()))
    model, tok = load(args.model_dir, device=device)
    recs = records(args.n)
    importance_rate(model, tok, recs[:8], 8)  # warm-up
    batched, result = importance_rate(model, tok, recs, 8)
    print(f"importance batch 8: {batched:.0f} tokens/s", flush=True)
    single, _ = importance_rate(model, tok, recs[: max(8, args.n // 2)], 1)
    print(f"importance batch 1: {single:.0f} tokens/s", flush=True)
    train = train_step_rate(model, tok, recs, 8, device)
    print(f"training forward+backward: {train:.0f} tokens/s", flush=True)
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # the importance and training runs above
    # the measured zeroing effect: exact zero ablation with layer reuse (citi.importance.ablation) on the first
    # --zeroing-n examples, against the Taylor scores of the same examples
    k = min(args.zeroing_n, args.n)
    start = time.perf_counter()
    effect = ablation.score_records(model, tok, recs[:k], 8, 1024, "zero")["per_example"].sum(0)
    zeroing_seconds = time.perf_counter() - start
    rho = float(spearmanr(result["per_example"][:k].sum(0).numpy(), effect.numpy()).statistic)
    print(f"zeroing effect of {len(effect)} components on {k} examples: {zeroing_seconds:.0f} s, spearman {rho:.3f}",
          flush=True)
    figures = {
        "device": device, "torch_threads": torch.get_num_threads(), "model": MODEL, "examples": args.n,
        "components": len(result["components"]), "batch_size": 8,
        "importance_tokens_per_s": batched, "batch1_tokens_per_s": single, "train_fwd_bwd_tokens_per_s": train,
        "ratio_vs_training": batched / train, "speedup_vs_batch1": batched / single,
        "peak_memory_mib": peak, "peak_memory_kind": "cuda max allocated" if device == "cuda" else "process max RSS",
        "spearman_score_vs_zeroing": rho, "zeroing_examples": k, "zeroing_seconds": round(zeroing_seconds, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "targets": {"ratio_vs_training": 0.8, "speedup_vs_batch1": 4.0},
    }
    figures["passed"] = figures["ratio_vs_training"] >= 0.8 and figures["speedup_vs_batch1"] >= 4.0
    write_json(args.out, figures)
    print(figures)
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
