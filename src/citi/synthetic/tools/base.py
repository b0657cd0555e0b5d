"""The mock-API base class, shared helpers and the dialogue request shape.

A call never raises: bad or missing arguments come back as an exception
string in the result, like API-Bank's simulator, so an evaluator can score
any model output without crashing.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Callable, ClassVar

from ...toolcalls.runtime import ToolAPI

YEAR = 2024  # the dialogues say "the year is 2024"; dates without a year mean this one
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]


class ApiError(Exception):
    """Raised inside ``run``; ``call`` turns it into the result's exception string."""


@dataclass
class Ask:
    """One user request a dialogue can contain, with its gold call.

    ``partial`` = (request missing a detail, AI question, user answer) lets the
    dialogue ask for the missing detail before calling.
    """
    params: dict[str, str]
    say: str
    reply: Callable[[dict], str]
    partial: tuple[str, str, str] | None = None


@dataclass
class Param:
    type: str  # str | int | float
    description: str


class API(ToolAPI):
    description: ClassVar[str]
    inputs: ClassVar[dict[str, Param]] = {}
    outputs: ClassVar[dict[str, Param]] = {}
    keywords: ClassVar[list[str]] = []  # ToolSearcher queries the dialogues use for this API
    needs_token: ClassVar[bool] = False
    # how check() compares the input fields (see ``check``)
    loose: ClassVar[set[str]] = set()
    folded: ClassVar[set[str]] = set()
    spaceless: ClassVar[set[str]] = set()

    def __init__(self, tm):
        self.tm = tm  # the ToolManager: its ``db`` holds this instance's state

    @classmethod
    def describe(cls) -> dict:
        io = lambda ps: {k: {"type": p.type, "description": p.description} for k, p in ps.items()}
        return {"name": cls.name, "description": cls.description,
                "input_parameters": io(cls.inputs), "output_parameters": io(cls.outputs)}

    def call(self, /, **kwargs) -> dict:
        """Run the API; always returns {api_name, input, output, exception}."""
        try:
            args = self.normalize(self.coerce(kwargs))
        except ApiError as e:
            return self.result(kwargs, None, str(e))
        try:
            return self.result(args, self.run(**args), None)
        except ApiError as e:
            return self.result(args, None, str(e))

    def coerce(self, kwargs: dict) -> dict:
        # the official parser hands every value over as a string, so numbers arrive as text
        for k in kwargs:
            if k not in self.inputs:
                raise ApiError(f"Unknown parameter '{k}'.")
        args = {}
        for k, p in self.inputs.items():
            if k not in kwargs:
                raise ApiError(f"Missing parameter '{k}'.")
            v = kwargs[k]
            if p.type == "str":
                if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                    raise ApiError(f"Parameter '{k}' must be text.")
                args[k] = str(v)
            elif p.type == "int":
                if isinstance(v, str) and re.fullmatch(r"\s*-?\d{1,12}\s*", v):
                    v = int(v)
                if isinstance(v, bool) or not isinstance(v, int):
                    raise ApiError(f"Parameter '{k}' must be a whole number.")
                args[k] = v
            else:
                if isinstance(v, str) and re.fullmatch(r"\s*-?(\d{1,12}(\.\d*)?|\.\d+)\s*", v):
                    v = float(v)
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or abs(v) > 1e12:
                    raise ApiError(f"Parameter '{k}' must be a number.")
                args[k] = float(v)
        return args

    def normalize(self, args: dict) -> dict:
        """Canonical spellings of enumerated values, recorded in the result's input."""
        return args

    def run(self, **args):
        raise NotImplementedError

    def check(self, result: dict, gold: dict) -> bool:
        """Exact match of input, output and exception, with per-field relaxations:
        ``loose`` free-text fields pass at word-set Jaccard > 0.5 (lowercased),
        ``folded`` names ignore case and spacing, ``spaceless`` ignore spaces."""
        if result.get("output") != gold.get("output") or result.get("exception") != gold.get("exception"):
            return False
        a, b = result.get("input") or {}, gold.get("input") or {}
        if set(a) != set(b):
            return False
        for k in a:
            x, y = a[k], b[k]
            if k in self.loose and isinstance(x, str) and isinstance(y, str):
                ok = jaccard(x, y) > 0.5
            elif k in self.folded and isinstance(x, str) and isinstance(y, str):
                ok = fold(x) == fold(y)
            elif k in self.spaceless and isinstance(x, str) and isinstance(y, str):
                ok = "".join(x.split()) == "".join(y.split())
            else:
                ok = x == y
            if not ok:
                return False
        return True

    def ask(self, rng, user: dict | None) -> Ask:
        """A random request for this API that succeeds on a fresh database."""
        raise NotImplementedError

    # shared lookups
    def user_of(self, token: str) -> str:
        for name, acc in self.tm.db["Account"].items():
            if acc["token"] == token:
                return name
        raise ApiError("Invalid token.")


def fold(s: str) -> str:
    return " ".join(s.casefold().split())


def words(s: str) -> set[str]:
    return set(re.findall(r"\w+", s.lower()))


def jaccard(a: str, b: str) -> float:
    x, y = words(a), words(b)
    return len(x & y) / len(x | y) if x | y else 1.0


def parse_date(s: str) -> dt.date:
    try:
        return dt.date.fromisoformat(s.strip())
    except ValueError:
        raise ApiError(f"Bad date '{s}': use YYYY-MM-DD.") from None


def parse_time(s: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(s.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise ApiError(f"Bad time '{s}': use YYYY-MM-DD HH:MM.") from None


def say_date(d: dt.date, rng) -> str:
    """A date as a user might type it; the gold call always uses ISO."""
    m = MONTHS[d.month - 1]
    return rng.choice([d.isoformat(), f"{m} {d.day}", f"{d.day} {m}", f"the {ordinal(d.day)} of {m}"])


def say_clock(h: int, mi: int, rng) -> str:
    ampm = f"{(h - 1) % 12 + 1}{':%02d' % mi if mi else ''} {'am' if h < 12 else 'pm'}"
    return rng.choice([f"{h:02d}:{mi:02d}", ampm])


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def rand_date(rng, start: dt.date, days: int) -> dt.date:
    return start + dt.timedelta(days=rng.randrange(days))


def pick(rng, options: list[str], **slots) -> str:
    return rng.choice(options).format(**slots)
