"""API-call extraction from model output, in the official way and a corrected way.

The official evaluator takes the first line holding ``[Name(...)]`` (its ``(.*)`` is greedy up
to the last ``)]`` of that line) and reads arguments with three alternatives, in order:
``k='v'`` / ``k="v"`` (the value stops at the next quote of either kind), ``k=[...]`` (the
raw list text, greedy to the last ``]``), and ``k=word`` (``\\w+`` only). Every value stays a
string. Its regex backtracks quadratically on long lines; here each step is a linear scan,
so a 300 KB output costs milliseconds. Model output is data: nothing is ever evaluated.

``official`` mode reproduces those readings, quirks included: an apostrophe truncates a value,
a list is cut at its first quote, ``10.5`` reads as ``10`` and ``-3`` is skipped. ``corrected``
mode reads Python-style literals properly (any quoting, escapes, numbers, nested lists and
dicts) with a small scanner.
"""

from __future__ import annotations

import re
from bisect import bisect_left

from .syntax import _string as scan_string

_NAME_OPEN = re.compile(r"\[(\w+)\(")
_KEY = re.compile(r"(\w+)\s*=\s*")
_KEY_START = re.compile(r"\b(\w+)\s*=\s*")  # only at a run's start: no rescan of a run's tail
_WORD = re.compile(r"\w+")
_QUOTE = re.compile("['\"]")
MAX_CHARS = 2_000_000  # a longer output is not searched (still linear, but pointless)


def find_call(text: str) -> tuple[str, str] | None:
    """(name, argument text) of the official ``\\[(\\w+)\\((.*)\\)\\]`` match, in linear time.

    The regex's leftmost match starts at the first ``[Name(`` on a line that has a ``)]``
    after it; ``(.*)`` then runs to the LAST ``)]`` of that line (``.`` stops at newlines).
    """
    if not isinstance(text, str) or len(text) > MAX_CHARS:
        return None
    pos, n = 0, len(text)
    while True:
        # only a line holding a ')]' can match: jump to the next one (a Python step per line
        # is slow on a million short lines)
        hit = text.find(")]", pos)
        if hit < 0:
            return None
        newline = text.rfind("\n", pos, hit)
        pos = pos if newline < 0 else newline + 1  # that line's start
        end = text.find("\n", hit)
        end = n if end < 0 else end
        close = text.rfind(")]", pos, end)
        for m in _NAME_OPEN.finditer(text, pos, close + 1):
            # the regex needs the name's '(' to end at or before that last ')]'
            if m.end() <= close:
                return m.group(1), text[m.end():close]
            break
        pos = end + 1


def official_args(params: str) -> dict[str, str]:
    """The official ``re.finditer`` over its three alternatives, as a linear scan.

    At each position the first alternative that matches wins; a match resumes the search
    after itself, a failure moves one character on (as ``finditer`` does). Every alternative
    starts with a key, a word run followed by '=': a start later inside the run reads the same
    '=' and the same value, so a run that fails is skipped whole (stepping through it retried
    the run and the blanks after it each time: quadratic).
    """
    out: dict[str, str] = {}
    i, n = 0, len(params)
    # every quote's position, for a binary search: str.find of the kind that is absent would
    # rescan to the end at each value (quadratic)
    quotes = [m.start() for m in _QUOTE.finditer(params)]
    last_quote = quotes[-1] if quotes else -1
    last_bracket = params.rfind("]")
    while True:
        k = _KEY_START.search(params, i)  # i never falls inside a word run: \b is its start
        if not k:
            return out
        i, j = k.end(1), k.end()
        got = None
        if j < n and params[j] in "'\"":
            # (.+?)['"]: at least one character, then the next quote of either kind
            if j + 2 <= last_quote:
                q = quotes[bisect_left(quotes, j + 2)]
                got = (params[j + 1:q], q + 1)
        if got is None and j < n and params[j] == "[" and last_bracket > j:
            got = (params[j:last_bracket + 1], last_bracket + 1)  # (\[.*\]) is greedy
        if got is None:
            value = _WORD.match(params, j)
            if value:
                got = (value.group(0), value.end())
        if got is not None:
            out[k.group(1)] = got[0]
            i = got[1]


