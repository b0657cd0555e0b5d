"""A short result note rendered from a run's tables, verdict and time records; nothing in it is typed by hand.

``tables.note`` names the file (e.g. docs/results-smollm2-api-bank.md). The note has:

- the main table as results/tables/main.md shows it (ours ± half the 95% interval, and where
  ``tables.paper.reference`` is set, the paper's numbers for its backbones beside each column);
- the generated verdict on each of the paper's claims (results/tables/verdict.md), one line each;
- the pattern beside the paper's: for each paired difference of differences.csv on a column the paper
  reports, ours with its interval and the same difference in the paper's numbers for each reference
  backbone, and on how many of them the sign agrees with ours where our interval excludes 0;
- forgetting flips against base on the binary general columns (differences.csv);
- the run's time: wall seconds of every Snakemake invocation in the run directory that finished jobs
  (``.snakemake/log``: from its start to its last job, so resumed runs add up), and job seconds by rule
  from the jobs' benchmark files (results/benchmarks), against ``tables.note.budget_h`` if set.
"""

from __future__ import annotations

import csv
import re
from datetime import datetime
from pathlib import Path

from .paper import SHORT_NAMES

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$", re.M)
DATE = re.compile(r"^\s*Date: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)$", re.M)
CORES = re.compile(r"^Provided cores: (\d+)$", re.M)


def _num(x: float | None, signed: bool = False) -> str:
    return "–" if x is None else (f"{x:+.2f}" if signed else f"{x:.2f}")


def _float(text: str) -> float | None:
    return float(text) if text not in ("", None) else None


def table_lines(main_markdown: str) -> list[str]:
    """The table of main.md (its header, rule and rows) and the paragraph on the paper's numbers above it."""
    lines = main_markdown.splitlines()
    table = [line for line in lines if line.startswith("|")]
    about = [line for line in lines if line.startswith("Beside each column") or line.startswith("Values: ours")]
    return about + ([""] if about else []) + table


def verdict_lines(verdict_markdown: str) -> list[str]:
    """Each claim's line of verdict.md shortened to the claim and its verdict, per model."""
    out = []
    for line in verdict_markdown.splitlines():
        if line.startswith("## "):
            out.append(f"{line[3:]}:")
        m = re.match(r"- \*\*\((\w)\) (.+?)\*\*: \*\*(.+?)\*\*\.", line)
        if m:
            out.append(f"- ({m.group(1)}) {m.group(2)}: **{m.group(3)}**")
    return out


def pattern_rows(sources: dict, differences: list[dict]) -> list[dict]:
    """Ours vs the paper's difference for each comparison on a column with reference numbers."""
    backbones = list(sources.get("paper_reference") or [])
    if not backbones:
        return []
    rows = {(r["model"], r["method"]): r for r in sources["rows"]}
    out = []
    for d in differences:
        a, b = rows.get((d["model"], d["method"])), rows.get((d["model"], d["reference"]))
        if a is None or b is None:
            continue
        ref_a = a["cells"][d["column"]].get("paper_reference") or {}
        ref_b = b["cells"][d["column"]].get("paper_reference") or {}
        if not any(ref_a.get(k) is not None for k in backbones):
            continue
        paper = {k: (ref_a[k] - ref_b[k]) if ref_a.get(k) is not None and ref_b.get(k) is not None else None
                 for k in backbones}
        diff, lo, hi = _float(d["difference"]), _float(d["lo"]), _float(d["hi"])
        sign = None
        if lo is not None and hi is not None and (lo > 0 or hi < 0):
            sign = 1 if lo > 0 else -1
        known = [v for v in paper.values() if v is not None and v != 0]
        agree = None if sign is None or not known else sum((v > 0) == (sign > 0) for v in known)
        out.append({"comparison": d["comparison"], "column": d["column"], "difference": diff, "lo": lo, "hi": hi,
                    "paper": paper, "agree": agree, "known": len(known)})
    return out


def pattern_lines(rows: list[dict], backbones: list[str]) -> list[str]:
    if not rows:
        return ["No column here has the paper's numbers beside it (tables.paper.reference)."]
    names = [SHORT_NAMES.get(b, b) for b in backbones]
    lines = ["| comparison | column | ours [95% CI] | " + " | ".join(f"paper {n}" for n in names) +
             " | paper's sign agrees with ours |", "|---|---|---:|" + "---:|" * len(names) + "---|"]
    for r in rows:
        ours = (f"{_num(r['difference'], True)} [{_num(r['lo'], True)}, {_num(r['hi'], True)}]"
                if r["lo"] is not None else f"{_num(r['difference'], True)} (no CI)")
        agree = ("ours includes 0" if r["agree"] is None and r["lo"] is not None
                 else "–" if r["agree"] is None else f"{r['agree']} of {r['known']}")
        lines.append(f"| {r['comparison']} | {r['column']} | {ours} | "
                     + " | ".join(_num(r["paper"][b], True) for b in backbones) + f" | {agree} |")
    return lines


