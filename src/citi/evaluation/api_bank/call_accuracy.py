"""RoTBench-style TS / PI / CF of API-Bank predictions (``citi.toolcalls.taxonomy``).

Unlike C these judge the call text, not its execution: the predicted name against the gold
name (TS), its parameter names against the gold ones (PI), and the values (CF), read with the
corrected literal scanner. The tools a prediction may name are the API-Bank library of the
level (every API the data describes, and ToolSearcher), so calling a real API the prompt did
not show is a wrong tool, not a hallucination; the categories do not change TS / PI / CF.
"""

from __future__ import annotations

from pathlib import Path

from ...io import read_json
from ...toolcalls import taxonomy
from .catalog import UNDESCRIBED_TYPES, catalog

SEARCHER = {"ToolSearcher": ["keywords"]}


def library(data_root: Path, level: int, embedded: bool) -> dict[str, list[str]]:
    """API name -> declared parameter names."""
    if embedded:
        return {d["name"]: list(d.get("input_parameters") or {}) for d in read_json(Path(data_root) / "apis.json")}
    cat = catalog(str(data_root), level)
    names = set(cat.described) | (set(UNDESCRIBED_TYPES) if level != 3 else set())
    return {**{n: list(cat.types(n) or {}) for n in sorted(names)}, **SEARCHER}


def categorize(text: str | None, api_name: str, params: dict, tools: dict[str, list[str]]) -> str:
    return taxonomy.classify_call(text, {"api_name": api_name, "parameters": params}, tools)


def summary(categories: list[str]) -> dict:
    """``metrics`` additions (TS, PI, CF) and the category counts behind them."""
    return {"metrics": taxonomy.accuracies(categories), "counts": taxonomy.category_counts(categories)}
