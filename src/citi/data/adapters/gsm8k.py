"""GSM8K (openai/grade-school-math): {question, answer}; the answer ends '#### N'."""

from __future__ import annotations

from pathlib import Path

from ...errors import RecordError
from ...io import read_table
from ...records import make_record, message
from .base import Adapter, field, register


def checked_solution(row: dict, where: str) -> str:
    """The row's 'answer' field, which must end in '#### <number>'."""
    answer = field(row, "answer", where)
    if "####" not in answer:
        raise RecordError(f"{where}: field 'answer' has no '#### <number>' final answer")
    return answer


def final_answer(solution: str) -> str:
    """The number after the last '####', commas removed ('1,000' -> '1000')."""
    return solution.rsplit("####", 1)[-1].strip().replace(",", "")


@register
class GSM8K(Adapter):
    name = "gsm8k"
    task = "math"
    split_files = {
        "train": ["train.jsonl", "grade_school_math/data/train.jsonl", "main/train-*.parquet"],
        "test": ["test.jsonl", "grade_school_math/data/test.jsonl", "main/test-*.parquet"],
        "test_socratic": ["test_socratic.jsonl", "socratic/test-*.parquet"],
    }
    hub_patterns = ["main/*", "socratic/*"]

    def convert(self, files: list[Path], split: str, **options) -> list[dict]:
        records = []
        for path in files:
            for i, row in enumerate(read_table(path)):
                where = f"{path}: record {i}"
                question = field(row, "question", where)
                answer = checked_solution(row, where)
                records.append(make_record(
                    native_id=i if len(files) == 1 else f"{path.stem}-{i}",
                    task=self.task,
                    messages=[message("user", question), message("assistant", answer)],
                    meta={"answer": final_answer(answer)},
                ))
        return records
