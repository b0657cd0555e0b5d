"""Wall time of the embedded default from an empty results/: the main table, then `all`.

Targets (issue 18): ``results/tables/main.csv`` within 30 min and ``all`` (every figure, all of
its tables) within 60 min on 2 CPU cores. Runs Snakemake in a fresh working directory, so
nothing already built counts, and writes results/perf/default_run.json: each phase's wall
seconds, jobs run, the machine's cores and load, and whether each target was met.

    python benchmarks/bench_default_run.py [--workdir DIR] [--cores 2]

Takes as long as it measures (about an hour on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGETS_S = {"main_table": 30 * 60, "all": 60 * 60}


def snakemake(workdir: Path, cores: int, targets: list[str], log: Path) -> dict:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--cores", str(cores), *targets]
    start = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.run(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seconds = time.monotonic() - start
    text = log.read_text(errors="replace")
    jobs = text.count("Finished jobid")
    if proc.returncode != 0:
        raise SystemExit(f"snakemake {' '.join(targets)} failed ({proc.returncode}); see {log}")
    return {"target": " ".join(targets), "wall_s": round(seconds, 1), "jobs": jobs, "load_after": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="fresh run directory (default: a new temp dir)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "results" / "perf" / "default_run.json")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="citi-default-run-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if (workdir / "results").exists():
        raise SystemExit(f"{workdir}/results exists: the benchmark needs an empty results/")
    logs = workdir / "bench-logs"
    logs.mkdir(exist_ok=True)
    phases = {"load_before": os.getloadavg(), "cpu_count": os.cpu_count(), "cores": args.cores, "workdir": str(workdir),
              "targets_s": TARGETS_S, "complete": False}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # written after every phase, so a run cut short still leaves what it measured
    phases["main_table"] = snakemake(workdir, args.cores, ["results/tables/main.csv"], logs / "main.log")
    phases["main_table"]["job_cpu_s"] = job_cpu_seconds(workdir)
    save(args.out, phases)
    phases["all_after_main"] = snakemake(workdir, args.cores, ["all"], logs / "all.log")
    phases["report"] = snakemake(workdir, args.cores, ["--report", "results/report.html"], logs / "report.log")
    main_s = phases["main_table"]["wall_s"]
    phases["all_total_s"] = round(main_s + phases["all_after_main"]["wall_s"] + phases["report"]["wall_s"], 1)
    phases["all_job_cpu_s"] = job_cpu_seconds(workdir)
    phases["met"] = {"main_table": main_s <= TARGETS_S["main_table"], "all": phases["all_total_s"] <= TARGETS_S["all"]}
    phases["complete"] = True
    save(args.out, phases)
    print(json.dumps(phases, indent=2))


def job_cpu_seconds(workdir: Path) -> dict:
    """CPU seconds of the jobs run so far, by rule, from their Snakemake benchmark files."""
    by_rule: dict[str, float] = {}
    for tsv in (workdir / "results" / "benchmarks").rglob("*.tsv"):
        rows = tsv.read_text().splitlines()
        header, last = rows[0].split("\t"), rows[-1].split("\t")
        rule = tsv.relative_to(workdir / "results" / "benchmarks").parts[0]
        by_rule[rule] = round(by_rule.get(rule, 0.0) + float(last[header.index("cpu_time")]), 1)
    return dict(sorted(by_rule.items(), key=lambda kv: -kv[1])) | {"total": round(sum(by_rule.values()), 1)}


def save(out: Path, phases: dict) -> None:
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(phases, indent=2) + "\n")
    tmp.replace(out)

if __name__ == "__main__":
    main()
