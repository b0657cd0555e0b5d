"""The one record format every dataset is converted to.

A record is a JSON object::

    {
      "id":        "gsm8k/train/42",          # stable: <dataset>/<split>/<native id>
      "source":    "gsm8k",                   # the dataset name in the config
      "task":      "math",                    # instruct | math | code | knowledge | tool
      "task_type": 0,                         # 1 for tool, 0 for general
      "messages":  [{"role": "system" | "user" | "assistant" | "tool", "content": "..."}],
      "meta":      {...}                      # adapter-specific: gold answers, tests, ids
    }

Training loss is on the last assistant turn only (see ``target_index``).
Evaluation-only records (MT-Bench) may have no assistant turn.
"""

from __future__ import annotations

from typing import Any

from .errors import RecordError

TASKS = ("instruct", "math", "code", "knowledge", "tool")
ROLES = ("system", "user", "assistant", "tool")
REQUIRED = {"id": str, "source": str, "task": str, "task_type": int, "messages": list}


def task_type(task: str) -> int:
    """1 for the tool task, 0 for every general task."""
    return 1 if task == "tool" else 0


def message(role: str, content: str, **extra: Any) -> dict:
    return {"role": role, "content": content, **extra}


def make_record(native_id: str | int, task: str, messages: list[dict], meta: dict | None = None) -> dict:
    """A record as an adapter emits it; ``finalize`` adds the dataset and split."""
    rec = {"id": str(native_id), "source": "", "task": task, "task_type": task_type(task), "messages": messages}
    if meta:
        rec["meta"] = meta
    return rec


def finalize(rec: dict, dataset: str, split: str) -> dict:
    """Give an adapter's record its stable id and source for one configured dataset."""
    return {**rec, "id": f"{dataset}/{split}/{rec['id']}", "source": dataset}


def target_index(rec: dict) -> int | None:
    """Index of the last assistant message (the training target), or None."""
    for i in range(len(rec["messages"]) - 1, -1, -1):
        if rec["messages"][i]["role"] == "assistant":
            return i
    return None


def validate_record(rec: Any, where: str, need_target: bool = False) -> dict:
    """Check one record's shape; raise RecordError naming ``where`` and the field."""
    if not isinstance(rec, dict):
        raise RecordError(f"{where}: expected a JSON object, got {type(rec).__name__}")
    for key, typ in REQUIRED.items():
        if key not in rec:
            raise RecordError(f"{where}: missing field '{key}'")
        if not isinstance(rec[key], typ) or (typ is int and isinstance(rec[key], bool)):
            raise RecordError(f"{where}: field '{key}' should be {typ.__name__}, got {type(rec[key]).__name__}")
    if rec["task"] not in TASKS:
        raise RecordError(f"{where}: field 'task' is '{rec['task']}', expected one of {', '.join(TASKS)}")
    if rec["task_type"] != task_type(rec["task"]):
        raise RecordError(f"{where}: field 'task_type' is {rec['task_type']} but task '{rec['task']}' needs {task_type(rec['task'])}")
    if not rec["messages"]:
        raise RecordError(f"{where}: field 'messages' is empty")
    for i, msg in enumerate(rec["messages"]):
        field = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise RecordError(f"{where}: field '{field}' should be an object")
        if msg.get("role") not in ROLES:
            raise RecordError(f"{where}: field '{field}.role' is {msg.get('role')!r}, expected one of {', '.join(ROLES)}")
        if not isinstance(msg.get("content"), str):
            raise RecordError(f"{where}: field '{field}.content' should be a string")
    if "meta" in rec and not isinstance(rec["meta"], dict):
        raise RecordError(f"{where}: field 'meta' should be an object")
    if need_target and target_index(rec) is None:
        raise RecordError(f"{where}: no assistant turn to train on")
    return rec
