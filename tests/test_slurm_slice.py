"""Choosing and comparing the SLURM integration test's jobs (test_slurm.py), and tests of that choice.

The whole test DAG is too slow for CI on SLURM, so test_slurm.py reruns one job per rule in copies
of the local run; this module reads the local run's jobs from Snakemake's metadata, picks the
jobs, copies the run and compares outputs.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from citi import paths


# ---- the local run's jobs, from its Snakemake metadata ---------------------------------------

@dataclass
class Job:
    rule: str
    log: tuple[str, ...]
    seconds: float
    outputs: set[str] = field(default_factory=set)
    inputs: set[str] = field(default_factory=set)


def local_jobs(workdir: Path) -> list[Job]:
    """Every job of a finished run: Snakemake keeps one record per output file, named by the
    URL-safe base64 of its path (split into '@'-prefixed folders when longer than a file name)."""
    jobs: dict[tuple, Job] = {}
    root = workdir / ".snakemake" / "metadata"
    for record in (p for p in root.rglob("*") if p.is_file()):
        encoded = "".join(part.lstrip("@") for part in record.relative_to(root).parts)
        output = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        meta = json.loads(record.read_text())
        key = (meta["rule"], tuple(meta["log"]))
        job = jobs.setdefault(key, Job(meta["rule"], key[1], _seconds(workdir, key[1])))
        job.outputs.add(output)
        job.inputs.update(meta["input"])
    assert jobs, f"no Snakemake metadata under {root}"
    return list(jobs.values())


def _seconds(workdir: Path, logs: tuple[str, ...]) -> float:
    """A job's wall time from its benchmark file (results/benchmarks/<rule>/<wildcards>.tsv)."""
    for log in logs:
        bench = workdir / log.replace(f"{paths.LOGS}/", f"{paths.BENCHMARKS}/", 1).removesuffix(".log")
        if bench.with_suffix(".tsv").is_file():
            return float(bench.with_suffix(".tsv").read_text().splitlines()[1].split("\t")[0])
    return 0.0


class Dag:
    """Job-level DAG of a finished run: a job's parents made its inputs (or the folders holding them)."""

    def __init__(self, jobs: list[Job]):
        self.jobs = jobs
        self.maker = {out: i for i, job in enumerate(jobs) for out in job.outputs}
        self.parents = [{p for p in map(self._made_by, job.inputs) if p is not None} for job in jobs]
        self.children = [set() for _ in jobs]
        for i, parents in enumerate(self.parents):
            for p in parents:
                self.children[p].add(i)

    def _made_by(self, path: str) -> int | None:
        while path not in self.maker and "/" in path:
            path = path.rsplit("/", 1)[0]
        return self.maker.get(path)

    def _closure(self, start: set[int], edges: list[set[int]]) -> set[int]:
        seen, todo = set(start), list(start)
        while todo:
            for nxt in edges[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    def ancestors(self, start: set[int]) -> set[int]:
        return self._closure(start, self.parents)

    def planned(self, chosen: set[int]) -> set[int]:
        """What Snakemake runs when the chosen jobs' outputs are deleted and requested: them, and
        every job between two of them (its input is remade, so it is rerun too)."""
        return chosen | (self._closure(chosen, self.children) & self.ancestors(chosen))

    def job_of(self, output: str) -> int:
        found = self._made_by(output)
        assert found is not None, f"{output} was not made by the local run"
        return found


def pick_slice(dag: Dag, skip_rules: set[str], new_copy: float = 10.0) -> list[set[int]]:
    """One job per rule (except skip_rules), each rerun in a copy of the local run with its outputs
    deleted. Jobs in one copy must not depend on each other through other jobs (those would be
    rerun too), so related jobs go to separate copies: a rule's cheapest job that fits an existing
    copy joins it, unless it costs new_copy seconds more than the rule's cheapest job, which then
    starts a new copy. Returns the copies' job indices."""
    depth = {i: len(dag.ancestors({i})) for i in range(len(dag.jobs))}
    rules = sorted({j.rule for j in dag.jobs} - skip_rules,
                   key=lambda r: min(depth[i] for i, j in enumerate(dag.jobs) if j.rule == r))
    copies: list[set[int]] = []
    for rule in rules:
        candidates = sorted((i for i, j in enumerate(dag.jobs) if j.rule == rule), key=lambda i: dag.jobs[i].seconds)
        fitting = [(i, c) for i in candidates for c in copies if dag.planned(c | {i}) == c | {i}]
        if fitting and dag.jobs[fitting[0][0]].seconds <= dag.jobs[candidates[0]].seconds + new_copy:
            fitting[0][1].add(fitting[0][0])
        else:
            copies.append({candidates[0]})
    return copies


# ---- comparing two runs' outputs -------------------------------------------------------------

# What legitimately differs between two runs in different folders: the run folder's absolute path
# (OpenCompass's generated config names its data files by it), OpenCompass's timestamped output
# folders, wall-clock timings in JSON, the order of PEFT's target_modules (a set, written in
# Python's per-process string-hash order: the same modules either way), and logs kept inside an
# output folder (OpenCompass's console copy: clock times and progress-bar rates on every line).
RUN_STAMP = re.compile(r"(?<!\d)20\d{6}_\d{6}(_\d+)?(?!\d)")
LOG_FOLDER, LOG_SUFFIXES = "logs", {".log", ".out"}
TIMING_KEYS = {"train_seconds"}
SET_KEYS = {"target_modules"}


def is_log(path: Path, output: Path) -> bool:
    """A log written inside an output folder (not an output of its own)."""
    inside = path.relative_to(output).parts[:-1]
    return path.suffix in LOG_SUFFIXES or LOG_FOLDER in inside


def files_under(root: Path, rel: str) -> dict[str, Path]:
    """The files of an output (a file, or every file in a folder but its logs), by their name up to run stamps."""
    path = root / rel
    found = [p for p in sorted(path.rglob("*")) if not is_log(p, path)] if path.is_dir() else [path] if path.is_file() else []
    return {RUN_STAMP.sub("<stamp>", str(p.relative_to(root))): p for p in found if p.is_file()}


def _canonical(value):
    if isinstance(value, dict):
        return {k: sorted(v) if k in SET_KEYS and isinstance(v, list) else _canonical(v)
                for k, v in value.items() if k not in TIMING_KEYS}
    return [_canonical(v) for v in value] if isinstance(value, list) else value


def content(path: Path, root: Path) -> bytes:
    """A file's bytes, with what legitimately differs between runs (above) made equal."""
    data = path.read_bytes()
    if b"\0" in data:  # weights, images: compared as they are
        return data
    text = data.decode(errors="surrogateescape").replace(str(root.resolve()), "<run>").replace(str(root), "<run>")
    text = RUN_STAMP.sub("<stamp>", text)
    if path.suffix == ".json":
        try:
            text = json.dumps(_canonical(json.loads(text)), sort_keys=True)
        except ValueError:
            pass  # compared as text
    return text.encode(errors="surrogateescape")


def differing(a: Path, b: Path, outputs: set[str]) -> list[str]:
    """Output files (or files in output folders) that are missing in ``b`` or differ from ``a``."""
    bad = []
    for rel in sorted(outputs):
        mine, theirs = files_under(a, rel), files_under(b, rel)
        assert mine, f"{rel} missing in the reference run {a}"
        bad += [f"{name} (in one run only)" for name in sorted(set(mine) ^ set(theirs))]
        bad += [name for name in sorted(set(mine) & set(theirs))
                if content(mine[name], a) != content(theirs[name], b)]
    return bad


def seed(src: Path, dst: Path, skip: set[str] = frozenset(), only: set[str] | None = None) -> None:
    """Copy a run's results (mtimes kept, so nothing looks outdated), without ``skip`` outputs."""
    def ignore(folder, names):
        rel = Path(folder).relative_to(src)
        return [n for n in names if str(rel / n) in skip]
    if only is None:
        shutil.copytree(src / "results", dst / "results", ignore=ignore, symlinks=True)
        return
    for rel in only:
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if (src / rel).is_dir() else shutil.copy2)(src / rel, target)


