"""GPT-4-LLM alpaca_gpt4_data.json (hub vicgalle/alpaca-gpt4 parquet): {instruction, input, output}."""

from __future__ import annotations

from pathlib import Path

from .base import Adapter, register
from .codealpaca import alpaca_records


@register
class AlpacaGPT4(Adapter):
    name = "alpaca_gpt4"
    task = "instruct"
    split_files = {
        "train": ["alpaca_gpt4_data.json", "data/alpaca_gpt4_data.json", "data/train-*.parquet"],
    }
    hub_patterns = ["data/train-*.parquet"]

    def convert(self, files: list[Path], split: str, **options) -> list[dict]:
        return alpaca_records(files, self.task)
