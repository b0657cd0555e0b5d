"""Choose component sets from the importance scores (CITI §1).

Each task's scores are divided by their sum; ``M_h`` is the tool score and
``C_h`` the sum of the four general scores. Rankings are global over all layers.
A set of fraction f has ``max(1, floor(f * n + 0.5))`` components (round half
up: 0.2 x 224 = 44.8 -> 45, 0.1 x 224 = 22.4 -> 22); ``selection.unfrozen_rounding:
truncate`` sizes the unfrozen set with ``int(f * n)`` instead, as the authors did for
Phi-3 (0.1 x 128 = 12.8 -> 12). Ties are broken by component order (layer, then
module), so the result is deterministic.
"""

from __future__ import annotations

import math
import random
import re

from .. import paths
from ..data.mixtures import GENERAL_TASKS
from ..errors import ConfigError

SELECTION = re.compile(r"^(?:citi|(top|bottom|random)(\d+(?:\.\d+)?))$")


ROUNDING = ("half_up", "truncate")


def set_size(fraction: float, n: int, rounding: str = "half_up") -> int:
    """Components in a set of ``fraction`` of ``n``: rounded half up, or truncated as Python's int()."""
    if rounding not in ROUNDING:
        raise ConfigError(f"rounding '{rounding}': expected one of {', '.join(ROUNDING)}")
    count = math.floor(fraction * n + 0.5) if rounding == "half_up" else int(fraction * n)
    return min(n, max(1, count))


def top(scores: list[float], k: int) -> list[int]:
    """Indices of the k highest scores; ties go to the earlier component."""
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]


def bottom(scores: list[float], k: int) -> list[int]:
    return sorted(range(len(scores)), key=lambda i: (scores[i], i))[:k]


def tool_and_general(shares: dict[str, list[float]]) -> tuple[list[float], list[float]]:
    """(M_h, C_h) from each task's scores, each divided by its sum (of absolute values: the same for the
    paper's non-negative scores, and still a scale for estimators whose scores have a sign)."""
    norm = {}
    for task, s in shares.items():
        total = sum(abs(x) for x in s)
        if not total > 0:
            raise ValueError(f"task '{task}': importance scores sum to {total}; cannot normalise")
        norm[task] = [x / total for x in s]
    general = [sum(vals) for vals in zip(*(norm[t] for t in GENERAL_TASKS))]
    return norm["tool"], general


def select(selection: str, components, shares: dict[str, list[float]], config: dict, model: str) -> dict:
    """The selection JSON for ``selection`` ("citi", "top20", "bottom10", "random20", ...)."""
    m = SELECTION.match(selection)
    if not m:
        raise ConfigError(f"selection '{selection}': expected 'citi' or top|bottom|random<percent>, e.g. top20")
    names = [c[2] for c in components]
    n = len(names)
    tool, general = tool_and_general(shares)
    out = {"model": model, "selection": selection, "n_components": n}
    if selection == "citi":
        spec = config["selection"]
        k_molora = set_size(spec["molora_fraction"], n)
        rounding = spec.get("unfrozen_rounding", "half_up")
        k_unfrozen = set_size(spec["unfrozen_fraction"], n, rounding)
        # "ranking" names the MOLoRA set's ranking; the unfrozen set is ranked by C_h
        return {**out, "ranking": "tool", "unfrozen_ranking": "general", "molora_fraction": spec["molora_fraction"],
                "unfrozen_fraction": spec["unfrozen_fraction"], "unfrozen_rounding": rounding,
                "molora": [names[i] for i in top(tool, k_molora)],
                "unfrozen": [names[i] for i in bottom(general, k_unfrozen)]}
    kind, percent = m.group(1), float(m.group(2))
    if not 0 < percent <= 100:
        raise ConfigError(f"selection '{selection}': percent must be in (0, 100]")
    k = set_size(percent / 100, n)
    if kind == "random":
        chosen, ranking = sorted(random.Random(config["seed"]).sample(range(n), k)), "random"
    else:
        chosen, ranking = (top if kind == "top" else bottom)(tool, k), "tool"
    return {**out, "ranking": ranking, "fraction": percent / 100, "selected": [names[i] for i in chosen]}


# ---- which sets a method reads (methods.<name>.components, its stages' trainable groups) -----------

SELECTIVE = ("top", "bottom", "random")


def selection_name(on: str, fraction: float | None, where: str) -> str:
    """The selection a top/bottom/random method uses, e.g. ("top", 0.2) -> "top20"."""
    if fraction is None:
        raise ConfigError(f"config key '{where}.fraction': needed when components is '{on}'")
    return f"{on}{round(fraction * 100)}"


def needed_selections(method: str, spec: dict) -> list[str]:
    """Selection files (``paths.SELECTION`` names) the method reads."""
    names = []
    on = spec.get("components", "all")
    trainable = {g for s in spec.get("stages", []) for g in s["trainable"]}
    if on == "molora_set" or "unfrozen" in trainable:
        names.append("citi")
    if on in SELECTIVE:
        names.append(selection_name(on, spec.get("fraction"), f"methods.{method}"))
    return names


def selection_path(model: str, name: str, spec: dict) -> str:
    """The file of selection ``name``: from the method's named importance estimator, if it has one."""
    if "importance" in spec:
        return paths.ESTIMATOR_SELECTION.format(model=model, estimator=spec["importance"], selection=name)
    return paths.SELECTION.format(model=model, selection=name)


def stage_selection(method: str, spec: dict, selections: dict[str, dict]) -> dict:
    """One dict of module lists (molora, unfrozen, selected) from the method's selection files."""
    merged: dict = {}
    for name in needed_selections(method, spec):
        sel = selections[name]
        merged.update({k: sel[k] for k in ("molora", "unfrozen") if name == "citi" and k in sel})
        if name != "citi":
            merged["selected"] = sel["selected"]
    return merged
