"""The API-Bank call syntax "[Name(k='v', n=3)]": one formatter and one hand-written parser
for the whole project (dataset adapters, the data generator, evaluators).

Model output is untrusted text, so the parser is a small character scanner:
it never evaluates anything, and anything it does not understand is a parse
failure (None). Values: quoted strings (either quote, backslash escapes),
ints, floats, True/False/None, or a bare word, which stays a plain string.
"""

from __future__ import annotations

import math
import re

_NAME = re.compile(r"\[([A-Za-z_][A-Za-z0-9_]*)\(")
_KEY = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*")
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_BARE = re.compile(r"[\w.+\-:/@]+")  # the official parser's `k=word`, a little wider
_ESC = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}
MAX_LEN = 20_000  # longer text is not a call we would accept; keeps the scan cheap


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
    q, out, i = text[i], [], i + 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append(_ESC.get(nxt, "\\" + nxt))
            i += 2
        elif c == q:
            return "".join(out), i + 1
        else:
            out.append(c)
            i += 1
    return None


def _bare(word: str):
    if _INT.fullmatch(word):
        return int(word)
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
        params[k.group(1)] = value
        while i < len(text) and text[i].isspace():
            i += 1
        if text.startswith(")]", i):
            return params
        if not text.startswith(",", i):
            return None
        i += 1
