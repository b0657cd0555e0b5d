"""The README's measured figures, written from the benchmarks' JSON under results/perf/.

    python tools/perf_readme.py [--json results/perf/default_run.json] [--readme README.md] [--check]

benchmarks/*.py measure; this renders what they measured between the README's markers, so no figure
there is typed by hand: `<!-- perf:default_run -->` (the default run's paragraph, from
default_run.json) and `<!-- perf:benchmarks -->` (one row per benchmark, from its bench_*.json beside
it; a benchmark without one says so). --check exits 1 when the README differs from the rendering
(nothing is written then).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- perf:default_run -->", "<!-- /perf:default_run -->"
BENCH_BEGIN, BENCH_END = "<!-- perf:benchmarks -->", "<!-- /perf:benchmarks -->"
TRAINING = {"ft": "FT", "lora": "LoRA", "citi": "CITI", "ft_code": "FT on code (representation control)"}


def minutes(seconds: float) -> str:
    return f"{seconds:,.0f} s ({seconds / 60:.1f} min)"


def verdict(seconds: float, target: float) -> str:
    return f"within the {target / 60:.0f}-min target" if seconds <= target else f"over the {target / 60:.0f}-min target"


def render(perf: dict) -> str:
    targets, main = perf["targets_s"], perf["main_table"]
    where = ", ".join(x for x in (perf.get("machine"), f"{perf['cores']} cores", perf.get("date")) if x)
    load = perf.get("load_before")
    lines = [f"**Measured** ({where}; load average {load[0]:.2f} before the run): "
             f"`main.csv` took {minutes(main['wall_s'])} over {main['jobs']} jobs, "
             f"{verdict(main['wall_s'], targets['main_table'])}."]
    if perf.get("complete"):
        total = perf["all_total_s"]
        lines.append(f"`all` after it took {perf['all_after_main']['wall_s']:,.0f} s more "
                     f"({perf['all_after_main']['jobs']} jobs) and the report {perf['report']['wall_s']:,.0f} s: "
                     f"{minutes(total)} in all, {verdict(total, targets['all'])}.")
    else:
        lines.append("`all` was not measured in this run.")
    jobs = main.get("jobs_s")
    if jobs:
        rules, training = jobs["wall_by_rule"], jobs["training_by_method"]
        methods = ", ".join(f"{TRAINING.get(m, m)} {s:,.0f}" for m, s in training.items())
        lines.append(f"Where `main.csv`'s time went (the jobs' wall seconds, two at a time): training "
                     f"{rules.get('train_stage', 0):,.0f} s ({methods}), generation and likelihood evaluation "
                     f"{rules.get('generate_predictions', 0):,.0f} s, scoring {rules.get('score_predictions', 0):,.0f} s, "
                     f"importance {rules.get('importance', 0):,.0f} s.")
    signal = perf.get("signal") or []
    if signal:
        parts = [f"{row['column']} {float(row['difference']):+.2f} [{float(row['lo']):+.2f}, {float(row['hi']):+.2f}], "
                 f"n = {row['n']}" + (" (lower is better)" if row["direction"] == "lower" else "") for row in signal]
        lines.append("FT − base in that run, with paired 95% bootstrap intervals: " + "; ".join(parts) + ".")
    return "\n".join(lines)


def _x(value: float) -> str:
    return f"{value:.2f}×"


def _s(value: float) -> str:
    return f"{value:,.3g} s" if value < 10 else f"{value:,.0f} s"


# benchmark -> (what it measures, its target, a function of its JSON giving (measured, met))
def _generation(f: dict):
    return (f"engine {f['engine_tokens_per_s']:.1f} tokens/s vs per-sample loop {f['per_sample_loop_tokens_per_s']:.1f}: "
            f"{_x(f['speedup'])}; identical outputs {f['identical_outputs']} of {f['prompts']}", f["passed"])


def _importance(f: dict):
    return (f"{_x(f['ratio_vs_training'])} a training step's tokens/s, {_x(f['speedup_vs_batch1'])} batch 1; "
            f"Spearman vs zero ablation {f['spearman_score_vs_zeroing']:.2f} ({f['zeroing_examples']} examples)", f["passed"])


def _molora(f: dict):
    return (f"step time {_x(f['step_time_ratio_molora_vs_lora'])} LoRA's, memory {_x(f['memory_ratio_molora_vs_lora'])}",
            f["passed"])


def _parse(f: dict):
    sizes = sorted({k.split("_")[-2] for k in f if k.startswith("ours_find_")})
    found = "; ".join(f"{size}: ours {_s(f[f'ours_find_{size}_s'])}"
                      + (f", official regex {_s(f[f'official_regex_{size}_s'])}" if f"official_regex_{size}_s" in f else "")
                      for size in sizes)
    return found, f["target_met"]


def _training(f: dict):
    p = f["default_config_projected_training_s"]
    return (f"the default's training projected at {p['main_table_total']:,.0f} s (budget {p['budget']:,.0f} s)",
            all(f["targets"].values()))


def _estimators(f: dict):
    best = {t: max(row["methods"].values(), key=lambda m: m.get("spearman", float("-inf"))).get("spearman")
            for t, row in f["tasks"].items()}
    low = min((v for v in best.values() if v is not None), default=None)
    return (f"best estimator's Spearman vs zero ablation per task: lowest {low:.2f} over {len(best)} tasks; "
            f"{f.get('seconds_tasks', 0):,.0f} s", None if f.get("partial") else low is not None and low >= 0.8)


BENCHMARKS = {
    "bench_generation": ("generation engine vs a per-sample `generate()` loop", "≥ 5× tokens/s", _generation),
    "bench_importance": ("batched importance throughput", "≥ 0.8× a training step, ≥ 4× batch 1", _importance),
    "bench_molora": ("a MOLoRA training step vs LoRA's", "≤ 1.3×", _molora),
    "bench_api_bank_parse": ("API-Bank call extraction on a 300 KB looping output", "< 1 s", _parse),
    "bench_training": ("training seconds per step, projected over the default", "within the budget", _training),
    "bench_importance_methods": ("importance estimators vs exact zero ablation", "Spearman ≥ 0.8 per task",
                                 _estimators),
}


def render_benchmarks(perf_dir: Path) -> str:
    lines = ["| benchmark | measures | target | measured | met |", "|---|---|---|---|---|"]
    for name, (what, target, measured) in BENCHMARKS.items():
        path = perf_dir / f"{name}.json"
        if not path.is_file():
            lines.append(f"| `{name}` | {what} | {target} | not measured here: `python benchmarks/{name}.py` | – |")
            continue
        try:
            text, met = measured(json.loads(path.read_text(encoding="utf-8")))
        except (KeyError, TypeError, ValueError) as e:
            raise SystemExit(f"{path}: not the figures {name}.py writes ({type(e).__name__}: {e}); rerun it")
        lines.append(f"| `{name}` | {what} | {target} | {text} | {'–' if met is None else 'yes' if met else 'no'} |")
    return "\n".join(lines)


def splice(readme: str, block: str, where: Path, begin: str = BEGIN, end: str = END) -> str:
    pattern = re.compile(re.escape(begin) + r"\n(?:.*?\n)?" + re.escape(end), re.S)
    if not pattern.search(readme):
        raise SystemExit(f"{where}: no {begin} ... {end} block to fill")
    return pattern.sub(lambda _: f"{begin}\n{block}\n{end}", readme, count=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=REPO / "results" / "perf" / "default_run.json")
    parser.add_argument("--readme", type=Path, default=REPO / "README.md")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    old = new = args.readme.read_text(encoding="utf-8")
    if args.json.exists():  # the default run and the benchmarks are measured apart: each section from its own files
        try:
            perf = json.loads(args.json.read_text(encoding="utf-8"))
        except ValueError as e:
            raise SystemExit(f"{args.json}: cannot read the benchmark's figures ({e}); run benchmarks/bench_default_run.py")
        new = splice(old, render(perf), args.readme)
    else:
        print(f"{args.json} is missing: the default run's paragraph is left as it is "
              f"(benchmarks/bench_default_run.py measures it)", file=sys.stderr)
    new = splice(new, render_benchmarks(args.json.parent), args.readme, BENCH_BEGIN, BENCH_END)
    if args.check:
        sys.exit(0 if new == old else 1)
    args.readme.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    main()
