"""The README's measured paragraph for the default run, written from results/perf/default_run.json.

    python tools/perf_readme.py [--json results/perf/default_run.json] [--readme README.md] [--check]

benchmarks/bench_default_run.py measures; this renders what it measured between the README's
`<!-- perf:default_run -->` markers, so no figure there is typed by hand. --check exits 1 when
the README's paragraph differs from the rendering (nothing is written then).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- perf:default_run -->", "<!-- /perf:default_run -->"
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


def splice(readme: str, block: str, where: Path) -> str:
    pattern = re.compile(re.escape(BEGIN) + r"\n.*?\n" + re.escape(END), re.S)
    if not pattern.search(readme):
        raise SystemExit(f"{where}: no {BEGIN} ... {END} block to fill")
    return pattern.sub(lambda _: f"{BEGIN}\n{block}\n{END}", readme, count=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=REPO / "results" / "perf" / "default_run.json")
    parser.add_argument("--readme", type=Path, default=REPO / "README.md")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    try:
        perf = json.loads(args.json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise SystemExit(f"{args.json}: cannot read the benchmark's figures ({e}); run benchmarks/bench_default_run.py")
    old = args.readme.read_text(encoding="utf-8")
    new = splice(old, render(perf), args.readme)
    if args.check:
        sys.exit(0 if new == old else 1)
    args.readme.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    main()
