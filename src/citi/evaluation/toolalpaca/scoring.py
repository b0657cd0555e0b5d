"""ToolAlpaca scores: the LLM judge's P / R / O (faithful) and ``procedure_offline`` (ours).

The judge prompt is the dataset's own template (``prompts/Evaluation.txt``, placeholders
documentation / instruction / standard / solution), filled as the official evaluation
fills it. ``procedure_offline`` needs no model: every gold step must appear, in order,
among the agent's calls, with the same function name and equal required parameters.
It is a proxy, reported under its own name and never mixed into P / R / O.
"""

from __future__ import annotations

import json
from pathlib import Path
from string import Template

from ...errors import ConfigError
from ...io import sha256_text
from ...data.sources import resolve
from ..judge import VERDICTS, ChatClient, parse_verdicts
from .apis import parameter_spec, required_parameters
from .tools import parse_arguments

TEMPLATE_NAME = "prompts/Evaluation.txt"


def find_template(data_root: Path, source: str | None) -> Path:
    """The configured template source, else the dataset's own file near its data."""
    if source:
        return resolve(source, owner="evaluation.toolalpaca.judge_template").path
    root = Path(data_root)
    for folder in (root, *root.parents[:3]):
        if (folder / TEMPLATE_NAME).is_file():
            return folder / TEMPLATE_NAME
    raise ConfigError(f"evaluation.toolalpaca.judge_template: no {TEMPLATE_NAME} found near {root}; "
                      "set it to the dataset's Evaluation.txt (a path or URL)")


def standard_answer(gold: list[dict]) -> str:
    return "".join(f"{k + 1}. Function: {g['Action']}\nParameters: {g['Action_Input']}\n" for k, g in enumerate(gold))


def solution(instance: dict) -> str:
    steps = instance["intermediate_steps"]
    text = "".join(f"{k + 1}. Function: {s[0][0]}\nParameters: {s[0][1]}\nRetruns: {s[1]}\n"
                   for k, s in enumerate(steps))  # sic: the official field label
    return text + f"{len(steps) + 1}. Final Response: {instance['output']}"


def judge_prompt(template: Template, api: dict, instruction: str, gold: list[dict], instance: dict) -> str:
    return template.substitute(documentation=api["NLDocumentation"], instruction=instruction,
                               standard=standard_answer(gold), solution=solution(instance))


def _same(a, b) -> bool:
    """Equal values, types aside (2024 == "2024"), surrounding whitespace ignored."""
    norm = (lambda v: json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else str(v).strip())
    return norm(a) == norm(b)


def procedure_match(api: dict, gold: list[dict], steps: list) -> bool:
    calls = [(s[0][0], parse_arguments(str(s[0][1])) or {}) for s in steps]
    at = 0
    for g in gold:
        want = parse_arguments(g["Action_Input"]) if isinstance(g["Action_Input"], str) else g["Action_Input"]
        want = want or {}
        keys = required_parameters(api, g["Action"]) or (list(want) if not parameter_spec(api, g["Action"]) else [])
        while at < len(calls) and not (calls[at][0] == g["Action"] and all(
                k in calls[at][1] and _same(calls[at][1][k], want.get(k)) for k in keys if k in want)):
            at += 1
        if at == len(calls):
            return False
        at += 1
    return True


def empty_statistics() -> dict:
    return {"num": 0, "error_num": 0, "process": dict.fromkeys(VERDICTS, 0),
            "response": dict.fromkeys(VERDICTS, 0), "both": 0, "malformed": 0, "failed": 0}


def judge_all(items: list[tuple[dict, dict, dict]], template: Template, client: ChatClient | None) -> tuple[dict, list]:
    """Official statistics over (record, api, instance) triples, and per-item verdicts."""
    stats, per_item = empty_statistics(), []
    for rec, api, instance in items:
        stats["num"] += 1
        item = {"id": rec["id"]}
        if not instance["intermediate_steps"]:  # counts toward num, never as Yes
            stats["error_num"] += 1
            per_item.append({**item, "process": None, "response": None, "error": True})
            continue
        prompt = judge_prompt(template, api, rec["messages"][1]["content"], rec["meta"]["golden_answers"], instance)
        reply = client.complete([{"role": "user", "content": prompt}])
        verdict = parse_verdicts(reply)
        for key in ("process", "response"):
            stats[key][verdict[key]] += 1
        stats["both"] += verdict["process"] == verdict["response"] == "Yes"
        stats["malformed"] += verdict["malformed"]
        stats["failed"] += verdict["failed"]
        per_item.append({**item, **verdict, "error": False, "judge_output": reply})
    return stats, per_item


def template_info(path: Path) -> dict:
    return {"path": str(path), "sha256": sha256_text(path.read_text(encoding="utf-8"))}
