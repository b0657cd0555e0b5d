"""Our prepared splits, written in the file layouts OpenCompass's loaders read.

The data stay where the pipeline puts them (results/); this writes a capped copy
into the run's data cache (COMPASS_DATA_CACHE), never into the project.
Each kind maps to one OpenCompass loader:

  gsm8k               gsm8k/{train,test}.jsonl       {question, answer: '... #### N'}
  humaneval           humaneval/problems.jsonl       {task_id, prompt, canonical_solution, test, entry_point}
  triviaqa            triviaqa/trivia-{dev,test}.qa.csv   question<TAB>[answers]
  math                math/math.json                 {"<i>": {problem, solution with \\boxed{answer}}}
  mbpp                <name>.jsonl (our loader)      {task_id, text, test_list, test_list_2, test_case}
  embedded_math       <name>.jsonl                   {question, answer: '... #### N'}
  embedded_knowledge  <name>.jsonl                   {question, answers: JSON list}
  embedded_instruct   <name>.jsonl                   {prompt, constraints: JSON list}

MBPP is read by our loader (CitiJsonlDataset), not OpenCompass's MBPPDataset: that
one takes the file's rows 10-509 by position, so a capped file would leave no items.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ...errors import RecordError
from ...io import read_jsonl, write_json, write_jsonl


def _turns(rec: dict, where: str) -> tuple[str, str]:
    """The record's first user turn and last assistant turn."""
    msgs = rec.get("messages") or []
    user = next((m["content"] for m in msgs if m.get("role") == "user"), None)
    gold = next((m["content"] for m in reversed(msgs) if m.get("role") == "assistant"), None)
    if user is None or gold is None:
        raise RecordError(f"{where}: needs a user and an assistant message")
    return user, gold


def _meta(rec: dict, key: str, where: str):
    value = (rec.get("meta") or {}).get(key)
    if value is None:
        raise RecordError(f"{where}: meta.{key} is missing (wrong dataset for this benchmark kind?)")
    return value


def _gsm8k_row(rec, where):
    question, solution = _turns(rec, where)
    if "####" not in solution:
        raise RecordError(f"{where}: the assistant turn has no '#### <answer>'")
    return {"question": question, "answer": solution}


def _humaneval_row(rec, where):
    _, solution = _turns(rec, where)
    return {"task_id": _meta(rec, "task_id", where), "prompt": _meta(rec, "prompt", where),
            "canonical_solution": solution, "test": _meta(rec, "test", where),
            "entry_point": _meta(rec, "entry_point", where)}


def _answers(rec, where) -> list[str]:
    answer = _meta(rec, "answer", where)
    aliases = (rec.get("meta") or {}).get("aliases") or []
    return list(dict.fromkeys([answer, *aliases]))


def _knowledge_row(rec, where):
    question, _ = _turns(rec, where)
    return {"question": question, "answers": json.dumps(_answers(rec, where), ensure_ascii=False)}


def _instruct_row(rec, where):
    prompt, _ = _turns(rec, where)
    return {"prompt": prompt, "constraints": json.dumps(_meta(rec, "constraints", where), ensure_ascii=False)}


MBPP_TESTS_MARKER = "\nYour code should pass these tests:"  # how the mbpp adapter joins text and tests


def _math_row(rec, where):
    problem, solution = _turns(rec, where)
    if "\\boxed" not in solution:  # OpenCompass takes the reference from the last \boxed{...}
        solution = f"\\boxed{{{_meta(rec, 'answer', where)}}}"
    return {"problem": problem, "solution": solution}


def _mbpp_row(rec, where):
    """The columns OpenCompass's MBPP loader makes: asserts joined (test_list, test_list_2) and as a list."""
    tests = _meta(rec, "test_list", where)
    user, _ = _turns(rec, where)
    if MBPP_TESTS_MARKER not in user:
        raise RecordError(f"{where}: the user turn has no {MBPP_TESTS_MARKER!r} (not an MBPP record?)")
    text = user.split(MBPP_TESTS_MARKER, 1)[0]  # the task text alone: the template adds its own test lines
    return {"task_id": _meta(rec, "task_id", where), "text": text, "test_list": "\n".join(tests),
            "test_list_2": "\n".join(tests), "test_case": tests}


ROWS = {"gsm8k": _gsm8k_row, "embedded_math": _gsm8k_row, "humaneval": _humaneval_row, "math": _math_row,
        "mbpp": _mbpp_row, "triviaqa": _knowledge_row, "embedded_knowledge": _knowledge_row, "embedded_instruct": _instruct_row}


def write_benchmark(name: str, kind: str, split_file: str | Path, cap: int | None, cache: Path) -> dict:
    """Write the first ``cap`` records of ``split_file``; return {path, item_ids, n}."""
    records = read_jsonl(split_file)[:cap] if cap else read_jsonl(split_file)
    if not records:
        raise RecordError(f"{split_file}: no records for benchmark '{name}'")
    rows = [ROWS[kind](rec, f"{split_file}: record {rec.get('id', i)}") for i, rec in enumerate(records)]
    folder = cache / name
    if kind == "gsm8k":  # the loader reads both splits; the template's shots are fixed, train is unused
        write_jsonl(folder / "train.jsonl", rows)
        write_jsonl(folder / "test.jsonl", rows)
        path = folder
    elif kind == "humaneval":
        path = folder / "problems.jsonl"
        write_jsonl(path, rows)
    elif kind == "triviaqa":  # OpenCompass's TSV: question, Python-literal list of answers
        folder.mkdir(parents=True, exist_ok=True)
        for split in ("dev", "test"):
            with open(folder / f"trivia-{split}.qa.csv", "w", encoding="utf-8", newline="") as f:
                writer = csv.writer(f, delimiter="\t")
                for row in rows:
                    writer.writerow([row["question"], repr(json.loads(row["answers"]))])
        path = folder
    elif kind == "math":  # MATHDataset reads <path>/math.json, every item
        path = folder
        write_json(folder / "math.json", {str(i): row for i, row in enumerate(rows)})
    else:
        path = folder / f"{name}.jsonl"
        write_jsonl(path, rows)
    return {"path": str(path.resolve()), "item_ids": [rec["id"] for rec in records], "n": len(records)}
