"""The project's generated general tasks (citi.synthetic): math, knowledge, instruct.

Each folder holds train.jsonl and test.jsonl of raw rows; see citi.synthetic.
The generated tool folder has the API-Bank layout and is read by ``api_bank``.
"""

from __future__ import annotations

from pathlib import Path

from ...io import read_table
from ...records import make_record, message
from .base import Adapter, field, register
from .gsm8k import checked_solution, final_answer

SPLITS = {"train": ["train.jsonl"], "test": ["test.jsonl"]}


class Embedded(Adapter):
    split_files = SPLITS

    def convert(self, files: list[Path], split: str, **options) -> list[dict]:
        records = []
        for path in files:
            for i, row in enumerate(read_table(path)):
                where = f"{path}: record {i}"
                prompt, answer, meta = self.fields(row, where)
                records.append(make_record(native_id=row.get("id", i), task=self.task,
                                           messages=[message("user", prompt), message("assistant", answer)], meta=meta))
        return records

    def fields(self, row: dict, where: str) -> tuple[str, str, dict]:
        raise NotImplementedError


@register
class EmbeddedMath(Embedded):
    name = "embedded_math"
    task = "math"

    def fields(self, row, where):
        answer = checked_solution(row, where)
        return field(row, "question", where), answer, {"answer": final_answer(answer)}


@register
class EmbeddedKnowledge(Embedded):
    name = "embedded_knowledge"
    task = "knowledge"

    def fields(self, row, where):
        answer = field(row, "answer", where)
        aliases = field(row, "aliases", where, list)
        return field(row, "question", where), answer, {"answer": answer, "aliases": aliases}


@register
class EmbeddedInstruct(Embedded):
    name = "embedded_instruct"
    task = "instruct"

    def fields(self, row, where):
        constraints = field(row, "constraints", where, list)
        return field(row, "instruction", where), field(row, "response", where), {"constraints": constraints}
