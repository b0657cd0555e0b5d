"""Issue 22's baselines on the tiny model: merges of FT into base (WiSE-FT, task arithmetic, TIES, DARE)
and FT with its bottom layers frozen; their config errors; the merge rule in a dry run."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from citi.config import check_config
from citi.errors import ConfigError
from citi.methods.merging import MergeSettings
from training_helpers import REPO, make_workspace, stage_dir, tiny_config


@pytest.fixture(scope="module")
def ft_run(tmp_path_factory, tiny_model_dir):
    """A workspace with FT trained once (stage 1 of ft), shared by the merge tests."""
    from citi.training.stage import run_stage

    root = make_workspace(tmp_path_factory.mktemp("merge"), tiny_model_dir)
    here = os.getcwd()
    os.chdir(root)
    try:
        torch.manual_seed(0)
        run_stage(tiny_config(), "tiny", "ft", 1, stage_dir("ft", 1))
    finally:
        os.chdir(here)
    return root


def weights(folder) -> dict[str, torch.Tensor]:
    return load_file(str(Path(folder) / "model.safetensors"))


def merged(ft_run, tiny_model_dir, out: Path, kind: str, **settings) -> dict[str, torch.Tensor]:
    from citi.methods.merging.model import merge_models

    merge_models(tiny_model_dir, ft_run / stage_dir("ft", 1), MergeSettings(kind=kind, donor="ft", **settings),
                 out, {"method": kind})
    return weights(out)


def same(a: dict, b: dict) -> bool:
    assert a.keys() == b.keys()
    return all(torch.equal(a[k], b[k]) for k in a)


def test_wise_ft_ends_are_the_base_and_the_ft_model_exactly(ft_run, tiny_model_dir, tmp_path):
    base, ft = weights(tiny_model_dir), weights(ft_run / stage_dir("ft", 1))
    assert not same(base, ft)
    assert same(merged(ft_run, tiny_model_dir, tmp_path / "a0", "wise_ft", alpha=0.0), base)
    assert same(merged(ft_run, tiny_model_dir, tmp_path / "a1", "wise_ft", alpha=1.0), ft)
    half = merged(ft_run, tiny_model_dir, tmp_path / "a5", "wise_ft", alpha=0.5)
    assert all(torch.allclose(half[k], (base[k] + ft[k]) / 2, atol=1e-6) for k in base)


def test_task_vector_merges_reduce_to_task_arithmetic(ft_run, tiny_model_dir, tmp_path):
    ft = weights(ft_run / stage_dir("ft", 1))
    assert same(merged(ft_run, tiny_model_dir, tmp_path / "ta1", "task_arithmetic", scale=1.0), ft)
    ta = merged(ft_run, tiny_model_dir, tmp_path / "ta", "task_arithmetic", scale=0.7)
    assert same(merged(ft_run, tiny_model_dir, tmp_path / "ties", "ties", scale=0.7, density=1.0), ta)
    assert same(merged(ft_run, tiny_model_dir, tmp_path / "dare", "dare", scale=0.7, drop=0.0, seed=3), ta)


def kept_fraction(base: dict, ft: dict, out: dict) -> float:
    """Of the task vector's nonzero entries, the fraction the merge kept (moved off the base)."""
    moved = sum(int(((out[k] != base[k]) & (ft[k] != base[k])).sum()) for k in base)
    return moved / sum(int((ft[k] != base[k]).sum()) for k in base)


def test_dare_keeps_about_1_minus_p_of_the_task_vector_rescaled_and_seeded(ft_run, tiny_model_dir, tmp_path):
    base, ft = weights(tiny_model_dir), weights(ft_run / stage_dir("ft", 1))
    out = merged(ft_run, tiny_model_dir, tmp_path / "d", "dare", drop=0.7, seed=5)
    assert abs(kept_fraction(base, ft, out) - 0.3) < 0.02
    for k in base:  # a kept entry is base + tau / (1 - p); a dropped one is the base's
        keep = out[k] != base[k]
        assert torch.allclose(out[k][keep], (base[k] + (ft[k] - base[k]) / 0.3)[keep], rtol=1e-4, atol=1e-5)
    assert same(merged(ft_run, tiny_model_dir, tmp_path / "d2", "dare", drop=0.7, seed=5), out)
    assert not same(merged(ft_run, tiny_model_dir, tmp_path / "d3", "dare", drop=0.7, seed=6), out)


