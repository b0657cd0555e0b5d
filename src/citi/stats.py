"""Bootstrap intervals for reported numbers: a mean over items, pooled strata, paired differences, flips.

Items are resampled with replacement (percentile bootstrap). A pooled number (several benchmarks
as one, e.g. API-Bank levels) is resampled within each benchmark (a stratum), so each keeps its n,
and its statistic is the mean over all items (the n-weighted pooled mean). Two methods are paired
item by item on the same ids; resampling item indices jointly is resampling the per-item differences.
Everything is deterministic given the seed (a numpy Generator).
"""

from __future__ import annotations

import numpy as np

from .errors import RecordError

CHUNK = 2**20  # index draws per batch: bounds memory whatever n and n_boot are


def check_item_mean(items: dict, value: float, where: str) -> None:
    """Item scores must average to their metric (within the 4-decimal rounding some metrics carry):
    every interval is computed from them. RecordError naming ``where`` otherwise."""
    if not items:
        raise RecordError(f"{where}: no item scores")
    mean = sum(items.values()) / len(items)
    if abs(mean - value) > 0.01 + 1e-6 * abs(value):
        raise RecordError(f"{where}: the item scores average {mean:.6g} but the metric is {value}; rescore it")


def as_strata(strata) -> list[np.ndarray]:
    """One array, a list of numbers, or a list of arrays (one per stratum) -> list of float arrays."""
    if isinstance(strata, np.ndarray) or (len(strata) and np.ndim(strata[0]) == 0):
        strata = [strata]
    strata = [np.asarray(s, dtype=float) for s in strata]
    if not strata or any(len(s) == 0 for s in strata):
        raise ValueError("bootstrap: every stratum needs at least one item")
    return strata


def bootstrap_means(strata, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """n_boot resampled pooled means: items drawn with replacement within each stratum."""
    strata = as_strata(strata)
    sums = np.zeros(n_boot)
    for values in strata:
        n = len(values)
        step = max(1, CHUNK // n)
        for start in range(0, n_boot, step):
            k = min(step, n_boot - start)
            sums[start:start + k] += values[rng.integers(0, n, size=(k, n))].sum(axis=1)
    return sums / sum(len(s) for s in strata)


def interval(means: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap means."""
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def bootstrap_ci(strata, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, lo, hi): the mean over all items and its percentile bootstrap interval."""
    strata = as_strata(strata)
    mean = float(np.concatenate(strata).mean())
    lo, hi = interval(bootstrap_means(strata, n_boot, np.random.default_rng(seed)), level)
    return mean, lo, hi


def paired_diff_ci(a_strata, b_strata, n_boot: int = 2000, seed: int = 0,
                   level: float = 0.95) -> tuple[float, float, float]:
    """(mean of a - b, lo, hi) for a and b aligned item by item (same ids, same order, per stratum)."""
    a, b = as_strata(a_strata), as_strata(b_strata)
    if [len(x) for x in a] != [len(x) for x in b]:
        raise ValueError(f"paired bootstrap: strata sizes differ ({[len(x) for x in a]} vs {[len(x) for x in b]})")
    return bootstrap_ci([x - y for x, y in zip(a, b)], n_boot, seed, level)


def align(*scores: dict, names: tuple[str, ...] = ()) -> tuple[list[str], list[np.ndarray]]:
    """{item id: value} dicts of the same benchmark -> (common ids, one array per dict in that id order).

    Same benchmark, same ids: an item one dict lacks is left out of the pairing (the caller reports
    how many are paired). No common id at all is an error naming the files (``names``).
    """
    names = names or tuple(f"scores #{i + 1}" for i in range(len(scores)))
    for other, name in zip(scores[1:], names[1:]):
        if not set(scores[0]) & set(other):
            example = f" (e.g. {next(iter(other))!r} vs {next(iter(scores[0]))!r})" if other and scores[0] else ""
            raise RecordError(f"{name}: no item ids in common with {names[0]}{example}; "
                              "were they scored on the same benchmark data?")
    ids = sorted(set(scores[0]).intersection(*scores[1:]))
    return ids, [np.array([s[i] for i in ids], dtype=float) for s in scores]


def is_binary(*scores: dict) -> bool:
    """True when every value is 0 or 100 (a right/wrong metric on the percent scale) or 0/1."""
    values = {float(v) for s in scores for v in s.values()}
    return bool(values) and (values <= {0.0, 100.0} or values <= {0.0, 1.0})


def flips(base: dict, method: dict) -> dict:
    """For a binary metric: items right under base and wrong under method, and the reverse (right: value > 0)."""
    _, (b, m) = align(base, method, names=("base", "method"))
    return {"right_to_wrong": int(np.sum((b > 0) & ~(m > 0))), "wrong_to_right": int(np.sum(~(b > 0) & (m > 0)))}
