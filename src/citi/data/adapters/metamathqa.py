"""MetaMathQA (hub meta-math/MetaMathQA): MetaMathQA-395K.json {query, response, type, original_question}."""

from __future__ import annotations

from pathlib import Path

from ...records import make_record, message
from ._common import native_id, read_rows
from .base import Adapter, field, register


def final_answer(response: str) -> str:
    """MetaMathQA responses end 'The answer is: X'; empty when absent."""
    head, sep, tail = response.rpartition("The answer is:")
    return tail.strip() if sep else ""


@register
class MetaMathQA(Adapter):
    name = "metamathqa"
    task = "math"
    split_files = {"train": ["MetaMathQA-395K.json", "data/train-*.parquet"]}
    hub_patterns = ["MetaMathQA-395K.json"]

    def convert(self, files: list[Path], split: str, **options) -> list[dict]:
        records = []
        for path in files:
            for i, row in enumerate(read_rows(path)):
                where = f"{path}: record {i}"
                response = field(row, "response", where)
                meta = {"answer": final_answer(response)}
                if isinstance(row.get("type"), str):
                    meta["type"] = row["type"]
                records.append(make_record(native_id(path, i, len(files)), self.task,
                                           [message("user", field(row, "query", where)),
                                            message("assistant", response)], meta))
        return records
