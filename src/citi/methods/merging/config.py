"""A merge method's settings (``methods.<name>.merge``), checked with errors naming the key.

No torch here: citi.config runs these checks before any job.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError

# kind -> its own keys (beside kind and from); the schema checks types and ranges, this the pairing
KINDS = {
    "wise_ft": ("alpha",),                       # theta = (1 - alpha) * base + alpha * tuned
    "task_arithmetic": ("lambda",),              # theta = base + lambda * tau, tau = tuned - base
    "ties": ("density", "lambda"),               # tau trimmed to its top-density entries by magnitude
    "dare": ("drop", "lambda", "seed"),          # tau's entries dropped with prob. drop, rest / (1 - drop)
}
REQUIRED = {"wise_ft": "alpha", "ties": "density", "dare": "drop"}
RANGES = {"alpha": ("[0, 1]", lambda v: 0 <= v <= 1), "density": ("(0, 1]", lambda v: 0 < v <= 1),
          "drop": ("[0, 1)", lambda v: 0 <= v < 1), "lambda": ("(0, inf)", lambda v: v > 0)}


@dataclass(frozen=True)
class MergeSettings:
    kind: str
    donor: str  # the trained method whose model is merged into the base (`from`)
    alpha: float = 1.0
    scale: float = 1.0  # lambda
    density: float = 1.0
    drop: float = 0.0
    seed: int = 0


def merge_settings(method: str, spec: dict, default_seed: int = 0) -> MergeSettings:
    """The settings of ``methods.<method>.merge``; a key of another kind, or a missing one, is a ConfigError."""
    merge = spec["merge"]
    where = f"config key 'methods.{method}.merge"
    kind = merge.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{where}.kind': {kind!r} is not one of {', '.join(KINDS)}")
    stray = sorted(set(merge) - {"kind", "from", *KINDS[kind]})
    if stray:
        raise ConfigError(f"{where}.{stray[0]}': not a setting of kind {kind}; its settings: {', '.join(KINDS[kind])}")
    if kind in REQUIRED and REQUIRED[kind] not in merge:
        raise ConfigError(f"{where}.{REQUIRED[kind]}': needed by kind {kind}")
    for key, (span, ok) in RANGES.items():
        if key in merge and not ok(merge[key]):
            raise ConfigError(f"{where}.{key}': {merge[key]!r} is outside {span}")
    return MergeSettings(kind=kind, donor=merge.get("from", "ft"), alpha=merge.get("alpha", 1.0),
                         scale=merge.get("lambda", 1.0), density=merge.get("density", 1.0),
                         drop=merge.get("drop", 0.0), seed=merge.get("seed", default_seed))
