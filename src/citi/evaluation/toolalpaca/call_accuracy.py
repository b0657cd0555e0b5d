"""RoTBench-style TS / PI / CF of ToolAlpaca agent runs (``citi.toolcalls.taxonomy``),
as in TL-Training's single-turn ToolAlpaca columns: each instance's first call against its
first gold step, out of all instances (114 on the real set; no call is a format error).

The available tools are the API's functions (``Function_Description`` and
``Function_Projection``), with the parameter names its documentation declares; a function
with no documented parameters counts its gold keys as declared.

Documented case: four gold steps of the real set (CurrencyBeacon ``latest_get``) have an
Action_Input that is not JSON (``"symbols": "symbols": [...]``). There TS is judged on the
name alone and PI / CF cannot hold (``gold_unreadable`` counts them). Replayed as predictions,
those gold steps are unreadable calls themselves (format errors), so the gold run scores
110/114 (96.49) on TS, PI and CF.
"""

from __future__ import annotations

from ...toolcalls import taxonomy
from .apis import parameter_spec
from .tools import parse_arguments

LEVELS = tuple(taxonomy.LEVELS)  # TS, PI, CF


def tools_of(api: dict) -> dict[str, list[str] | None]:
    names = [*(api.get("Function_Description") or {}), *(api.get("Function_Projection") or {})]
    return {n: list(parameter_spec(api, n)) or None for n in dict.fromkeys(names)}


def gold_arguments(step: dict) -> dict | None:
    value = step.get("Action_Input")
    return parse_arguments(value) if isinstance(value, str) else value if isinstance(value, dict) else None


def first_call(api: dict, gold_steps: list[dict], steps: list) -> dict:
    """{category, TS, PI, CF, gold_unreadable} of the run's first call against the first gold step."""
    if not gold_steps:  # nothing to call: right exactly when the agent called nothing
        ok = not steps
        return {"category": "exact_match" if ok else "wrong_tool", **dict.fromkeys(LEVELS, ok), "gold_unreadable": False}
    gold = gold_steps[0]
    text = f"Action: {steps[0][0][0]}\nAction Input: {steps[0][0][1]}" if steps else None
    params = gold_arguments(gold)
    tools = tools_of(api)
    if params is None:
        d = taxonomy.diagnose(text, {"api_name": gold["Action"], "parameters": {}}, tools)
        return {"category": d.category if not d.holds("TS") else None, "TS": d.holds("TS"), "PI": False, "CF": False,
                "gold_unreadable": True}
    d = taxonomy.diagnose(text, {"api_name": gold["Action"], "parameters": params}, tools)
    return {"category": d.category, **{lv: d.holds(lv) for lv in LEVELS}, "gold_unreadable": False}


def summary(results: list[dict]) -> dict:
    """``metrics`` additions (TS, PI, CF in percent) and the counts behind them."""
    n = max(len(results), 1)
    counts = taxonomy.category_counts([r["category"] for r in results if r["category"]])
    counts["gold_unreadable"] = sum(r["gold_unreadable"] for r in results)
    return {"metrics": {lv: 100.0 * sum(r[lv] for r in results) / n for lv in LEVELS}, "counts": counts}
