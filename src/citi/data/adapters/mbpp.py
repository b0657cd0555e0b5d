"""MBPP (google-research mbpp.jsonl; hub google-research-datasets/mbpp 'full'):
{text, code, task_id, test_setup_code, test_list, challenge_test_list}.

Splits are the task_id ranges of the paper, so the jsonl and the hub shards agree.
"""

from __future__ import annotations

from pathlib import Path

from ...records import make_record, message
from ._common import read_rows
from .base import Adapter, field, register

RANGES = {"prompt": (1, 10), "test": (11, 510), "validation": (511, 600), "train": (601, 974), "all": (1, 974)}


@register
class MBPP(Adapter):
    name = "mbpp"
    task = "code"
    split_files = {split: ["mbpp.jsonl", "mbpp/mbpp.jsonl", "data/mbpp.jsonl",
                           "full/*.parquet" if split == "all" else f"full/{split}-*.parquet"]
                   for split in RANGES}
    hub_patterns = ["full/*"]

    def convert(self, files: list[Path], split: str, **options) -> list[dict]:
        lo, hi = RANGES[split]
        records = []
        for path in files:
            for i, row in enumerate(read_rows(path)):
                where = f"{path}: record {i}"
                task_id = field(row, "task_id", where, int)
                if not lo <= task_id <= hi:
                    continue
                tests = field(row, "test_list", where, list)
                prompt = f"{field(row, 'text', where)}\nYour code should pass these tests:\n\n" + "\n".join(tests)
                meta = {"task_id": task_id, "test_list": tests,
                        "test_setup_code": row.get("test_setup_code") or "",
                        "challenge_test_list": row.get("challenge_test_list") or []}
                # The jsonl stores code with CRLF line ends; train on plain newlines.
                code = field(row, "code", where).replace("\r\n", "\n")
                messages = [message("user", prompt), message("assistant", code)]
                records.append(make_record(task_id, self.task, messages, meta))
        return records