def test_ties_keeps_the_largest_entries_of_the_task_vector(ft_run, tiny_model_dir, tmp_path):
    base, ft = weights(tiny_model_dir), weights(ft_run / stage_dir("ft", 1))
    out = merged(ft_run, tiny_model_dir, tmp_path / "t", "ties", density=0.2)
    assert abs(kept_fraction(base, ft, out) - 0.2) < 0.02
    for k in base:  # kept: FT's value (lambda 1); every kept |tau| at least every dropped one
        tau, keep = (ft[k] - base[k]).abs(), out[k] != base[k]
        assert torch.equal(out[k][keep], ft[k][keep])
        if keep.any() and (~keep).any():
            assert tau[keep].min() >= tau[~keep].max()


def test_freeze_bottom_trains_only_the_upper_layers(tmp_path, tiny_model_dir, monkeypatch):
    from citi.training.stage import run_stage

    make_workspace(tmp_path, tiny_model_dir)
    monkeypatch.chdir(tmp_path)
    config = tiny_config()
    config["methods"]["freeze_bottom50"] = {**copy.deepcopy(config["methods"]["ft"]), "stages": [
        {**config["methods"]["ft"]["stages"][0], "freeze_bottom": 0.5}]}  # 1 of the tiny model's 2 layers
    torch.manual_seed(0)
    prov = run_stage(check_config(config), "tiny", "freeze_bottom50", 1, stage_dir("freeze_bottom50", 1))
    base, out = weights(tiny_model_dir), weights(stage_dir("freeze_bottom50", 1))
    bottom = [k for k in base if ".layers.0." in k]
    top = [k for k in base if ".layers.1." in k]
    assert bottom and top and prov["trainable_parameters"] > 0
    assert all(torch.equal(base[k], out[k]) for k in bottom)
    assert all(not torch.equal(base[k], out[k]) for k in top)
    config["methods"]["freeze_bottom50"]["stages"][0]["freeze_bottom"] = 0.2  # int(0.2 x 2) = 0 layers
    with pytest.raises(ConfigError, match=re.escape("methods.freeze_bottom50.stages[0].freeze_bottom")):
        run_stage(config, "tiny", "freeze_bottom50", 1, "never")


def with_method(name: str, spec: dict) -> dict:
    config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    config["methods"][name] = spec
    return config


@pytest.mark.parametrize("name, spec, key", [
    ("wise_ft9", {"merge": {"kind": "wise_ft", "alpha": 1.5}}, "methods.wise_ft9.merge.alpha"),
    ("wise_ft9", {"merge": {"kind": "wise_ft"}}, "methods.wise_ft9.merge.alpha"),
    ("wise_ft9", {"merge": {"kind": "wise_ft", "alpha": 0.5, "density": 0.2}}, "methods.wise_ft9.merge.density"),
    ("ties9", {"merge": {"kind": "ties", "density": 0}}, "methods.ties9.merge.density"),
    ("dare9", {"merge": {"kind": "dare", "drop": 1.0}}, "methods.dare9.merge.drop"),
    ("dare9", {"merge": {"kind": "dare", "drop": 0.5, "lambda": -1}}, "methods.dare9.merge.lambda"),
    ("dare9", {"merge": {"kind": "mean", "drop": 0.5}}, "methods.dare9.merge.kind"),
    ("ties9", {"merge": {"kind": "ties", "density": 0.2, "from": "replace_top20"}}, "methods.ties9.merge.from"),
    ("ties9", {"merge": {"kind": "ties", "density": 0.2, "from": "nope"}}, "methods.ties9.merge.from"),
    ("ties9", {"merge": {"kind": "ties", "density": 0.2}, "mixture": "tool"}, "methods.ties9"),
    ("freeze_bottom9", {"mixture": "tool", "stages": [{"name": "ft", "trainable": ["all"], "lr": 1e-4, "epochs": 1,
                                                        "freeze_bottom": 1.0}]},
     "methods.freeze_bottom9.stages.0.freeze_bottom"),
])
def test_bad_baseline_configs_name_the_key(name, spec, key):
    with pytest.raises(ConfigError, match=re.escape(f"config key '{key}")):
        check_config(with_method(name, spec))


def test_the_merge_rule_builds_a_merged_model_from_ft_and_evaluates_it(tmp_path):
    """A dry run (the test DAG itself leaves the baselines out: they would lengthen CI's run)."""
    config = with_method("ties20", {"merge": {"kind": "ties", "density": 0.2}})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    out = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-n", "--cores", "1",
                          "-d", str(tmp_path), "results/eval/tiny/ties20/tool_level1/metrics.json",
                          "--configfile", str(tmp_path / "c.yaml")], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    merge_job = r"rule merge_weights:\n(    .*\n)*?    output: results/checkpoints/tiny/embedded_tools/ties20/stage1"
    assert re.search(merge_job, out.stdout), out.stdout[-3000:]
    assert "results/checkpoints/tiny/embedded_tools/ft/stage1" in out.stdout  # FT is trained first
