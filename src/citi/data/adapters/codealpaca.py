"""CodeAlpaca (sahil280114/codealpaca; hub sahil2801/CodeAlpaca-20k): {instruction, input, output}."""

from __future__ import annotations

from pathlib import Path

from ...records import make_record, message
from ._common import native_id, read_rows, with_input
from .base import Adapter, field, register


def alpaca_records(files: list[Path], task: str) -> list[dict]:
    """Alpaca-format rows -> single-turn records (shared with alpaca_gpt4)."""
    records = []
    for path in files:
        for i, row in enumerate(read_rows(path)):
            where = f"{path}: record {i}"
            extra = field(row, "input", where) if row.get("input") is not None else ""
            prompt = with_input(field(row, "instruction", where), extra)
            records.append(make_record(native_id(path, i, len(files)), task,
                                       [message("user", prompt), message("assistant", field(row, "output", where))]))
    return records


@register
class CodeAlpaca(Adapter):
    name = "codealpaca"
    task = "code"
    # The 20k set is what CITI trains on; the 2k pilot set is the fallback that exists locally.
    split_files = {
        "train": ["code_alpaca_20k.json", "data/code_alpaca_20k.json",
                  "code_alpaca_2k.json", "data/code_alpaca_2k.json"],
    }
    hub_patterns = ["code_alpaca_20k.json"]

    def convert(self, files: list[Path], split: str, **options) -> list[dict]:
        return alpaca_records(files, self.task)
