"""Wall time of the embedded default from an empty results/: the main table, then `all`.

Targets (issue 18): ``results/tables/main.csv`` within 30 min and ``all`` (every figure, all of
its tables) within 60 min on 2 CPU cores. Runs Snakemake in a fresh working directory, so
nothing already built counts, and writes results/perf/default_run.json: each phase's wall
seconds, jobs run, the machine's cores and load, and whether each target was met.

    python benchmarks/bench_default_run.py [--workdir DIR] [--cores 2]
    python benchmarks/bench_default_run.py --summarise   (re-read the last run's workdir into the JSON)

Besides the phases' wall time it records each rule's job seconds (wall and CPU, from the jobs'
Snakemake benchmark files; two jobs run at once on 2 cores), training seconds per method, and the
main table's signal (FT - base on the tool columns, with the paired 95% interval and n).
`python tools/perf_readme.py` writes the README's measured paragraph from this file.
Takes as long as it measures (about an hour on 2 cores).
"""

from __future__ import annotations

import argparse
import csv
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
    parser.add_argument("--summarise", action="store_true",
                        help="no run: add the job breakdown and signal of the workdir recorded in --out")
    args = parser.parse_args()
    if args.summarise:
        phases = json.loads(args.out.read_text())
        workdir = Path(phases["workdir"])
        phases.update(summary(workdir))
        main_log = workdir / "bench-logs" / "main.log"
        if "jobs_s" not in phases.get("main_table", {}) and main_log.exists():  # a run by an older version
            phases["main_table"]["jobs_s"] = job_seconds(workdir, until=main_log.stat().st_mtime)
        save(args.out, phases)
        print(json.dumps(phases, indent=2))
        return
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
    phases["main_table"]["jobs_s"] = job_seconds(workdir)
    save(args.out, phases)
    phases["all_after_main"] = snakemake(workdir, args.cores, ["all"], logs / "all.log")
    phases["report"] = snakemake(workdir, args.cores, ["--report", "results/report.html"], logs / "report.log")
    main_s = phases["main_table"]["wall_s"]
    phases["all_total_s"] = round(main_s + phases["all_after_main"]["wall_s"] + phases["report"]["wall_s"], 1)
    phases.update(summary(workdir))
    phases["met"] = {"main_table": main_s <= TARGETS_S["main_table"], "all": phases["all_total_s"] <= TARGETS_S["all"]}
    phases["complete"] = True
    save(args.out, phases)
    print(json.dumps(phases, indent=2))


def job_seconds(workdir: Path, until: float | None = None) -> dict:
    """Wall and CPU seconds of the jobs run so far, by rule, and training wall seconds by method,
    from their Snakemake benchmark files (results/benchmarks/<rule>/...; a training job's path
    ends <method>/<stage>.tsv). CPU seconds under-read short jobs: compare wall seconds."""
    wall: dict[str, float] = {}
    cpu: dict[str, float] = {}
    training: dict[str, float] = {}
    root = workdir / "results" / "benchmarks"
    for tsv in root.rglob("*.tsv"):
        if until is not None and tsv.stat().st_mtime > until:
            continue  # written by a later phase
        rows = tsv.read_text().splitlines()
        header, last = rows[0].split("\t"), rows[-1].split("\t")
        parts = tsv.relative_to(root).parts
        seconds = float(last[header.index("s")])
        wall[parts[0]] = wall.get(parts[0], 0.0) + seconds
        cpu[parts[0]] = cpu.get(parts[0], 0.0) + float(last[header.index("cpu_time")])
        if parts[0] == "train_stage":
            training[parts[-2]] = training.get(parts[-2], 0.0) + seconds
    by_size = lambda d: {k: round(v, 1) for k, v in sorted(d.items(), key=lambda kv: -kv[1])}
    return {"wall_by_rule": by_size(wall), "cpu_by_rule": by_size(cpu), "training_by_method": by_size(training),
            "wall_total": round(sum(wall.values()), 1)}


def table_signal(workdir: Path) -> list[dict]:
    """FT - base on each tool column of the main table, from differences.csv (paired intervals)."""
    path = workdir / "results" / "tables" / "differences.csv"
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: row[k] for k in ("comparison", "column", "direction", "difference", "lo", "hi", "n")}
                for row in csv.DictReader(f) if row["method"] == "ft" and row["reference"] == "base"
                and row["kind"] == "tool"]


def machine() -> str:
    """The CPU model, as /proc/cpuinfo names it (empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        return ""


def summary(workdir: Path) -> dict:
    log = workdir / "bench-logs" / "main.log"
    date = time.strftime("%Y-%m-%d", time.gmtime(log.stat().st_mtime)) if log.exists() else ""
    return {"jobs_s": job_seconds(workdir), "signal": table_signal(workdir), "machine": machine(), "date": date}


def save(out: Path, phases: dict) -> None:
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(phases, indent=2) + "\n")
    tmp.replace(out)

if __name__ == "__main__":
    main()
