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

from ...toolcalls import _string as scan_string

_NAME_OPEN = re.compile(r"\[(\w+)\(")
_KEY = re.compile(r"(\w+)\s*=\s*")
_WORD = re.compile(r"\w+")
_EQ = re.compile(r"\s*=")
MAX_CHARS = 2_000_000  # a longer output is not searched (still linear, but pointless)


def find_call(text: str) -> tuple[str, str] | None:
    """(name, argument text) of the official ``\\[(\\w+)\\((.*)\\)\\]`` match, in linear time.

    The regex's leftmost match starts at the first ``[Name(`` on a line that has a ``)]``
    after it; ``(.*)`` then runs to the LAST ``)]`` of that line (``.`` stops at newlines).
    """
    if not isinstance(text, str) or len(text) > MAX_CHARS:
        return None
    pos, n = 0, len(text)
    while pos < n:
        end = text.find("\n", pos)
        end = n if end < 0 else end
        close = text.rfind(")]", pos, end)
        if close >= 0:
            for m in _NAME_OPEN.finditer(text, pos, close + 1):
                # the regex needs the name's '(' to end at or before that last ')]'
                if m.end() <= close:
                    return m.group(1), text[m.end():close]
                break
        pos = end + 1
    return None


def official_args(params: str) -> dict[str, str]:
    """The official ``re.finditer`` over its three alternatives, as a linear scan.

    At each position the first alternative that matches wins; a match resumes the search
    after itself, a failure moves one character on (as ``finditer`` does).
    """
    out: dict[str, str] = {}
    i, n = 0, len(params)
    last_quote = max(params.rfind("'"), params.rfind('"'))
    last_bracket = params.rfind("]")
    while i < n:
        w = _WORD.match(params, i)
        if not w:
            i += 1
            continue
        # a key is a whole word run followed by '='; starting later inside the run
        # fails the same way, so a run without '=' is skipped at once (this keeps it linear)
        k = _KEY.match(params, i) if _EQ.match(params, w.end()) else None
        if not k:
            i = w.end()
            continue
        j = k.end()
        got = None
        if j < n and params[j] in "'\"":
            # (.+?)['"]: at least one character, then the next quote of either kind
            q = _next_quote(params, j + 2) if j + 2 <= last_quote else -1
            if q >= 0:
                got = (params[j + 1:q], q + 1)
        if got is None and j < n and params[j] == "[" and last_bracket > j:
            got = (params[j:last_bracket + 1], last_bracket + 1)  # (\[.*\]) is greedy
        if got is None:
            w = _WORD.match(params, j)
            if w:
                got = (w.group(0), w.end())
        if got is None:
            i += 1
            continue
        out[k.group(1)] = got[0]
        i = got[1]
    return out


def _next_quote(s: str, start: int) -> int:
    a, b = s.find("'", start), s.find('"', start)
    return min(x for x in (a, b) if x >= 0) if a >= 0 or b >= 0 else -1


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


def _skip(s: str, i: int) -> int:
    while i < len(s) and s[i].isspace():
        i += 1
    return i


def _string(s: str, i: int) -> tuple[str, int]:
    """The quoted string at ``s[i]`` (citi.toolcalls' scanner), failing the parse when unterminated."""
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
        return (int(t) if re.fullmatch(r"[+-]?\d+", t) else float(t)), m.end()
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
