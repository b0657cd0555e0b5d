"""How big each paper config is on a cluster: SLURM jobs and GPU-hours, from dry-runs.

    python tools/slurm_scale.py [config ...]      (default: every paper setting, from its layers)

Dry-runs `snakemake --profile slurm -n all` for each config and reads every job's resources. A config
argument is one YAML file, or several joined by commas (layers merged in order, as --configfile merges
them); by default each backbone x tool dataset of config/paper/ (base, backbone, tool, pair layers).
GPU-hours are upper bounds: each GPU job's runtime limit times its GPUs, not measured time.
Prints a Markdown table (the README's scale table).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))  # citi.config, without installing the package

from citi.config import paper_combinations, paper_configfiles  # noqa: E402

JOB = re.compile(r"^(?:local)?rule (\w+):\n(.*?)(?=\n\n|\Z)", re.S | re.M)


def job_resources(config: list[Path]) -> list[tuple[str, dict[str, str]]]:
    no_conda = [] if shutil.which("conda") else ["--sdm", "env-modules"]  # conda: a dry run needs it installed
    with tempfile.TemporaryDirectory() as workdir:
        proc = subprocess.run([sys.executable, "-m", "snakemake", "--profile", "slurm", *no_conda, "-n", "all",
                               "-d", workdir, "--configfile", *map(str, config)], cwd=REPO, capture_output=True,
                              text=True)
    if proc.returncode != 0:
        sys.exit(f"dry-run of {' + '.join(map(str, config))} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    jobs = []
    for rule, body in JOB.findall(proc.stdout):
        found = re.search(r"^\s+resources: (.*)$", body, re.M)
        if found:  # the `all` target has no resources: it is no SLURM job
            jobs.append((rule, dict(kv.split("=", 1) for kv in found.group(1).split(", ") if "=" in kv)))
    return jobs


def main(configs: list[str]) -> None:
    layers = [[Path(p) for p in c.split(",")] for c in configs]
    named = ({" + ".join(p.stem for p in files): files for files in layers}
             or {f"{b}_{t}": paper_configfiles(b, t) for b, t in paper_combinations()})
    print("| config | SLURM jobs | GPU jobs | GPU-hours (upper bound) | of which training |")
    print("|---|---:|---:|---:|---:|")
    for label, config in named.items():
        jobs = job_resources(config)
        gpu = [(rule, int(r["gpu"]) * int(r["runtime"]) / 60) for rule, r in jobs if int(r.get("gpu", 0))]
        train = sum(h for rule, h in gpu if rule == "train_stage")
        print(f"| {label} | {len(jobs)} | {len(gpu)} | {sum(h for _, h in gpu):,.0f} | {train:,.0f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
