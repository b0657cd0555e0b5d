"""The paper's numbers (Tables 1-6), for side-by-side comparison with ours.

A paper number is shown only where our setting matches the paper's: the backbone
(``tables.paper.backbones``), the tool training data (``tables.paper.tool_dataset``)
and the benchmark (a column's ``paper`` key). The embedded default matches none.

A config on the paper's tool data with another backbone (SmolLM2 on API-Bank) may name the paper's
backbones in ``tables.paper.reference``: their numbers for the same row and column stand beside ours
as a reference, to compare the pattern across methods, not the values (``reference_numbers``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

DATA = Path(__file__).with_name("paper_results.yaml")
BACKBONES = ("llama-3-8b-instruct", "phi-3-mini", "mistral-7b-instruct-v0.2")
SHORT_NAMES = {"llama-3-8b-instruct": "Llama-3-8B", "phi-3-mini": "Phi-3-mini", "mistral-7b-instruct-v0.2": "Mistral-7B"}
COLUMNS = ("C", "R", "P", "O", "GSM", "HE", "TQA", "MT")
# main and ablation tables per tool training dataset (Tables 3/5 API-Bank, 4/6 ToolAlpaca)
BY_TOOL_DATASET = {"api_bank": {"main": "table3", "ablations": "table5", "analysis": "table2"},
                   "toolalpaca": {"main": "table4", "ablations": "table6"}}
# Table 1 (weight replacement) holds the API-Bank FT model's components; rows keep the paper's labels
REPLACEMENT_TABLE = "table1"
REPLACEMENT_LABELS = ("T-20", "T-50", "D-20", "D-50")


@lru_cache(maxsize=1)
def paper_tables() -> dict:
    return yaml.safe_load(DATA.read_text())


def paper_number(table: str, backbone: str, row: str, column: str) -> float | None:
    """The paper's value in ``table`` (e.g. 'table3') for a backbone, row and column key; None if absent."""
    return paper_tables().get(table, {}).get(backbone, {}).get(row, {}).get(column)


def paper_table_for(tool_dataset: str | None, table: str, row: str) -> str | None:
    """Which paper table holds ``row`` of our ``table`` (main/ablations/analysis) for the tool data."""
    if tool_dataset is None:
        return None
    if table == "analysis" and (row in REPLACEMENT_LABELS or row == "vanilla"):
        return REPLACEMENT_TABLE if tool_dataset == "api_bank" else None
    return BY_TOOL_DATASET.get(tool_dataset, {}).get(table)


def reference_numbers(tool_dataset: str | None, table: str, row: str, column: str | None,
                      backbones) -> dict[str, float | None]:
    """backbone -> the paper's number for ``row`` and ``column`` of our ``table``, for each reference backbone.

    The row is looked up in the paper table that holds it for the tool data (``paper_table_for``), then in
    that tool data's other tables: the main table's FT+DM and LoRA+DM rows are in the ablation table
    (Table 5, Llama-3 only). None where the paper has no such number (or the column has no paper key)."""
    if tool_dataset is None or column is None:
        return {b: None for b in backbones}
    first = paper_table_for(tool_dataset, table, row)
    order = [first, *(t for t in BY_TOOL_DATASET.get(tool_dataset, {}).values() if t != first)]
    out = {}
    for backbone in backbones:
        found = (paper_number(t, backbone, row, column) for t in order if t is not None)
        out[backbone] = next((v for v in found if v is not None), None)
    return out
