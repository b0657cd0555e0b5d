"""What a tool record offers and asks for: its available tools and its gold call.

PKT (which tokens of the gold name decide between the tools) and IRM (the reward of a
generated call) both need, per record, the tools its prompt describes and the call its
target turn makes. Both are read from the text, in the project's formats:

- API-Bank prompts (and the generated tool data): one description object per line,
  ``{"name": ..., "input_parameters": {...}}`` (levels 1-2) or ``{"apiCode": ...,
  "parameters": {...}}`` (level 3), in the system turn; tools that ToolSearcher returned
  appear in results later in the dialogue (``->{'name': ...}`` or a tool turn);
- ToolAlpaca prompts: ``Name: description`` followed by ``Parameters: {JSON}``.

Everything is parsed as data (JSON, or Python literals through the API-Bank scanner);
nothing is evaluated.
"""

from __future__ import annotations

import json
import re

from .api_bank import corrected_args
from .taxonomy import parse_prediction
from ..records import target_index

_TOOLALPACA = re.compile(r"^([A-Za-z_][\w.-]*): [^\n]*\nParameters: (\{[^\n]*\})", re.M)
_OBJECT_START = re.compile(r"[{\[]")
MAX_LINE = 50_000  # a description line longer than this is not read


def _literal(text: str):
    """A JSON or Python literal (dict/list) at the start of ``text``; None if it does not read."""
    text = text.strip()
    if not text or text[0] not in "{[":
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
        return value
    except (ValueError, RecursionError):
        pass
    got = corrected_args(f"x={text}")  # single-quoted Python reprs (API-Bank results)
    return None if got is None else got["x"]


def _descriptions(value, found: dict[str, list[str] | None]) -> None:
    """Every tool description object nested in ``value``."""
    if isinstance(value, dict):
        name = value.get("name", value.get("apiCode"))
        params = value.get("input_parameters", value.get("parameters"))
        if isinstance(name, str) and name and isinstance(params, dict):
            found.setdefault(name, list(params))
        for v in value.values():
            _descriptions(v, found)
    elif isinstance(value, list):
        for v in value:
            _descriptions(v, found)


def tools_in_text(text: str, found: dict[str, list[str] | None] | None = None) -> dict[str, list[str] | None]:
    """Tool name -> declared parameter names (None: unknown) described in ``text``."""
    found = {} if found is None else found
    for m in _TOOLALPACA.finditer(text):
        params = _literal(m.group(2))
        found.setdefault(m.group(1), list(params) if isinstance(params, dict) else None)
    for line in text.splitlines():
        if len(line) > MAX_LINE or ("name" not in line and "apiCode" not in line):
            continue
        # a description line, or the result part of 'API-Request: [...]->{...}'
        starts = [0] if line.lstrip()[:1] in "{[" else []
        arrow = line.find("->")
        if arrow >= 0:
            starts.append(arrow + 2)
        for start in starts:
            _descriptions(_literal(line[start:]), found)
    return found


def available_tools(rec: dict) -> dict[str, list[str] | None]:
    """The tools a record's prompt offers (every turn before its target), in order of appearance."""
    target = target_index(rec)
    found: dict[str, list[str] | None] = {}
    for msg in rec["messages"][: target if target is not None else len(rec["messages"])]:
        if msg["role"] != "assistant":
            tools_in_text(msg["content"], found)
    return found


def gold_call(rec: dict) -> dict | None:
    """{"api_name", "parameters"} of the call the target turn makes, or None (a plain reply)."""
    target = target_index(rec)
    if target is None:
        return None
    parsed = parse_prediction(rec["messages"][target]["content"])
    return None if parsed is None else {"api_name": parsed[0], "parameters": parsed[1]}


def name_span(text: str, name: str) -> tuple[int, int] | None:
    """Character span of the called tool's name in a call text, in any of the call formats."""
    n = re.escape(name)
    for pattern in (rf"\[({n})\(", rf"Action\s*:[ \t]*({n})[ \t]*\n", rf"(?<![\w.])({n})\s*[(\n]"):
        m = re.search(pattern, text)
        if m:
            return m.span(1)
    return None


def target_call(rec: dict) -> tuple[dict, dict[str, list[str] | None]] | None:
    """(gold call, available tools) of a tool record whose target turn calls a tool, else None.

    General records never count (code answers are full of ``name(...)``), nor a target whose
    name is not among the tools its prompt lists (a reply that merely reads like a call).
    """
    if rec.get("task") != "tool":
        return None
    gold = gold_call(rec)
    if gold is None:
        return None
    tools = available_tools(rec)
    if tools and gold["api_name"] not in tools:
        return None
    return gold, tools
