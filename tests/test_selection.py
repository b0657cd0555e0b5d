"""Component selection: exact configured sizes, sets that follow the scores, deterministic ties."""

from __future__ import annotations

import random

import pytest

from citi.importance.selection import select, set_size, tool_and_general
from citi.errors import ConfigError

TASKS = ("instruct", "math", "code", "knowledge", "tool")
COMPONENTS = [(layer, m, f"model.layers.{layer}.x.{m}_proj") for layer in range(30)
              for m in ("q", "k", "v", "o", "gate", "up", "down")]  # 210, as SmolLM2
CONFIG = {"seed": 1, "selection": {"molora_fraction": 0.2, "unfrozen_fraction": 0.1}}


def shares(seed=0):
    rng = random.Random(seed)
    return {t: [rng.random() * (10 if t == "tool" else 1) for _ in COMPONENTS] for t in TASKS}


def test_sizes_follow_round_half_up():
    assert set_size(0.2, 224) == 45 and set_size(0.1, 224) == 22
    assert set_size(0.2, 210) == 42 and set_size(0.1, 210) == 21
    assert set_size(0.001, 10) == 1 and set_size(1.0, 7) == 7


def test_truncation_takes_the_integer_part_as_the_authors_int():
    assert set_size(0.1, 128, "truncate") == 12 and set_size(0.1, 128) == 13  # Phi-3's 128 components
    assert set_size(0.2, 224, "truncate") == 44 and set_size(0.1, 224, "truncate") == 22
    assert set_size(0.001, 10, "truncate") == 1  # never empty
    with pytest.raises(ConfigError, match="rounding"):
        set_size(0.1, 128, "nearest")


def test_unfrozen_rounding_sizes_only_the_unfrozen_set():
    phi3 = [(layer, m, f"model.layers.{layer}.x.{m}") for layer in range(32) for m in ("qkv_proj", "o_proj",
                                                                                         "gate_up_proj", "down_proj")]
    rng = random.Random(0)
    s = {t: [rng.random() for _ in phi3] for t in TASKS}
    rounded = select("citi", phi3, s, CONFIG, "m")
    truncating = {**CONFIG, "selection": {**CONFIG["selection"], "unfrozen_rounding": "truncate"}}
    truncated = select("citi", phi3, s, truncating, "m")
    assert (len(rounded["unfrozen"]), len(truncated["unfrozen"])) == (13, 12)
    assert truncated["unfrozen"] == rounded["unfrozen"][:12] and truncated["unfrozen_rounding"] == "truncate"
    assert len(rounded["molora"]) == len(truncated["molora"]) == 26  # 0.2 x 128 = 25.6, rounded either way


def test_citi_sets_have_the_configured_sizes_and_follow_the_scores():
    s = shares()
    out = select("citi", COMPONENTS, s, CONFIG, "m")
    assert out["n_components"] == 210 and out["selection"] == "citi"
    assert len(out["molora"]) == 42 and len(out["unfrozen"]) == 21
    tool, general = tool_and_general(s)
    by_name = {c[2]: i for i, c in enumerate(COMPONENTS)}
    chosen = {by_name[n] for n in out["molora"]}
    assert min(tool[i] for i in chosen) >= max(tool[i] for i in range(210) if i not in chosen)
    low = {by_name[n] for n in out["unfrozen"]}
    assert max(general[i] for i in low) <= min(general[i] for i in range(210) if i not in low)
    # scale-free: each task is normalised by its sum first
    scaled = {t: [x * 1000 for x in v] if t == "math" else v for t, v in s.items()}
    assert select("citi", COMPONENTS, scaled, CONFIG, "m") == out


@pytest.mark.parametrize("name,k", [("top20", 42), ("bottom20", 42), ("random20", 42), ("top7.5", 16)])
def test_top_bottom_random_sets(name, k):
    s = shares()
    out = select(name, COMPONENTS, s, CONFIG, "m")
    assert len(out["selected"]) == len(set(out["selected"])) == k
    tool, _ = tool_and_general(s)
    idx = {c[2]: i for i, c in enumerate(COMPONENTS)}
    inside = [tool[idx[n]] for n in out["selected"]]
    outside = [tool[i] for i in range(210) if COMPONENTS[i][2] not in out["selected"]]
    if name.startswith("top"):
        assert min(inside) >= max(outside)
    elif name.startswith("bottom"):
        assert max(inside) <= min(outside)
    else:  # seeded: same config seed, same set; another seed, another set
        assert select(name, COMPONENTS, s, CONFIG, "m") == out
        assert select(name, COMPONENTS, s, {**CONFIG, "seed": 2}, "m")["selected"] != out["selected"]


def test_ties_break_by_component_order():
    flat = {t: [1.0] * 210 for t in TASKS}
    out = select("top10", COMPONENTS, flat, CONFIG, "m")
    assert out["selected"] == [c[2] for c in COMPONENTS[:21]]


def test_bad_selection_name_is_a_config_error():
    with pytest.raises(ConfigError, match="top20"):
        select("best20", COMPONENTS, shares(), CONFIG, "m")


def test_jaccard_thirds_and_random_baseline(tmp_path):
    import numpy as np

    from citi.importance.figures import jaccard_matrices, random_jaccard, thirds, write_figures

    s = shares()
    s["math"] = list(s["instruct"])  # identical rankings overlap fully
    s["code"] = [-x for x in s["instruct"]]  # reversed: high third == the other's low third
    jac = jaccard_matrices(s)
    tasks = list(s)
    i, m, c = tasks.index("instruct"), tasks.index("math"), tasks.index("code")
    assert jac["high"][i, m] == jac["low"][i, m] == 1.0
    assert jac["high"][i, c] == 0.0 and jac["moderate"][i, c] == 1.0
    assert [len(p) for p in thirds(s["tool"])] == [70, 70, 70]
    rng = np.random.default_rng(0)
    draws = [(set(rng.choice(210, 70, replace=False)), set(rng.choice(210, 70, replace=False))) for _ in range(3000)]
    simulated = np.mean([len(a & b) / len(a | b) for a, b in draws])
    assert abs(random_jaccard(210, 70) - simulated) < 0.01
    summary = write_figures("m", COMPONENTS, s, tmp_path)
    assert summary["spearman"][i][m] == 1.0 and summary["spearman"][i][c] == -1.0
    for name in ("jaccard.png", "spearman.png", "spearman.csv", "jaccard_high.csv", "heatmap_tool.png"):
        assert (tmp_path / name).stat().st_size > 0
