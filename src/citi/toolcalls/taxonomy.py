"""Error categories of one predicted tool call against its gold call (TL-Training's IRM
reward, RoTBench's TS / PI / CF), and the rule-based reward of each category.

Categories, checked in this order (the first that applies):

- ``format_error``: no call could be read from the prediction;
- ``tool_hallucination``: the name is not one of the available tools;
- ``wrong_tool``: an available tool, but not the gold one;
- ``parameter_hallucination``: a parameter the tool does not declare;
- ``redundant_or_missing_parameters``: a declared parameter the gold call does not use, or a
  gold parameter left out;
- ``wrong_content``: the right parameter names, some value differs;
- ``exact_match``.

RoTBench's accuracies follow from the category (``LEVELS``): TS (tool selection) holds from
``parameter_hallucination`` on, PI (parameter identification: the gold tool with exactly the
gold parameter names) from ``wrong_content`` on, CF (content filling) only at ``exact_match``.

Calls are read in any of the project's formats: API-Bank's ``[Name(k='v', n=[1, 2])]`` (with
any prefix such as ``API-Request:``), TL-Training's bare ``name(k='v')``, its raw
``name\\n{JSON arguments}``, and ToolAlpaca's ``Action: name`` / ``Action Input: {JSON}``.
Values are Python or JSON literals (either quote, escapes, numbers, nested lists and dicts),
read by the API-Bank corrected scanner: model output is data, nothing is ever evaluated.

Values compare after the obvious normalisation only: surrounding whitespace, a number equals
its numeric string (``3 == "3" == 3.0``), a bool equals ``"True"``/``"true"``, and a list or
dict equals a string spelling it. Names and text are case-sensitive: the TL-Training spec
compares them exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..errors import ConfigError, RecordError
from .syntax import json_object
from .api_bank import corrected_args, find_call, parse_corrected

CATEGORIES = ("format_error", "tool_hallucination", "wrong_tool", "parameter_hallucination",
              "redundant_or_missing_parameters", "wrong_content", "exact_match")

# The spec's values (tl-training.md sec. 3). Parameter errors that come together cost more:
# the three combined keys below are what ``Diagnosis.reward_key`` names in those cases.
DEFAULT_REWARDS = {
    "format_error": -2.0, "tool_hallucination": -2.0, "wrong_tool": -1.5,
    "parameter_hallucination": -0.8,  # H alone
    "redundant_or_missing_parameters": -0.5,  # R or M alone
    "hallucinated_redundant_and_missing": -1.8,  # H and R and M
    "hallucinated_and_redundant_or_missing": -1.3,  # H and one of R, M
    "redundant_and_missing": -1.0,  # R and M, no H
    "wrong_content": -0.25, "exact_match": 1.0,
}

# the first category at which each accuracy holds; every later category holds it too
LEVELS = {"TS": "parameter_hallucination", "PI": "wrong_content", "CF": "exact_match"}

MAX_LEN = 20_000  # longer output is not a call we accept (keeps the scans cheap)
MAX_CLOSE_TRIES = 32  # ')' positions tried for a bare call's end
PER_CALL_TRIES = 8  # ... for one candidate (a ')' inside a quoted value needs a further try)

_ACTION = re.compile(r"Action[ \t]*:")
_ACTION_INPUT = re.compile(r"\s*Action[ \t]*Input[ \t]*:")
_BARE_CALL = re.compile(r"(?<![\w.])([A-Za-z_][\w.]*)\(")
_NAME_JSON = re.compile(r"\s*([A-Za-z_][\w.-]*)[ \t]*\n\s*(?=\{)")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@dataclass(frozen=True)
class Diagnosis:
    category: str
    name: str | None = None
    params: dict | None = None
    hallucinated: tuple[str, ...] = ()  # predicted keys the tool does not declare
    redundant: tuple[str, ...] = ()  # declared keys the gold call does not use
    missing: tuple[str, ...] = ()  # gold keys the prediction leaves out

    @property
    def reward_key(self) -> str:
        """The DEFAULT_REWARDS key: the category, or the combined parameter error."""
        h, r, m = bool(self.hallucinated), bool(self.redundant), bool(self.missing)
        if h and r and m:
            return "hallucinated_redundant_and_missing"
        if h and (r or m):
            return "hallucinated_and_redundant_or_missing"
        if r and m:
            return "redundant_and_missing"
        return self.category

    def holds(self, level: str) -> bool:
        """Whether TS, PI or CF holds for this call."""
        return CATEGORIES.index(self.category) >= CATEGORIES.index(LEVELS[level])


# ---- reading a call --------------------------------------------------------------------------

def _json_object(text: str) -> dict | None:
    """The JSON object at the start of ``text`` (trailing text ignored); empty text is no arguments."""
    text = text.strip()
    return json_object(text) if text else {}


def _react(text: str) -> tuple[str, str] | None:
    """(name, action input text) of the first ``Action: name`` line followed by ``Action Input:``.

    Line by line, so long output stays linear (one regex over the whole text is quadratic).
    """
    lines = text.split("\n")
    previous = None  # the last non-blank line
    for i, line in enumerate(lines):
        start = _ACTION_INPUT.match(line)
        if start and previous is not None:
            name = _ACTION.search(previous)
            if name:
                return previous[name.end():].strip(), "\n".join([line[start.end():], *lines[i + 1:]])
        if line.strip():
            previous = line
    return None


def _bare_call(text: str) -> tuple[str, dict] | None:
    """The first ``name(args)`` that reads whole; its end is the first ')' that makes it read.

    At most MAX_CLOSE_TRIES readings in all (PER_CALL_TRIES per candidate), so prose full of
    parentheses stays cheap.
    """
    last, tries = text.rfind(")"), 0
    for m in _BARE_CALL.finditer(text):
        if m.end() > last:
            return None  # no ')' after this one, nor after any later one
        close, mine = m.end() - 1, 0
        while close < last and mine < PER_CALL_TRIES and tries < MAX_CLOSE_TRIES:
            close = text.find(")", close + 1)
            mine, tries = mine + 1, tries + 1
            args = corrected_args(text[m.end():close])
            if args is not None:
                return m.group(1), args
        if tries >= MAX_CLOSE_TRIES:
            return None
    return None


def parse_prediction(text: str) -> tuple[str, dict] | None:
    """(name, params) of the call in ``text``, or None when none can be read."""
    if not isinstance(text, str) or len(text) > MAX_LEN:
        return None
    action = _react(text)
    if action:
        args = _json_object(action[1])
        return (action[0], args) if action[0] and args is not None else None
    if find_call(text) is not None:  # API-Bank brackets: their own scanner, no other reading
        return parse_corrected(text)
    m = _NAME_JSON.match(text)
    if m:
        args = _json_object(text[m.end():])
        return (m.group(1), args) if args is not None else None
    return _bare_call(text)


# ---- comparing values ------------------------------------------------------------------------

def _literal(text: str):
    got = corrected_args(f"x={text.strip()}")
    return got["x"] if got is not None else None


def same_value(a, b) -> bool:
    """Equal after the obvious normalisation (see the module docstring)."""
    if isinstance(a, str) and not isinstance(b, str):
        a, b = b, a
    if isinstance(b, str):
        s = b.strip()
        if isinstance(a, str):
            return a.strip() == s
        if isinstance(a, bool):
            return s in (("True", "true") if a else ("False", "false"))
        if isinstance(a, (int, float)):
            return bool(_NUMBER.fullmatch(s)) and float(s) == a
        if isinstance(a, (list, dict)) and s[:1] in "[{" and s:
            parsed = _literal(s)
            return isinstance(parsed, (list, dict)) and same_value(a, parsed)
        return a is None and s in ("None", "null")
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        ka, kb = {str(k).strip(): v for k, v in a.items()}, {str(k).strip(): v for k, v in b.items()}
        return ka.keys() == kb.keys() and all(same_value(ka[k], kb[k]) for k in ka)
    return a is None and b is None


# ---- classifying -----------------------------------------------------------------------------

def _gold(gold: dict) -> tuple[str, dict]:
    if not isinstance(gold, dict) or not isinstance(gold.get("api_name"), str):
        raise RecordError(f"gold call {gold!r}: expected {{'api_name': str, 'parameters': dict}}")
    params = gold.get("parameters") or {}
    if not isinstance(params, dict):
        raise RecordError(f"gold call {gold['api_name']!r}: 'parameters' is a {type(params).__name__}, not a dict")
    return gold["api_name"], params


def diagnose(prediction: str, gold: dict, tools: Iterable[str] | Mapping[str, Iterable[str] | None]) -> Diagnosis:
    """The category of ``prediction`` with the parameter errors behind it.

    ``tools``: the available tool names, or a mapping from each name to the parameter names it
    declares (None: unknown). Without declared names, the gold call's keys are the declared
    ones. The gold keys always count as declared (a gold call is never a hallucination).
    """
    gold_name, gold_params = _gold(gold)
    parsed = parse_prediction(prediction)
    if parsed is None:
        return Diagnosis("format_error")
    name, params = parsed
    available = set(tools) | {gold_name}
    if name not in available:
        return Diagnosis("tool_hallucination", name, params)
    if name != gold_name:
        return Diagnosis("wrong_tool", name, params)
    declared = set(gold_params)
    if isinstance(tools, Mapping) and tools.get(name) is not None:
        declared |= set(tools[name])
    hallucinated = tuple(k for k in params if k not in declared)
    redundant = tuple(k for k in params if k in declared and k not in gold_params)
    missing = tuple(k for k in gold_params if k not in params)
    errors = {"hallucinated": hallucinated, "redundant": redundant, "missing": missing}
    if hallucinated:
        return Diagnosis("parameter_hallucination", name, params, **errors)
    if redundant or missing:
        return Diagnosis("redundant_or_missing_parameters", name, params, **errors)
    if all(same_value(params[k], v) for k, v in gold_params.items()):
        return Diagnosis("exact_match", name, params)
    return Diagnosis("wrong_content", name, params)


def classify_call(prediction: str, gold: dict, tools: list[str]) -> str:
    """One of CATEGORIES (``tools`` may also map names to their declared parameters)."""
    return diagnose(prediction, gold, tools).category


def reward(category: str, rewards: dict | None = None) -> float:
    """The reward of a category (or a combined parameter-error key of DEFAULT_REWARDS).

    ``rewards`` overrides some or all defaults (config ``tl_training.irm.rewards``).
    """
    table = {**DEFAULT_REWARDS, **(rewards or {})}
    unknown = sorted(set(rewards or {}) - set(DEFAULT_REWARDS))
    if unknown:
        raise ConfigError(f"config key 'tl_training.irm.rewards': unknown key(s) {', '.join(unknown)}; "
                          f"known: {', '.join(DEFAULT_REWARDS)}")
    if category not in table:
        raise ValueError(f"unknown error category {category!r}; known: {', '.join(DEFAULT_REWARDS)}")
    return float(table[category])


def call_reward(prediction: str, gold: dict, tools, rewards: dict | None = None) -> float:
    """The spec's reward of one call, combined parameter errors included."""
    return reward(diagnose(prediction, gold, tools).reward_key, rewards)


def accuracies(categories: list[str]) -> dict[str, float]:
    """TS, PI and CF in percent over the calls' categories (a missing prediction: format_error)."""
    n = max(len(categories), 1)
    ranks = [CATEGORIES.index(c) for c in categories]
    return {level: 100.0 * sum(r >= CATEGORIES.index(first) for r in ranks) / n for level, first in LEVELS.items()}


def item_accuracies(category: str) -> dict[str, float]:
    """One call's TS, PI and CF: 100 where its category reaches that level, else 0 (their mean is ``accuracies``)."""
    rank = CATEGORIES.index(category)
    return {level: 100.0 * (rank >= CATEGORIES.index(first)) for level, first in LEVELS.items()}


def category_counts(categories: list[str]) -> dict[str, int]:
    return {c: categories.count(c) for c in CATEGORIES}
