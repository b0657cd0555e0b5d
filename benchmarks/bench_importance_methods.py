"""Importance estimators on SmolLM2-135M-Instruct: how well each predicts exact zero ablation, and at what cost.

For the tool task and each general task of the default config, two disjoint samples are
drawn: A (the methods score it) and B (exact zero ablation on it is the reference). Per
method and task: Spearman(method on A, zero ablation on B) over all 210 components, wall
time, peak memory; per method, the Jaccard overlap of its CITI MOLoRA and unfrozen sets
(config fractions) with those of the paper's Taylor score. Side by side: ablation with
layer reuse against a full forward per component, interleaved component by component.

Targets (exit 1 if missed): for every task the best method reaches Spearman >= 0.8 against
zero ablation on the disjoint sample; layer reuse takes <= 0.6x the time of full forwards.
Sizes are recorded. The reference must be stable itself: on samples of a few hundred tokens zero
ablation on A and on B agree poorly, so the default sample is 1280 tokens a task (the JSON records
each task's figures and the run's seconds; tools/perf_readme.py puts them in the README).

    python benchmarks/bench_importance_methods.py [--model-dir DIR] [--tokens 1280] [--max-length 96] [--jobs 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import torch
from scipy.stats import spearmanr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from citi import paths  # noqa: E402
from citi.importance import ablation, integrated, local, taylor as importance  # noqa: E402
from citi.importance.components import list_components  # noqa: E402
from citi.importance.encoding import encode  # noqa: E402
from citi.importance.forward import LayerInputs, full_forward, replaced, run_from  # noqa: E402
from citi.importance.selection import select  # noqa: E402
from citi.config import load_config  # noqa: E402
from citi.data.mixtures import GENERAL_TASKS, read_records  # noqa: E402
from citi.io import write_json  # noqa: E402
from citi.models import load, materialize  # noqa: E402

MODEL = "smollm2-135m-instruct"
TASKS = ("tool", *GENERAL_TASKS)


class PeakMemory:
    """Peak memory while the block runs: CUDA's max allocated, or the process RSS sampled every 5 ms (MiB)."""

    def __enter__(self):
        self.cuda = torch.cuda.is_available()
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
            return self
        self.peak, self._stop = self._rss(), threading.Event()
        self.start = self.peak
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.cuda:
            self.peak, self.start = torch.cuda.max_memory_allocated() / 2**20, 0.0
        else:
            self._stop.set()
            self._thread.join()

    @staticmethod
    def _rss() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())


def timed(fn):
    with PeakMemory() as mem:
        start = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - start
    return out, {"seconds": round(seconds, 2), "peak_mib": round(mem.peak, 1),
                 "peak_increase_mib": round(mem.peak - mem.start, 1)}