def parse_official(text: str) -> tuple[str, dict[str, str]] | None:
    """(name, params as strings) exactly as the official evaluator reads them, or None."""
    found = find_call(text)
    if found is None:
        return None
    name, params = found
    return name, official_args(params)


# ---- corrected: a literal scanner ------------------------------------------------------------

_NUM = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_BARE = re.compile(r"[\w.+\-:/@]+")
MAX_DEPTH = 20


class _Fail(Exception):
    pass


_SPACE = re.compile(r"\s*")


def _skip(s: str, i: int) -> int:
    return _SPACE.match(s, i).end()  # a run of a million blanks in one C call


def _string(s: str, i: int) -> tuple[str, int]:
    """The quoted string at ``s[i]`` (citi.toolcalls.syntax's scanner), failing the parse when unterminated."""
    found = scan_string(s, i)
    if found is None:
        raise _Fail
    return found


def _value(s: str, i: int, depth: int = 0):
    if depth > MAX_DEPTH:
        raise _Fail
    i = _skip(s, i)
    if i >= len(s):
        raise _Fail
    c = s[i]
    if c in "'\"":
        text, j = _string(s, i)
        k = _skip(s, j)
        if s[i + 1:i + 2] in ("[", "{") and k < len(s) and s[k] != ",":
            # a list written inside quotes of the same kind ('[{'name': 1}]', as in the
            # gold calls): the strict string ends too early, so read the literal instead
            try:
                lit, j2 = _value(s, i + 1, depth + 1)
                if j2 < len(s) and s[j2] == c:
                    return lit, j2 + 1
            except _Fail:
                pass
        return text, j
    if c in "[{(":
        close = {"[": "]", "{": "}", "(": ")"}[c]
        items, i = [], _skip(s, i + 1)
        is_dict = c == "{"
        while i < len(s) and s[i] != close:
            if is_dict:
                key, i = _value(s, i, depth + 1)
                i = _skip(s, i)
                if i >= len(s) or s[i] != ":":
                    raise _Fail
                val, i = _value(s, i + 1, depth + 1)
                items.append((key, val))
            else:
                val, i = _value(s, i, depth + 1)
                items.append(val)
            i = _skip(s, i)
            if i < len(s) and s[i] == ",":
                i = _skip(s, i + 1)
            elif i < len(s) and s[i] != close:
                raise _Fail
        if i >= len(s):
            raise _Fail
        if is_dict:
            try:
                return dict(items), i + 1
            except TypeError:  # an unhashable key
                raise _Fail from None
        return items, i + 1
    m = _NUM.match(s, i)
    if m and not (m.end() < len(s) and (s[m.end()].isalnum() or s[m.end()] == "_")):
        t = m.group(0)
        if not re.fullmatch(r"[+-]?\d+", t):
            return float(t), m.end()
        try:
            return int(t), m.end()
        except ValueError:  # over sys.get_int_max_str_digits() digits: a failed read, like any other
            raise _Fail from None
    m = _BARE.match(s, i)
    if not m:
        raise _Fail
    return {"True": True, "False": False, "None": None}.get(m.group(0), m.group(0)), m.end()


def corrected_args(params: str) -> dict | None:
    out, i = {}, _skip(params, 0)
    while i < len(params):
        k = _KEY.match(params, i)
        if not k or k.group(1) in out:
            return None
        try:
            out[k.group(1)], i = _value(params, k.end())
        except (_Fail, RecursionError, ValueError, OverflowError):
            return None
        i = _skip(params, i)
        if i < len(params):
            if params[i] != ",":
                return None
            i = _skip(params, i + 1)
    return out


def parse_corrected(text: str) -> tuple[str, dict] | None:
    """(name, params with proper Python-literal values) of the first call, or None.

    Same call location as the official one; a trailing ``)]`` inside a value does not
    matter because values are scanned, not split.
    """
    found = find_call(text)
    if found is None:
        return None
    name, params = found
    args = corrected_args(params)
    if args is None:
        # the greedy span may run past the call (two calls on one line): retry on the first ')]'
        first = params.find(")]")
        if first >= 0:
            args = corrected_args(params[:first])
    return None if args is None else (name, args)


def parse(text: str, mode: str):
    return parse_official(text) if mode == "official" else parse_corrected(text)
