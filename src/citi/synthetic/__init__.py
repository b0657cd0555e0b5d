"""The project's own generated data: tool dialogues and general tasks.

``generate(out_root, spec)`` writes

    <out_root>/tools/       an API-Bank-format folder (see ``dialogues``)
    <out_root>/math/        {train,test}.jsonl  {id, question, answer '... #### N', final, template}
    <out_root>/knowledge/   {train,test}.jsonl  {id, question, answer, aliases, fact}
    <out_root>/instruct/    {train,test}.jsonl  {id, instruction, response, constraints, topic}

Same spec, same bytes: every random draw is seeded from ``spec['seed']``.
"""

from __future__ import annotations

from pathlib import Path

from .dialogues import write_api_bank
from .general import write_general

DEFAULT_SPEC = {"seed": 7, "tools": {"train_dialogues": 200, "test_dialogues": 50},
                "math": {"train": 300, "test": 100}, "knowledge": {"train": 300, "test": 100},
                "instruct": {"train": 300, "test": 100}}


def generate(out_root: Path, spec: dict) -> dict:
    """Write every embedded dataset under ``out_root``; returns counts per kind."""
    spec = {**DEFAULT_SPEC, **(spec or {})}
    out_root, seed = Path(out_root), int(spec["seed"])
    tools = {**DEFAULT_SPEC["tools"], **spec["tools"]}
    counts = {"tools": write_api_bank(out_root / "tools", seed, tools["train_dialogues"], tools["test_dialogues"])}
    for task in ("math", "knowledge", "instruct"):
        sizes = {**DEFAULT_SPEC[task], **spec[task]}
        counts[task] = write_general(out_root / task, task, seed, sizes["train"], sizes["test"])
    return counts