def samples(config: dict, tok, task: str, tokens: int, max_length: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Two disjoint samples of the task's data, each about ``tokens`` tokens (at least 2 examples; examples
    cut to ``max_length``): (A for the methods, B for the reference). Short tasks thus get more examples."""
    ref = config["tasks"][task]
    records = read_records(REPO / paths.DATA.format(dataset=ref["dataset"], split=ref["split"]))
    order = random.Random(seed).sample(range(len(records)), len(records))
    out, used = [[], []], [0, 0]
    for i in order:
        side = 0 if len(out[0]) <= len(out[1]) else 1  # alternate, so both samples get alike examples
        size = min(len(encode(tok, records[i], max_length)[0]), max_length)
        if used[side] + size > tokens and len(out[side]) >= 2:
            if used[1 - side] + size > tokens and len(out[1 - side]) >= 2:
                break
            continue
        out[side].append(records[i])
        used[side] += size
    if min(len(o) for o in out) < 2:
        raise SystemExit(f"{task}: too few records for two disjoint samples")
    return out[0], out[1]


def reuse_vs_full(model, tok, record, max_length) -> dict:
    """Zero ablation of the components of every third layer (1, 4, 7, ...: the mean depth of all layers),
    timed with layer reuse and with a full forward, interleaved so that load changes hit both alike."""
    _, batches = importance.batched(tok, [record], 1, max_length, next(model.parameters()).device)
    _, batch = next(batches)
    modules = dict(model.named_modules())
    cache = LayerInputs(model)
    chosen = [c for c in list_components(model) if c[0] % 3 == 1]
    reuse = full = 0.0
    with torch.no_grad():
        cache.capture(batch)
        for layer, _, name in chosen:
            with replaced(modules[name], torch.zeros_like):
                start = time.perf_counter()
                run_from(model, layer, cache.inputs[layer], batch)
                middle = time.perf_counter()
                full_forward(model, batch)
                reuse, full = reuse + middle - start, full + time.perf_counter() - middle
    return {"components": len(chosen), "tokens": int(batch["attention_mask"].sum()),
            "reuse_seconds": round(reuse, 2), "full_seconds": round(full, 2), "ratio": round(reuse / full, 3)}


def jaccard(a, b) -> float:
    a, b = set(a), set(b)
    return len(a & b) / len(a | b) if a | b else 1.0


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def plot(figures: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods, tasks = list(figures["methods"]), list(figures["tasks"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.8 / len(methods)
    for i, m in enumerate(methods):
        rhos = [figures["tasks"][t]["methods"].get(m, {}).get("spearman", float("nan")) for t in tasks]
        left.bar([j + i * width for j in range(len(tasks))], rhos, width, label=m)
    left.axhline(0.8, color="k", ls="--", lw=1)
    left.set_xticks([j + 0.4 - width / 2 for j in range(len(tasks))], tasks)
    left.set_ylabel("Spearman vs zero ablation (disjoint sample)")
    left.set_ylim(-0.2, 1.2)
    left.legend(fontsize=7, ncol=3, loc="upper center")
    seconds = [sum(figures["tasks"][t]["methods"].get(m, {}).get("seconds", 0) for t in tasks) for m in methods]
    right.barh(methods, seconds)
    right.set_xscale("log")
    right.set_xlabel(f"seconds over the tasks it ran on ({figures['device']}, {figures['jobs']} jobs, "
                     f"load {figures['load_before'][0]})")
    fig.suptitle(f"Importance estimators on {MODEL}: samples of ~{figures['sizes']['tokens_per_sample']} tokens, "
                 f"examples <= {figures['sizes']['max_length']} tokens")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def estimators(model, tok, length: int, steps: int) -> dict:
    bs = 64  # one batch per sample
    return {
        "taylor": lambda recs: importance.score_records(model, tok, recs, bs, length),
        "integrated_1": lambda recs: integrated.score_records(model, tok, recs, bs, length, steps=1),
        "ablation_zero": lambda recs: ablation.score_records(model, tok, recs, bs, length, "zero"),
        "ablation_mean": lambda recs: ablation.score_records(model, tok, recs, bs, length, "mean"),
        "local_zero": lambda recs: local.score_records(model, tok, recs, bs, length, "zero"),
        "local_mean": lambda recs: local.score_records(model, tok, recs, bs, length, "mean"),
        f"integrated_{steps}": lambda recs: integrated.score_records(model, tok, recs, bs, length, steps=steps),
    }


def task_row(opts: dict, task: str) -> tuple[str, dict, dict]:
    """One task's figures (a worker process): the reference on B, then every method on A."""
    torch.set_num_threads(opts["threads"])
    config = load_config(REPO / "config/config.yaml")
    model, tok = load(opts["model_dir"], device=opts["device"])
    a, b = samples(config, tok, task, opts["tokens"], opts["max_length"], opts["seed"])
    reference, cost = timed(lambda: ablation.score_records(model, tok, b, 64, opts["max_length"], "zero"))
    ref = reference["per_example"].sum(0)
    row = {"examples_a": len(a), "examples_b": len(b), "tokens_a": None, "tokens_b": int(reference["lengths"].sum()),
           "reference": cost, "methods": {}}
    shares = {}
    for name, fn in estimators(model, tok, opts["max_length"], opts["steps"]).items():
        many_steps = name == f"integrated_{opts['steps']}" and name != "integrated_1"
        if name not in opts["methods"] or (many_steps and task not in opts["integrated_tasks"]):
            continue
        result, cost = timed(lambda: fn(a))
        score = result["per_example"].sum(0)
        row["tokens_a"] = int(result["lengths"].sum())
        row["methods"][name] = {"spearman": round(float(spearmanr(score.numpy(), ref.numpy()).statistic), 4), **cost}
        shares[name] = score.tolist()
        print(f"{task:9s} {name:14s} rho={row['methods'][name]['spearman']:+.3f} {cost['seconds']:7.1f}s "
              f"peak {cost['peak_mib']:.0f} MiB  (load {load_average()[0]})", flush=True)
    row["best"] = max(row["methods"], key=lambda m: row["methods"][m]["spearman"])
    return task, row, shares


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=str(REPO / paths.MODEL.format(model=MODEL)))
    parser.add_argument("--tokens", type=int, default=1280, help="tokens in each of the two disjoint samples per task")
    parser.add_argument("--max-length", type=int, default=96, help="tokens per example (prompt cut from the left)")
    parser.add_argument("--steps", type=int, default=2, help="integrated: path-integral steps (one step runs everywhere)")
    parser.add_argument("--integrated-tasks", default="",
                        help="comma-separated tasks where integrated also runs with --steps (it costs ~3 x steps x "
                             "ablation, so none by default); integrated with one step runs on every task")
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated (selection overlaps need all five)")
    parser.add_argument("--methods", default=None, help="comma-separated subset of the methods; default: all")
    parser.add_argument("--jobs", type=int, default=None, help="tasks scored in parallel; default: the CPU cores (1 on GPU)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per job; default: 1 while the load exceeds the cores (threads then mostly "
                             "wait on each other), else cores / jobs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(REPO / paths.PERF / "importance_methods.json"))
    args = parser.parse_args()
    config = load_config(REPO / "config/config.yaml")
    if not Path(args.model_dir).is_dir():
        materialize(MODEL, config["models"][MODEL], args.model_dir)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tasks = args.tasks.split(",")
    cores, load_before = os.cpu_count(), load_average()
    jobs = args.jobs or (1 if device == "cuda" else min(cores, len(tasks)))
    threads = args.threads or (1 if load_before[0] > cores else max(1, cores // jobs))
    integrated_tasks = set(args.integrated_tasks.split(",")) if args.integrated_tasks else set()
    opts = {"model_dir": args.model_dir, "device": device, "tokens": args.tokens, "max_length": args.max_length,
            "steps": args.steps, "integrated_tasks": integrated_tasks, "seed": args.seed, "threads": threads,
            "methods": set(args.methods.split(",")) if args.methods else set(estimators(None, None, 0, args.steps))}
    figures = {"model": MODEL, "device": device, "jobs": jobs, "torch_threads_per_job": threads,
               "load_before": load_before,
               "sizes": {"tokens_per_sample": args.tokens, "max_length": args.max_length,
                         "integrated_steps": args.steps, "integrated_tasks": sorted(integrated_tasks), "seed": args.seed},
               "methods": [], "tasks": {}}
    started = time.perf_counter()
    shares: dict[str, dict[str, list[float]]] = {}
    # a fresh process per task: a worker reused across tasks kept their memory, so its peaks grew task by task
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1) as pool:
        for done in as_completed([pool.submit(task_row, opts, task) for task in tasks]):
            task, row, task_shares = done.result()
            figures["tasks"][task] = row
            for m, s in task_shares.items():
                shares.setdefault(m, {})[task] = s
            figures["methods"] = list(shares)
            write_json(args.out, {**figures, "partial": True})  # a task's figures survive a later failure
    figures["seconds_tasks"] = round(time.perf_counter() - started, 1)
    torch.set_num_threads(threads)
    model, tok = load(args.model_dir, device=device)
    components = list_components(model)
    chosen = {m: select("citi", components, s, config, MODEL) for m, s in shares.items() if len(s) == len(TASKS)}
    paper = chosen.get("taylor")
    figures["jaccard_vs_taylor"] = {m: {"molora": round(jaccard(c["molora"], paper["molora"]), 3),
                                        "unfrozen": round(jaccard(c["unfrozen"], paper["unfrozen"]), 3)}
                                    for m, c in chosen.items()} if paper else {}
    figures["set_sizes"] = {"components": len(components), "molora_fraction": config["selection"]["molora_fraction"],
                            "unfrozen_fraction": config["selection"]["unfrozen_fraction"]}
    a, _ = samples(config, tok, "tool", args.tokens, args.max_length, args.seed)
    figures["reuse_vs_full"] = {"task": "tool", **reuse_vs_full(model, tok, a[0], args.max_length)}
    figures["seconds_total"] = round(time.perf_counter() - started, 1)
    figures["load_after"] = load_average()
    best = {t: figures["tasks"][t]["methods"][figures["tasks"][t]["best"]]["spearman"] for t in tasks}
    figures["targets"] = {"best_spearman_per_task": 0.8, "reuse_over_full": 0.6}
    figures["passed"] = (set(tasks) == set(TASKS) and min(best.values()) >= 0.8
                         and figures["reuse_vs_full"]["ratio"] <= 0.6)
    write_json(args.out, figures)
    plot(figures, Path(args.out).with_suffix(".png"))
    print({t: (figures["tasks"][t]["best"], best[t]) for t in tasks}, figures["reuse_vs_full"],
          figures["jaccard_vs_taylor"])
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
