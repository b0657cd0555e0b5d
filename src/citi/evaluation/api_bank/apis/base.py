"""The API base class for the real API-Bank tools, and the shared comparison helpers.

Each API mirrors the behaviour of its official counterpart (``api-bank/apis/*.py``) on the
initial databases, because the official checkers compare executed outputs with recorded
ones. The interface is ``citi.toolcalls.runtime.ToolAPI``, as the generated APIs': ``call(**kwargs) -> dict``
({api_name, input, output, exception}), ``check(result, gold) -> bool`` and ``describe()``,
so the evaluator drives the embedded and the real tool sets alike.

A Python error the official code would not catch (a missing argument, a bad attribute in a
checker) propagates here too; the evaluator scores it as incorrect instead of crashing.
"""

from __future__ import annotations

import datetime as dt
import inspect
from typing import ClassVar

from ....toolcalls.runtime import ToolAPI

ISO = "%Y-%m-%d %H:%M:%S"


class API(ToolAPI):
    database: ClassVar[str | None] = None  # name of the init_database/*.json this API reads

    def __init__(self, world):
        self.world = world  # the ToolWorld: databases, descriptions, the token checker

    @property
    def db(self):
        return self.world.db[self.database]

    def describe(self) -> dict:
        return self.world.describe(self.name)

    def run(self, **kwargs):
        raise NotImplementedError

    def call(self, **kwargs) -> dict:
        bound = inspect.signature(self.run).bind(**kwargs)  # TypeError as in the official call()
        bound.apply_defaults()
        args = dict(bound.arguments)
        try:
            out = self.run(**args)
        except Exception as e:  # noqa: BLE001 - the official APIs report any error as text
            return self.result(args, None, str(e))
        return self.result(args, out, None)

    def check(self, result: dict, gold: dict) -> bool:
        return (result["input"] == gold["input"] and result["output"] == gold["output"]
                and result["exception"] == gold["exception"])

    # ---- shared pieces ------------------------------------------------------------------
    def user(self, token: str) -> str:
        return self.world.check_token(token)


def same_tail(result: dict, gold: dict) -> bool:
    return result["output"] == gold["output"] and result["exception"] == gold["exception"]


def word_jaccard(a: str, b: str, lower: bool = False) -> float:
    """Jaccard of the sets of single-space-separated tokens (the official split(' '))."""
    if lower:
        a, b = a.lower(), b.lower()
    x, y = set(a.split(" ")), set(b.split(" "))
    return len(x & y) / len(x | y)


def strict_time(s: str) -> None:
    dt.datetime.strptime(s, ISO)


def pad_year(s: str) -> str:
    """The official date normalisation: strip, zero-pad a short year of a Y-m-d date."""
    s = s.strip()
    parts = s.split("-")
    if len(parts) == 3 and len(parts[0]) != 4:
        parts[0] = parts[0].zfill(4)
        s = "-".join(parts)
    return s


def norm_date(s: str, fmt: str = "%Y-%m-%d"):
    """The date re-formatted, or the parse error itself (compared as an object, as officially)."""
    try:
        return dt.datetime.strptime(pad_year(s), fmt).strftime(fmt)
    except Exception as e:  # noqa: BLE001
        return e


def delete_check(result: dict, gold: dict) -> bool:
    """Delete*: both 'success' -> only the 'time' input must match (KeyError if it has none)."""
    if gold["output"] == "success" and result["output"] == "success":
        return result["input"]["time"] == gold["input"]["time"]
    return same_tail(result, gold)
