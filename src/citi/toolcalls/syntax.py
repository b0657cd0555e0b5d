"""The API-Bank call syntax "[Name(k='v', n=3)]": one formatter and one hand-written parser
for the whole project (dataset adapters, the data generator, evaluators).

Model output is untrusted text, so the parser is a small character scanner:
it never evaluates anything, and anything it does not understand is a parse
failure (None). Values: quoted strings (either quote, backslash escapes),
ints, floats, True/False/None, or a bare word, which stays a plain string.

``json_object`` reads the JSON arguments of the other call formats (ToolAlpaca's
``Action Input``, TL-Training's raw JSON) with the same rule: a bounded read, None on failure.
"""

from __future__ import annotations

import json
import math
import re

_NAME = re.compile(r"\[([A-Za-z_][A-Za-z0-9_]*)\(")
_KEY = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*")
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_BARE = re.compile(r"[\w.+\-:/@]+")  # the official parser's `k=word`, a little wider
_ESC = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}
_PLAIN = {q: re.compile(rf"[^{q}\\]*") for q in "'\""}  # a string's text up to its next quote or backslash
MAX_LEN = 20_000  # longer text is not a call we would accept; keeps the scan cheap
_REJECT = object()  # a bare word that is no value we accept


def quote(s: str) -> str:
    """Single quotes unless the text has one and no double quote (as Python's repr)."""
    q = '"' if "'" in s and '"' not in s else "'"
    body = s.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return q + body.replace(q, "\\" + q) + q


def format_value(v) -> str:
    if isinstance(v, str):
        return quote(v)
    if v is None or isinstance(v, bool):
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"cannot format non-finite number {v!r}")
        return repr(v)
    raise TypeError(f"cannot format a {type(v).__name__} argument")


def format_call(name: str, params: dict) -> str:
    """'[Name(k='v', n=3)]' with the parameters in their given order."""
    args = ", ".join(f"{k}={format_value(v)}" for k, v in params.items())
    return f"[{name}({args})]"


def _string(text: str, i: int) -> tuple[str, int] | None:
    """The quoted string at ``text[i]`` and the index after it, or None when unterminated."""
    q, out, i = text[i], [], i + 1
    while True:
        run = _PLAIN[q].match(text, i)  # plain text is copied at C speed, not a character at a time
        out.append(run.group())
        i = run.end()
        if i >= len(text):
            return None
        if text[i] == q:
            return "".join(out), i + 1
        if i + 1 == len(text):  # a backslash with nothing to escape
            return None
        nxt = text[i + 1]
        out.append(_ESC.get(nxt, "\\" + nxt))
        i += 2


def _bare(word: str):
    if _INT.fullmatch(word):
        try:
            return int(word)
        except ValueError:  # over sys.get_int_max_str_digits() digits (4300): no argument we accept
            return _REJECT
    if _FLOAT.fullmatch(word):
        return float(word)
    return {"True": True, "False": False, "None": None}.get(word, word)


def parse_call(text: str) -> tuple[str, dict] | None:
    """(name, params) of the first well-formed '[Name(...)]' in ``text``, else None.

    Anything around the call ('API-Request: ', '->result') is ignored.
    """
    if not isinstance(text, str) or len(text) > MAX_LEN:
        return None
    for m in _NAME.finditer(text):
        got = _args(text, m.end())
        if got is not None:
            return m.group(1), got
    return None


def _args(text: str, i: int) -> dict | None:
    params: dict = {}
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if text.startswith(")]", i) and not params:
            return params
        k = _KEY.match(text, i)
        if not k or k.group(1) in params:
            return None
        i = k.end()
        if i < len(text) and text[i] in "'\"":
            got = _string(text, i)
            if got is None:
                return None
            value, i = got
        else:
            b = _BARE.match(text, i)
            if not b:
                return None
            value, i = _bare(b.group(0)), b.end()
            if value is _REJECT:
                return None
        params[k.group(1)] = value
        while i < len(text) and text[i].isspace():
            i += 1
        if text.startswith(")]", i):
            return params
        if not text.startswith(",", i):
            return None
        i += 1


# ---- JSON arguments --------------------------------------------------------------------------

JSON_MAX_DEPTH = 64  # deeper arguments are no call we accept; json recurses once per level
_JSON_PLAIN = re.compile(r'[^"\[\]{}]*')
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)


def _json_shallow(text: str) -> bool:
    """Whether the JSON value at the start of ``text`` closes within JSON_MAX_DEPTH levels.

    A linear scan of brackets outside strings, up to where the first one closes; text that is
    not JSON at all passes, for the decoder to reject.
    """
    i, depth = 0, 0
    while True:
        i = _JSON_PLAIN.match(text, i).end()
        if i >= len(text):
            return True
        if text[i] == '"':
            string = _JSON_STRING.match(text, i)
            if not string:
                return True  # unterminated
            i = string.end()
            continue
        depth += 1 if text[i] in "[{" else -1
        if depth > JSON_MAX_DEPTH:
            return False
        if depth <= 0:
            return True
        i += 1


def json_object(text: str) -> dict | None:
    """The JSON object at the start of ``text`` (trailing text ignored), else None.

    Nesting deeper than JSON_MAX_DEPTH is rejected before decoding, so the decoder's
    recursion stays bounded.
    """
    if not text.startswith("{") or not _json_shallow(text):
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except ValueError:  # not JSON, or an integer of over sys.get_int_max_str_digits() digits
        return None
    return value if isinstance(value, dict) else None
