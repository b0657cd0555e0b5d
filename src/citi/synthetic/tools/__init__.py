"""The mock API catalogue and the ToolManager that runs it.

A ToolManager owns one copy of every database, so a fresh manager is a fresh
world: calls that change data (reminders, bookings, loans) replay identically.
"""

from __future__ import annotations

from . import account, calendar, money, reference, travel
from .base import API, Ask  # noqa: F401
from .search import ToolSearcher

MODULES = (account, calendar, travel, money, reference)
CATALOGUE: list[type[API]] = [cls for m in MODULES for cls in m.APIS]
ALL: dict[str, type[API]] = {cls.name: cls for cls in [*CATALOGUE, ToolSearcher]}


class ToolManager:
    def __init__(self):
        self.db: dict = {}
        for m in MODULES:
            self.db.update(m.databases())
        self.apis: dict[str, API] = {name: cls(self) for name, cls in ALL.items()}

    def names(self) -> list[str]:
        return list(self.apis)

    def describe(self, name: str) -> dict:
        return self.apis[name].describe()

    def descriptions(self) -> list[dict]:
        return [cls.describe() for cls in ALL.values()]

    def call(self, name: str, params: dict) -> dict:
        """Execute one call; an unknown API or bad argument is an exception string, never raised."""
        api = self.apis.get(name)
        if api is None:
            return {"api_name": name, "input": params, "output": None, "exception": f"Unknown API '{name}'."}
        return api.call(**params)

    def check(self, name: str, result: dict, gold: dict) -> bool:
        """Whether ``result`` counts as correct against ``gold`` under ``name``'s rule."""
        api = self.apis.get(name)
        return api is not None and result.get("api_name") == gold.get("api_name") == name and api.check(result, gold)
