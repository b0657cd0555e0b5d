"""Bootstrap intervals (citi.stats) against closed forms and planted data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from citi import stats
from citi.errors import RecordError


def binary(n: int, right: int, seed: int = 0) -> np.ndarray:
    """n items on the percent scale, exactly ``right`` of them 100, in a seeded order."""
    return np.random.default_rng(seed).permutation(np.r_[np.full(right, 100.0), np.zeros(n - right)])


def test_bootstrap_ci_of_a_proportion_matches_the_normal_and_wilson_intervals():
    n, p = 400, 0.3
    mean, lo, hi = stats.bootstrap_ci(binary(n, 120), n_boot=4000, seed=1)
    wald = 1.96 * math.sqrt(p * (1 - p) / n) * 100
    z = 1.96
    centre = (p + z * z / (2 * n)) / (1 + z * z / n) * 100
    wilson = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n) * 100
    assert mean == pytest.approx(30.0)
    assert (hi - lo) / 2 == pytest.approx(wald, rel=0.10)
    assert lo == pytest.approx(centre - wilson, abs=0.15 * wilson)
    assert hi == pytest.approx(centre + wilson, abs=0.15 * wilson)


def test_same_seed_same_interval_other_seed_other_interval():
    data = binary(200, 50)
    assert stats.bootstrap_ci(data, seed=3) == stats.bootstrap_ci(data, seed=3)
    assert stats.bootstrap_ci(data, seed=3) != stats.bootstrap_ci(data, seed=4)


def test_pooled_strata_resample_within_each_and_average_all_items():
    low, high = binary(300, 30, seed=1), binary(100, 90, seed=2)  # 10% and 90%: very different strata
    mean, lo, hi = stats.bootstrap_ci([low, high], n_boot=3000, seed=0)
    assert mean == pytest.approx((30 * 100 + 90 * 100) / 400)  # the n-weighted pooled mean, not (10 + 90) / 2
    _, naive_lo, naive_hi = stats.bootstrap_ci(np.concatenate([low, high]), n_boot=3000, seed=0)
    assert hi - lo < naive_hi - naive_lo  # the strata's sizes are fixed: less spread than resampling them all
    assert lo < mean < hi


def test_paired_ci_of_identical_methods_is_zero_and_of_a_planted_shift_excludes_zero():
    rng = np.random.default_rng(0)
    difficulty = rng.normal(50, 20, size=300)  # item effects shared by both methods
    assert stats.paired_diff_ci(difficulty, difficulty.copy()) == (0.0, 0.0, 0.0)
    shifted = difficulty + 2.0 + rng.normal(0, 3, size=300)
    diff, lo, hi = stats.paired_diff_ci(shifted, difficulty, seed=1)
    assert 0 < lo < diff < hi and diff == pytest.approx(2.0, abs=0.6)
    # the same shift unpaired is lost in the item spread: the two means' intervals overlap
    _, a_lo, a_hi = stats.bootstrap_ci(shifted, seed=1)
    _, b_lo, b_hi = stats.bootstrap_ci(difficulty, seed=1)
    assert a_lo < b_hi and b_lo < a_hi
    # noise around the same values: the interval contains 0
    _, lo, hi = stats.paired_diff_ci(rng.permutation(difficulty), difficulty, seed=1)
    assert lo < 0 < hi
    with pytest.raises(ValueError, match="strata sizes differ"):
        stats.paired_diff_ci([difficulty[:10]], [difficulty[:9]])


def test_align_pairs_by_id_and_names_the_file_when_no_id_is_shared():
    ids, (a, b) = stats.align({"x": 1, "y": 2}, {"y": 20, "x": 10}, names=("a.json", "b.json"))
    assert ids == ["x", "y"] and list(a) == [1, 2] and list(b) == [10, 20]
    ids, (a, b, c) = stats.align({"x": 1, "y": 2, "z": 3}, {"y": 20, "z": 30}, {"z": 300, "y": 200, "w": 0})
    assert ids == ["y", "z"] and list(a) == [2, 3] and list(c) == [200, 300]  # only the common items
    with pytest.raises(RecordError, match=r"b\.json: no item ids in common with a\.json.*'z' vs 'x'"):
        stats.align({"x": 1}, {"z": 1}, names=("a.json", "b.json"))


def test_flips_count_right_to_wrong_and_wrong_to_right():
    base = {"1": 100, "2": 0, "3": 100, "4": 0, "5": 100}
    method = {"1": 0, "2": 100, "3": 100, "4": 100, "5": 0}
    assert stats.flips(base, method) == {"right_to_wrong": 2, "wrong_to_right": 2}
    assert stats.flips(base, base) == {"right_to_wrong": 0, "wrong_to_right": 0}
    assert stats.is_binary(base, method) and not stats.is_binary({"1": 42.5})
