"""MT-Bench (lm-sys/FastChat fastchat/llm_judge/data): question.jsonl {question_id, category, turns},
optional reference_answer/gpt-4.jsonl beside it, and judge_prompts.jsonl one level up (or beside).

Evaluation only: records hold the first turn as the prompt and no assistant turn; the
second turn and the references travel in ``meta`` for the judge.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import RecordError
from ...io import read_jsonl
from ...records import make_record, message
from .base import Adapter, field, register

REFERENCE = Path("reference_answer") / "gpt-4.jsonl"


def references(question_file: Path) -> dict[int, list[str]]:
    """question_id -> GPT-4 reference turns, from the file beside the questions (if any)."""
    path = question_file.parent / REFERENCE
    if not path.is_file():
        return {}
    out = {}
    for i, row in enumerate(read_jsonl(path)):
        where = f"{path}: record {i}"
        choices = field(row, "choices", where, list)
        if not choices or not isinstance(choices[0], dict):
            raise RecordError(f"{where}: field 'choices' should be a non-empty list of objects")
        out[field(row, "question_id", where, int)] = field(choices[0], "turns", f"{where}: field 'choices[0]'", list)
    return out


@register
class MTBench(Adapter):
    name = "mt_bench"
    task = "instruct"
    split_files = {
        "test": ["question.jsonl", "mt_bench/question.jsonl", "data/mt_bench/question.jsonl", "fastchat/llm_judge/data/mt_bench/question.jsonl"],
        # not a dataset split: the judge templates, as records so one reader serves the evaluator
        "judge_prompts": ["judge_prompts.jsonl", "../judge_prompts.jsonl", "data/judge_prompts.jsonl",
                          "fastchat/llm_judge/data/judge_prompts.jsonl"],
    }
    hub_patterns = None

    def convert(self, files: list[Path], split: str, **options) -> list[dict]:
        if split == "judge_prompts":
            return [self._judge(row, f"{path}: record {i}")
                    for path in files for i, row in enumerate(read_jsonl(path))]
        records = []
        for path in files:
            refs = references(path)
            for i, row in enumerate(read_jsonl(path)):
                where = f"{path}: record {i}"
                qid = field(row, "question_id", where, int)
                turns = field(row, "turns", where, list)
                if not turns or not all(isinstance(t, str) for t in turns):
                    raise RecordError(f"{where}: field 'turns' should be a non-empty list of strings")
                meta = {"question_id": qid, "category": field(row, "category", where), "turns": turns}
                if qid in refs:
                    meta["reference"] = refs[qid]
                records.append(make_record(qid, self.task, [message("user", turns[0])], meta))
        return records

    def _judge(self, row: dict, where: str) -> dict:
        name = field(row, "name", where)
        meta = {k: row[k] for k in ("name", "type", "category", "output_format", "description") if k in row}
        return make_record(name, self.task, [message("system", field(row, "system_prompt", where)),
                                             message("user", field(row, "prompt_template", where))], meta)