# ---- tests of the above ----------------------------------------------------------------------

def _toy_dag():
    """raw -> split_a, split_b; split_a -> mix -> train_x, train_y -> pred_x, pred_y -> table."""
    spec = [("gen", "raw", [], 1), ("split", "split_a", ["raw"], 1), ("split", "split_b", ["raw"], 0.5),
            ("mix", "mix", ["split_a"], 1), ("train", "train_x", ["mix"], 9), ("train", "train_y", ["mix"], 5),
            ("pred", "pred_x", ["train_x/model.bin"], 2), ("pred", "pred_y", ["train_y/model.bin"], 3),
            ("table", "table", ["pred_x", "pred_y", "config.yaml"], 1)]
    return Dag([Job(rule, (f"logs/{out}.log",), seconds, {out}, set(inputs)) for rule, out, inputs, seconds in spec])


def test_a_rerun_slice_includes_every_job_between_two_rerun_jobs():
    dag = _toy_dag()
    names = lambda jobs: {next(iter(dag.jobs[i].outputs)) for i in jobs}  # noqa: E731
    assert names(dag.parents[dag.job_of("pred_x")]) == {"train_x"}  # an input inside an output folder
    assert names(dag.planned({dag.job_of("raw"), dag.job_of("table")})) == {
        "raw", "split_a", "mix", "train_x", "train_y", "pred_x", "pred_y", "table"}
    assert names(dag.planned({dag.job_of("split_b"), dag.job_of("table")})) == {"split_b", "table"}


def test_the_slice_covers_every_rule_once_with_nothing_rerun_in_between():
    dag = _toy_dag()
    copies = pick_slice(dag, skip_rules={"gen"})
    picked = [i for copy in copies for i in copy]
    assert sorted(dag.jobs[i].rule for i in picked) == ["mix", "pred", "split", "table", "train"]
    assert all(dag.planned(copy) == copy for copy in copies)
    assert {"split_b", "train_y"} <= {next(iter(dag.jobs[i].outputs)) for i in picked}  # the cheapest


def test_outputs_are_compared_up_to_the_run_folder_and_run_stamps(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for run, stamp in ((a, "20261125_003255"), (b, "20261125_005600_7583")):
        (run / "out" / stamp).mkdir(parents=True)
        (run / "out" / stamp / "config.py").write_text(f"path='{run}/data.jsonl'  # {stamp}\n")
        (run / "out" / "weights.bin").write_bytes(b"\0\1")
        (run / "out" / "logs").mkdir()
        (run / "out" / "logs" / "console.out").write_text(f"{stamp[9:]} - INFO - 3/3 [00:00, {len(stamp)} it/s]\n")
    (a / "out" / "model.json").write_text('{"target_modules": ["q", "k"], "train_seconds": 2.7, "steps": 4}')
    (b / "out" / "model.json").write_text('{"target_modules": ["k", "q"], "train_seconds": 1.0, "steps": 4}')
    assert differing(a, b, {"out"}) == []
    (b / "out" / "model.json").write_text('{"target_modules": ["k", "q"], "train_seconds": 1.0, "steps": 5}')
    (b / "out" / "weights.bin").write_bytes(b"\0\2")
    (b / "out" / "extra.json").write_text("{}")
    assert differing(a, b, {"out"}) == ["out/extra.json (in one run only)", "out/model.json", "out/weights.bin"]
