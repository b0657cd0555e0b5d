"""Safe arithmetic: a recursive-descent parser for + - * / and parentheses.

Used by the Calculator mock API and to verify the math generator's worked
solutions. Exact (Fraction) arithmetic so '0.1+0.2' gives 0.3; no eval.
"""

from __future__ import annotations

import re
from fractions import Fraction

MAX_LEN = 200  # longer formulas are refused, so parsing time and depth stay bounded
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?|\.\d+)|(.))")


class CalcError(ValueError):
    pass


def _tokens(text: str) -> list[str]:
    out = []
    for num, op in _TOKEN.findall(text):
        if num:
            out.append(num)
        elif op.strip():
            if op not in "+-*/()":
                raise CalcError(f"unexpected character {op!r}")
            out.append(op)
    return out


def evaluate(text: str) -> Fraction:
    """The exact value of an arithmetic expression; CalcError if malformed."""
    if not isinstance(text, str) or len(text) > MAX_LEN:
        raise CalcError("formula must be a string of at most %d characters" % MAX_LEN)
    toks = _tokens(text)
    pos = 0

    def peek():
        return toks[pos] if pos < len(toks) else None

    def take():
        nonlocal pos
        pos += 1
        return toks[pos - 1]

    def expr():
        value = term()
        while peek() in ("+", "-"):
            value = value + term() if take() == "+" else value - term()
        return value

    def term():
        value = unary()
        while peek() in ("*", "/"):
            if take() == "*":
                value *= unary()
            else:
                d = unary()
                if d == 0:
                    raise CalcError("division by zero")
                value /= d
        return value

    def unary():
        if peek() == "-":
            take()
            return -unary()
        if peek() == "+":
            take()
            return unary()
        return atom()

    def atom():
        tok = peek()
        if tok is None:
            raise CalcError("unexpected end of formula")
        take()
        if tok == "(":
            value = expr()
            if peek() != ")":
                raise CalcError("missing ')'")
            take()
            return value
        if tok[0].isdigit() or tok[0] == ".":
            return Fraction(tok)
        raise CalcError(f"unexpected {tok!r}")

    if not toks:
        raise CalcError("empty formula")
    value = expr()
    if pos != len(toks):
        raise CalcError(f"unexpected {toks[pos]!r}")
    return value


def as_number(value: Fraction) -> int | float:
    """An int when whole, else a float rounded to 6 decimals (what the API returns)."""
    return int(value) if value.denominator == 1 else round(float(value), 6)
