"""The real API-Bank tool set: one ``ToolWorld`` is the official ToolManager's state.

Levels 1-2 use a fresh world per sample; level 3 uses one world for all its steps.
The initial databases and the API descriptions are read from the data folder at run time.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path

from ....errors import SourceError
from . import account, health, home, info, lv3, schedule
from .base import API

LEVEL12 = {cls.name: cls for m in (account, schedule, health, home, info) for cls in m.APIS}


class CallError(Exception):
    """The official tool manager would raise here (bad parameter name or type); scored incorrect."""


@lru_cache(maxsize=4)
def _databases(root: str) -> str:
    folder = Path(root) / "init_database"
    if not folder.is_dir():
        raise SourceError(f"{folder}: missing (the API-Bank initial databases)")
    return json.dumps({p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))})


class ToolWorld:
    def __init__(self, catalog, mode: str = "official", searcher=None):
        self.catalog, self.mode, self.searcher = catalog, mode, searcher
        self.db = json.loads(_databases(str(catalog.root))) if catalog.level != 3 else {}
        self.db.setdefault("Account", {})
        self.recorded = catalog.recorded
        self.state: dict = {}
        classes = dict(LEVEL12) if catalog.level != 3 else {c.name: c for c in lv3.COMPUTED}
        if catalog.level == 3:
            for name in catalog.described:
                classes.setdefault(name, lv3.recorded_class(name))
        self.apis: dict[str, API] = {n: c(self) for n, c in classes.items()}

    # ---- pieces the APIs use ---------------------------------------------------------------
    def check_token(self, token) -> str:
        for username, account_ in self.db["Account"].items():
            if account_["token"] == token:
                return username
        raise Exception("The token is invalid.")

    def describe(self, name: str) -> dict:
        return copy.deepcopy(self.catalog.described[name])

    def recorded_key(self, name: str, args: dict):
        return (name, lv3.canonical(args))

    # ---- the official ToolManager.api_call --------------------------------------------------
    def execute(self, name: str, params: dict) -> dict:
        """Type-convert like the official tool manager, then call. Raises CallError/TypeError/...
        wherever the official run would raise (the evaluator scores that incorrect)."""
        if name == "ToolSearcher":
            if set(params) - {"keywords"}:
                raise CallError("invalid parameter name")
            if "keywords" not in params:
                raise TypeError("missing keywords")
            return self.searcher.call(self, params["keywords"])
        api = self.apis.get(name)
        types = self.catalog.types(name)
        if api is None or types is None:
            raise CallError("invalid tool name.")
        args = {}
        for key, value in params.items():
            if key not in types:
                raise CallError(f"invalid parameter name. parameter: {key}")
            args[key] = convert(value, types[key], self.mode)
        return api.call(**args)


def convert(value, kind: str, mode: str):
    """The official conversion of one argument (values arrive as strings in official mode)."""
    if kind == "int":
        if isinstance(value, str):
            if not value.isdigit():
                raise CallError(f"invalid parameter type. parameter: {value}")
            return int(value)
        if mode != "official" and isinstance(value, int) and not isinstance(value, bool):
            return value
        raise CallError(f"invalid parameter type. parameter: {value!r}")
    if kind == "float":
        if isinstance(value, str):
            if not value.replace(".", "", 1).isdigit():
                raise CallError("invalid parameter type.")
            return float(value)
        if mode != "official" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise CallError("invalid parameter type.")
    if kind == "bool":
        return value is True or value == "True"
    if kind == "str":
        if mode != "official" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # an unquoted number is the text the official bare-word reading keeps
        return value
    if kind.startswith("list"):
        return value
    raise CallError("invalid parameter type.")
