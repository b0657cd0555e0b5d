"""Executed-call correctness of one prediction, level 1/2 (fresh tools per sample) or level 3
(one tool world for all steps), in ``official`` or ``corrected`` mode.

Official: exactly the verdicts of the official evaluator run offline (CITI's ``main`` and
``main_v3``), except that an input that crashes it is scored incorrect instead.

Corrected fixes the official quirks:
- values are read as Python literals (lists and numbers survive; a list passed as a quoted
  string is read as the list it spells);
- earlier gold calls of the dialogue are replayed first, so state they created exists
  (tokens after a password reset, a registered appointment, a forgotten-password code);
- DeleteMeeting compares ``start_time`` (its official checker reads a 'time' input meetings
  lack, so a successful delete never passed);
- scene device lists compare names case-insensitively (one recording capitalises them).
Documented cases that stay incorrect in corrected mode too: gold calls with a parameter the
API does not document (TimedSwitch/CancelTimedSwitch ``device_id``).
"""

from __future__ import annotations

import copy

from .apis import ToolWorld
from .catalog import Catalog
from ...toolcalls.api_bank import corrected_args, parse
from .toolsearcher import ToolSearcher, split_capitals

MODES = ("official", "corrected")


def _fix_lists(world: ToolWorld, name: str, params: dict) -> dict:
    types = world.catalog.types(name) or {}
    out = dict(params)
    for k, v in params.items():
        if types.get(k, "").startswith("list") and isinstance(v, str):
            got = corrected_args(f"x={v}")
            if got is not None and isinstance(got["x"], list):
                out[k] = got["x"]
    return out


def _corrected_check(world: ToolWorld, name: str, result: dict, gold: dict) -> bool | None:
    """A corrected-mode verdict where the official checker is at fault, else None."""
    if name == "DeleteMeeting" and gold["output"] == "success" and result["output"] == "success":
        return result["input"]["start_time"] == gold["input"]["start_time"]
    if name == "QueryScene":
        fold = lambda ds: None if ds is None else sorted(
            (" ".join(d["name"].lower().split()), d["description"].strip()) for d in ds)
        return (result["input"]["name"].strip().lower() == gold["input"]["name"].strip().lower()
                and fold(result["output"]) == fold(gold["output"]) and result["exception"] == gold["exception"])
    return None


def judge(world: ToolWorld, text: str, gold_name: str, gold_result: dict, level3: bool = False) -> tuple[bool, str]:
    """(correct, reason) of one prediction against one gold call, executed in ``world``."""
    mode = world.mode
    parsed = parse(text, mode)
    if parsed is None:
        return False, "no API call found"
    name, params = parsed
    if level3 and name == "ToolSearcher" and isinstance(params.get("keywords"), str):
        params["keywords"] = split_capitals(params["keywords"])
    if name != gold_name:
        return False, f"API name mismatch: {name} vs {gold_name}"
    if mode == "corrected":
        params = _fix_lists(world, name, params)
    try:
        result = world.execute(name, params)
    except Exception as e:  # noqa: BLE001 - the official run would raise: incorrect, not a crash
        return False, f"call failed: {type(e).__name__}: {e}"
    gold = copy.deepcopy(gold_result)
    try:
        if name == "ToolSearcher":
            ok = ToolSearcher.check(result, gold)
        else:
            ok = _corrected_check(world, name, result, gold) if mode == "corrected" else None
            if ok is None:
                ok = world.apis[name].check(copy.deepcopy(result), gold)
    except Exception as e:  # noqa: BLE001 - KeyError/AttributeError in a checker: incorrect
        return False, f"check failed: {type(e).__name__}: {e}"
    return bool(ok), "correct" if ok else "result differs from the gold result"


def replay(world: ToolWorld, turns: list[dict]) -> None:
    """Run earlier gold calls so the state they made exists (corrected mode)."""
    for turn in turns:
        if turn.get("role") != "API" or turn.get("api_name") == "ToolSearcher":
            continue
        params = _fix_lists(world, turn["api_name"], dict(turn.get("param_dict") or {}))
        try:
            result = world.execute(turn["api_name"], params)
        except Exception:  # noqa: BLE001 - a gold call the API rejects changes nothing
            continue
        # registration ids are random: keep the recorded one so later calls find it
        recorded = (turn.get("result") or {}).get("output")
        if turn["api_name"] == "AppointmentRegistration" and isinstance(result.get("output"), str) and isinstance(recorded, str):
            db = world.db["Appointments"]
            db[recorded] = db.pop(result["output"])


def dialogue_samples(turns: list[dict]) -> list[tuple[list[dict], dict]]:
    """The official flattening: per API turn i, (turns before i, turn i) and (turns through i, turn i+1)."""
    out = []
    for i, t in enumerate(turns):
        if t.get("role") == "API":
            out.append((turns[:i], turns[i]))
            out.append((turns[:i + 1], turns[i + 1] if i + 1 < len(turns) else None))
    return out


def score_level12(catalog: Catalog, history: list[dict], gold_turn: dict, text: str | None, mode: str,
                  searcher: ToolSearcher) -> tuple[bool, str]:
    if text is None:
        return False, "missing prediction"
    world = ToolWorld(catalog, mode, searcher)  # fresh tools per sample
    if mode == "corrected":
        replay(world, history)
    return judge(world, text, gold_turn["api_name"], gold_turn["result"])


class Level3Session:
    """One tool world across all level-3 steps, as the official ``main_v3``."""

    def __init__(self, catalog: Catalog, mode: str, searcher: ToolSearcher):
        self.catalog, self.world = catalog, ToolWorld(catalog, mode, searcher)

    def score(self, sample_id: int, api_id: int, text: str | None) -> tuple[bool, str]:
        gold = self.catalog.gold3[sample_id]["apis"][api_id]
        if text is None:
            return False, "missing prediction"
        return judge(self.world, text, gold["api_name"], gold["output"], level3=True)

