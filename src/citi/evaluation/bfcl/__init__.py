"""BFCL (Berkeley Function Calling Leaderboard) as a benchmark: the official checker, run in BFCL's env.

Prompt format: BFCL's own for prompting (non function-calling) chat models, rendered by bfcl-eval
itself (``driver.py prompts``): a system turn with the functions' JSON schemas and the instruction
to answer with a Python-like list of calls, ``[func(a=1), other(b='x')]``, then the item's user
turn. Why this and not the pipeline's API-Bank syntax (``citi.toolcalls.syntax``): the official checker
decodes exactly that list with ``ast.parse`` (BFCL's prompting decoder), so the model's raw text
is scored by BFCL's code unchanged, with no conversion of ours in between, and the irrelevance
check ("no decodable call") is BFCL's own. It is also the bracketed ``[Name(k='v')]`` call shape
the API-Bank-trained models already produce, with the function's real (possibly dotted) name.

Scoring (``@register("bfcl")``): the predictions go to a results file in BFCL's format
(``{"id": <BFCL id>, "result": <model text>}`` a line, one file per category) and
``driver.py score`` runs BFCL's per-entry checker on it in ``.venv-bfcl``. The metrics are
``accuracy`` over all scored items and, when a split mixes categories, one accuracy per category
(named by the category), each with its ``item_scores`` (0 or 100 per item).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ...errors import RecordError
from ..registry import register
from .env import bfcl_python, run_driver

AST_CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple",
                  "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple")
RELEVANCE_CATEGORIES = ("irrelevance", "live_irrelevance", "live_relevance")
CATEGORIES = AST_CATEGORIES + RELEVANCE_CATEGORIES
# the adapter's splits: each category alone, and BFCL's non-live single-turn Python set together
SPLITS = {**{c: [c] for c in CATEGORIES},
          "non_live": ["simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance"],
          "non_live_ast": ["simple_python", "multiple", "parallel", "parallel_multiple"]}


# ---------------------------------------------------------------- gold answers as calls

_OMIT = object()


def _option(options, required: bool = False):
    """One concrete value of a list of possible values: the first, except that a value BFCL lets be
    omitted (an option '') is left out (``_OMIT``) unless the function's schema requires it; ``_OMIT``
    too when there is no option at all. Not a list: the value itself."""
    if not isinstance(options, list):
        return options
    if "" in options and not required:
        return _OMIT
    return next((v for v in options if v != ""), _OMIT)


def _param_value(options, required: bool = False):
    """A parameter's value from its possible values; a dict (or each dict of a list of dicts) holds
    possible values per key, one level deep (BFCL's dict_checker and list_dict_checker)."""
    value = _option(options, required)
    if isinstance(value, dict):
        return _dict_value(value)
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [_dict_value(v) for v in value]
    return value


def _dict_value(d: dict) -> dict:
    return {k: v for k, v in ((k, _option(opts)) for k, opts in d.items()) if v is not _OMIT}


def gold_calls(ground_truth: list[dict], required: dict[str, list[str]] | None = None) -> list[tuple[str, dict]]:
    """BFCL's possible answer (``[{func: {param: [options]}}]``) as calls: each parameter's first
    option; a parameter BFCL lets be omitted (an option '') is left out unless ``required`` (function
    name -> its schema's required parameters) lists it."""
    required = required or {}
    calls = []
    for entry in ground_truth:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise RecordError(f"BFCL possible answer entry {entry!r}: expected {{function: {{param: options}}}}")
        (name, params), = entry.items()
        need = set(required.get(name, ()))
        args = {k: v for k, v in ((k, _param_value(opts, k in need)) for k, opts in params.items()) if v is not _OMIT}
        calls.append((name, args))
    return calls


def python_value(v) -> str:
    """``v`` as Python literal syntax (what the prompting format asks the model for)."""
    if isinstance(v, (str, bool, int, float)) or v is None:
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(python_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{python_value(k)}: {python_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write a {type(v).__name__} as a call argument")


def format_calls(calls: list[tuple[str, dict]]) -> str:
    """``[f(a=1), g(b='x')]``: BFCL's prompting-model answer format."""
    return "[" + ", ".join(f"{name}({', '.join(f'{k}={python_value(v)}' for k, v in args.items())})"
                           for name, args in calls) + "]"


# ---------------------------------------------------------------- scoring

def check_many(python: str, sets: list[tuple[str, list[dict]]]) -> list[dict[str, dict]]:
    """BFCL's checker on several ``(category, [{"id", "result"}])`` sets in one process (its import
    takes seconds): for each set, id -> {"valid", "error_type", "error"}."""
    bad = sorted({c for c, _ in sets if c not in CATEGORIES})
    if bad:
        raise RecordError(f"BFCL categories {bad} are not supported; supported: {', '.join(CATEGORIES)}")
    with tempfile.TemporaryDirectory(prefix="citi-bfcl-") as tmp:
        args = []
        for k, (category, results) in enumerate(sets):
            path = Path(tmp) / f"{k}_BFCL_{category}_result.json"  # BFCL's layout: one JSON object a line
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results), encoding="utf-8")
            args += [category, str(path)]
        rows = run_driver(python, "score", *args)
    out: list[dict[str, dict]] = [{} for _ in sets]
    for row in rows:
        out[row["set"]][row["id"]] = row
    for (category, results), got in zip(sets, out):
        missing = [r["id"] for r in results if r["id"] not in got]
        if missing:
            raise RecordError(f"BFCL checker returned no result for {len(missing)} item(s) of {category}, "
                              f"e.g. {missing[0]}")
    return out


def check(python: str, category: str, results: list[dict]) -> dict[str, dict]:
    """BFCL's checker on ``[{"id", "result"}]`` of one category: id -> {"valid", "error_type", "error"}."""
    return check_many(python, [(category, results)])[0]


@register("bfcl")
def score(records: list[dict], predictions: dict[str, str], data_root=None) -> dict:
    """Official BFCL accuracy of ``predictions`` (record id -> model text) on BFCL records."""
    python = bfcl_python(data_root)
    by_category: dict[str, list[dict]] = {}
    for rec in records:
        meta = rec.get("meta") or {}
        if "bfcl_id" not in meta or "category" not in meta:
            raise RecordError(f"{rec['id']}: not a BFCL record (no meta.bfcl_id / meta.category)")
        by_category.setdefault(meta["category"], []).append(rec)
    sets = [(category, [{"id": r["meta"]["bfcl_id"], "result": predictions.get(r["id"]) or ""} for r in recs])
            for category, recs in by_category.items()]
    verdicts: dict[str, dict] = {}
    for recs, got in zip(by_category.values(), check_many(python, sets)):
        verdicts.update({r["id"]: got[r["meta"]["bfcl_id"]] for r in recs})
    per_item, item_scores = [], {"accuracy": {}}
    for rec in records:
        v, category = verdicts[rec["id"]], rec["meta"]["category"]
        value = 100.0 if v["valid"] else 0.0
        per_item.append({"id": rec["id"], "category": category, "valid": v["valid"],
                         "error_type": v.get("error_type"), "error": (v.get("error") or [])[:3]})
        item_scores["accuracy"][rec["id"]] = value
        if len(by_category) > 1:
            item_scores.setdefault(category, {})[rec["id"]] = value
    metrics = {name: sum(vals.values()) / len(vals) if vals else 0.0 for name, vals in item_scores.items()}
    return {"metrics": metrics, "per_item": per_item, "n": len(records), "item_scores": item_scores,
            "categories": {c: len(rs) for c, rs in by_category.items()}}
