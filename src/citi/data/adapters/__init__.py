"""Dataset adapters: each turns one raw dataset's files into records.

Add a dataset by adding a module here with a class decorated by ``@register``;
nothing else needs editing. ``get(name)`` returns an instance.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import ADAPTERS, Adapter, register  # noqa: F401

_loaded = False


def _load_all() -> None:
    global _loaded
    if not _loaded:
        for mod in pkgutil.iter_modules(__path__):
            if mod.name != "base":
                importlib.import_module(f"{__name__}.{mod.name}")
        _loaded = True


def names() -> list[str]:
    _load_all()
    return sorted(ADAPTERS)


def get(name: str) -> Adapter:
    _load_all()
    if name not in ADAPTERS:
        raise KeyError(f"unknown dataset adapter '{name}'; known: {', '.join(sorted(ADAPTERS))}")
    return ADAPTERS[name]()
