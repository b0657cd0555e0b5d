"""Training mixtures: every tool sample plus N seeded samples of each general task.

CITI trains on "all tool samples + 5000 of each general dataset, seed 1,
shuffled" and gives general samples the same (tool-oriented) system prompt.
"""

from __future__ import annotations

import random
from pathlib import Path

from ..errors import ConfigError, RecordError
from ..io import read_jsonl, sha256_file, write_json, write_jsonl
from ..records import validate_record
from .sampling import sample_indices

GENERAL_TASKS = ("instruct", "math", "code", "knowledge")


def read_records(path: str | Path, need_target: bool = True) -> list[dict]:
    """Read a sampled split, checking every record (file and line in errors)."""
    rows = read_jsonl(path)
    return [validate_record(r, f"{path}:{i + 1}", need_target=need_target) for i, r in enumerate(rows)]


def with_system(rec: dict, prompt: str | None) -> dict:
    if prompt is None or rec["messages"][0]["role"] == "system":
        return rec
    return {**rec, "messages": [{"role": "system", "content": prompt}, *rec["messages"]]}


def mixture_tasks(spec: dict) -> list[str]:
    """The tasks a mixture ``spec`` reads: "tool" unless include_tool is false, then its general tasks."""
    general = [] if spec["general_per_task"] == 0 else list(spec.get("tasks", GENERAL_TASKS))
    return (["tool"] if spec.get("include_tool", True) else []) + general


def _nonempty(records: list[dict], path: str | Path, task: str) -> list[dict]:
    """A mixture part read from an empty file would train on nothing (or fail deep inside the trainer)."""
    if not records:
        raise RecordError(f"{path}: no records (the mixture's {task} part); regenerate or fix this data file")
    return records


def build_mixture(spec: dict, tool_file: str | Path, general_files: dict[str, str | Path],
                  out: str | Path, manifest: str | Path, default_seed: int) -> dict:
    """Write the mixture ``spec`` to ``out``: general_per_task (null = all records), seed,
    general_system_prompt, include_tool (default true), tasks (default all four general tasks)."""
    seed = spec.get("seed", default_seed)
    n = spec["general_per_task"]
    tasks = mixture_tasks(spec)
    if not tasks:
        raise ConfigError("a mixture with include_tool: false needs general_per_task > 0 or null")
    tool = _nonempty(read_records(tool_file), tool_file, "tool") if "tool" in tasks else []
    parts = {"tool": len(tool)}
    mixed = list(tool)
    for task in (t for t in tasks if t != "tool"):
        records = _nonempty(read_records(general_files[task]), general_files[task], task)
        # each task drawn with its own generator, so one task's data never shifts another's picks
        chosen = [records[i] for i in sample_indices(len(records), n, seed)]
        mixed += [with_system(r, spec.get("general_system_prompt")) for r in chosen]
        parts[task] = len(chosen)
    random.Random(seed).shuffle(mixed)
    write_jsonl(out, mixed)
    inputs = {t: str(tool_file if t == "tool" else general_files[t]) for t in tasks}
    info = {"general_per_task": n, "seed": seed, "count": len(mixed), "parts": parts, "inputs": inputs,
            "sha256": sha256_file(out)}
    write_json(manifest, info)
    return info