def flip_lines(differences: list[dict]) -> list[str]:
    """Forgetting flips against base on the binary general columns: items right under base and wrong after."""
    rows = [d for d in differences if d["reference"] == "base" and d["kind"] == "general" and d["right_to_wrong"] != ""]
    if not rows:
        return ["No binary general column (every item 0 or 100) to count flips on."]
    lines = ["| comparison | column | right→wrong | wrong→right | n |", "|---|---|---:|---:|---:|"]
    lines += [f"| {d['comparison']} | {d['column']} | {d['right_to_wrong']} | {d['wrong_to_right']} | {d['n']} |"
              for d in rows]
    return lines


def invocations(run_dir: Path) -> list[dict]:
    """Each Snakemake invocation in ``run_dir`` that finished jobs: start, last job stamp, jobs, cores."""
    out = []
    for log in sorted((run_dir / ".snakemake" / "log").glob("*.snakemake.log")):
        text = log.read_text(errors="replace")
        jobs = text.count("Finished jobid")
        start, stamps = DATE.search(text), STAMP.findall(text)
        if not jobs or not start or not stamps:
            continue
        begin = datetime.strptime(start.group(1), "%Y-%m-%d %H:%M:%S")
        end = datetime.strptime(" ".join(stamps[-1].split()), "%a %b %d %H:%M:%S %Y")
        cores = CORES.search(text)
        out.append({"log": log.name, "start": begin, "seconds": max((end - begin).total_seconds(), 0.0),
                    "jobs": jobs, "cores": int(cores.group(1)) if cores else None})
    return out


def job_seconds(run_dir: Path) -> dict[str, float]:
    """Wall seconds of every job by rule, from the jobs' Snakemake benchmark files."""
    out: dict[str, float] = {}
    root = run_dir / "results" / "benchmarks"
    for tsv in sorted(root.rglob("*.tsv")) if root.is_dir() else []:
        rows = tsv.read_text().splitlines()
        if len(rows) < 2:
            continue
        header, last = rows[0].split("\t"), rows[-1].split("\t")
        rule = tsv.relative_to(root).parts[0]
        out[rule] = out.get(rule, 0.0) + float(last[header.index("s")])
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def time_lines(run_dir: Path, budget_h: float | None) -> list[str]:
    runs, jobs = invocations(run_dir), job_seconds(run_dir)
    if not runs and not jobs:
        return ["No time records in this run directory (.snakemake/log, results/benchmarks)."]
    lines = []
    if runs:
        wall = sum(r["seconds"] for r in runs)
        cores = sorted({r["cores"] for r in runs if r["cores"]})
        within = "" if budget_h is None else (f", {'within' if wall <= budget_h * 3600 else 'over'} the "
                                              f"{budget_h:g} h budget")
        lines.append(f"- Wall time: {wall / 3600:.2f} h ({wall:,.0f} s) over {len(runs)} Snakemake invocation(s) "
                     f"with {sum(r['jobs'] for r in runs)} jobs, on {', '.join(map(str, cores)) or '?'} core(s)"
                     f"{within} (from each invocation's start to its last job, .snakemake/log).")
    if jobs:
        total = sum(jobs.values())
        top = ", ".join(f"{rule} {s:,.0f} s" for rule, s in list(jobs.items())[:6])
        lines.append(f"- Job seconds (results/benchmarks, jobs run side by side): {total:,.0f} s in all; {top}.")
    return lines


def read_differences(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def render(sources: dict, main_markdown: str, differences: list[dict], verdict_markdown: str, run_dir: Path,
           note: dict) -> str:
    title = note.get("title") or f"Results — config {sources['config']}"
    backbones = list(sources.get("paper_reference") or [])
    lines = [f"# {title}", "",
             f"Generated from the run's results/tables (config `{sources['config']}`, hash {sources['config_hash']}) "
             "by `scripts/results_note.py`; do not edit: rebuild it with Snakemake (rule `results_note`).", "",
             "## Main table", "", *table_lines(main_markdown), "",
             "## The paper's claims at this n (results/tables/verdict.md)", "", *verdict_lines(verdict_markdown), "",
             "## The pattern beside the paper's", "",
             "Paired differences (results/tables/differences.csv) on the columns the paper reports, and the same "
             "difference in the paper's numbers for each of its backbones.", "",
             *pattern_lines(pattern_rows(sources, differences), backbones), "",
             "## Forgetting flips against base", "", *flip_lines(differences), "",
             "## Run time", "", *time_lines(run_dir, note.get("budget_h")), ""]
    return "\n".join(lines)
