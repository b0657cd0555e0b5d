"""The one record format every dataset is converted to.

A record is a JSON object::

    {
      "id":        "gsm8k/train/42",          # stable: <dataset>/<split>/<native id>
      "source":    "gsm8k",                   # the dataset name in the config
      "task":      "math",                    # instruct | math | code | knowledge | tool
      "task_type": 0,                         # 1 for tool, 0 for general
      "messages":  [{"role": "system" | "user" | "assistant" | "tool", "content": "..."}],
      "meta":      {...},                     # adapter-specific: gold answers, tests, ids
      "train_on":  "all_assistant_turns"      # optional (absent: "last"), see below
    }

Training loss is on the last assistant turn only (see ``target_index``), unless the record says
``"train_on": "all_assistant_turns"`` (``datasets.<name>.splits.<split>.train_on``): then every
assistant turn is a target, in one example, and the other turns (system, user, tool results)
are context (see ``target_indices``; the training collator and the importance loss both use it).
Evaluation-only records (MT-Bench) may have no assistant turn.
"""

from __future__ import annotations

from typing import Any

from .errors import RecordError

TASKS = ("instruct", "math", "code", "knowledge", "tool")
ROLES = ("system", "user", "assistant", "tool")
REQUIRED = {"id": str, "source": str, "task": str, "task_type": int, "messages": list}
TRAIN_ON = ("last", "all_assistant_turns")  # a record's loss targets: its last assistant turn, or every one


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


def target_indices(rec: dict) -> list[int]:
    """Indices of the record's training targets, in order: its last assistant message, or with
    ``train_on: all_assistant_turns`` every assistant message (empty when it has none)."""
    if rec.get("train_on", "last") == "all_assistant_turns":
        return [i for i, m in enumerate(rec["messages"]) if m["role"] == "assistant"]
    last = target_index(rec)
    return [] if last is None else [last]


def with_train_on(rec: dict, train_on: str) -> dict:
    """``rec`` with its loss targets set (the default, ``last``, leaves no field)."""
    if train_on not in TRAIN_ON:
        raise RecordError(f"train_on {train_on!r}; expected one of {', '.join(TRAIN_ON)}")
    rest = {k: v for k, v in rec.items() if k != "train_on"}
    return rest if train_on == "last" else {**rest, "train_on": train_on}


def chat_segments(tokenizer, messages: list[dict], targets: list[int], where: str) -> list[tuple[str, str]]:
    """``messages[: targets[-1] + 1]`` rendered by the tokenizer's chat template, cut into one
    (context text, target text) pair per target turn; the pairs joined give the whole rendering. A
    target text is its turn as the template renders it after the generation prompt (end-of-turn
    marker included); a context text is everything since the previous target. Tokenise the parts
    apart: each boundary is then exact, whatever the tokenizer merges. One target gives
    [(prompt, answer)]."""
    full = tokenizer.apply_chat_template(messages[: targets[-1] + 1], tokenize=False)
    eos = getattr(tokenizer, "eos_token", None)
    pieces, at = [], 0
    for i in targets:
        prompt = tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True)
        end = full if i == targets[-1] else tokenizer.apply_chat_template(messages[: i + 1], tokenize=False)
        if not full.startswith(end) and eos and end.endswith(eos) and full.startswith(end[: -len(eos)]):
            end = end[: -len(eos)]  # a template that closes the conversation with the eos (Phi-3): not mid-way
        if not (end.startswith(prompt) and full.startswith(end) and len(prompt) >= at):
            raise RecordError(f"{where}: the chat template renders the conversation differently up to "
                              f"assistant turn {i} (with and without its answer, or with the turns after it), "
                              f"so the answer cannot be located; set models.<name>.chat_template")
        pieces.append((full[at:len(prompt)], full[len(prompt):len(end)]))
        at = len(end)
    return pieces


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
    if rec.get("train_on", "last") not in TRAIN_ON:
        raise RecordError(f"{where}: field 'train_on' is {rec['train_on']!r}, expected one of {', '.join(TRAIN_ON)}")
    if need_target and target_index(rec) is None:
        raise RecordError(f"{where}: no assistant turn to train on")
    return rec
