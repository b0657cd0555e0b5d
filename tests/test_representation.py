"""Hidden-representation analysis: planted shifts are recovered (direction, magnitude, PCA arrows)."""

from __future__ import annotations

import copy
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from citi.representation.shifts import last_token_states, pca_2d, probes, resolve_layers
from citi.representation.report import shifts, write_report
from citi.data.mixtures import build_mixture
from citi.io import read_jsonl, write_jsonl
from citi.models import load

from analysis_helpers import TASKS, make_records

REPO = Path(__file__).resolve().parents[1]


def test_probes_are_prompt_plus_a_seeded_answer_prefix(tiny_model_dir):
    _, tok = load(tiny_model_dir)
    records = make_records(6)
    texts = probes(tok, records, 4, seed=666)
    assert texts == probes(tok, records, 4, seed=666) and len(texts) == 4
    for text in texts:
        assert text.split("<|im_start|>assistant\n")[-1]  # at least one answer character
        assert text.count("<|im_start|>assistant\n") == 1


def test_planted_shift_through_the_model_is_recovered_at_its_layer(tiny_model_dir):
    torch.manual_seed(0)
    base, tok = load(tiny_model_dir)
    texts = probes(tok, make_records(10), 10, seed=1)
    a = last_token_states(base, tok, texts, batch_size=4, max_length=256, keep_layers=[1])
    # up_proj's input is post_attention_layernorm's output; q_proj's is input_layernorm's
    for site, norm in (("ffn", "post_attention_layernorm"), ("attn", "input_layernorm")):
        tuned = copy.deepcopy(base)
        planted = torch.randn(64) * 3
        getattr(tuned.model.layers[1], norm).register_forward_hook(lambda m, i, o: o + planted)
        b = last_token_states(tuned, tok, texts, batch_size=3, max_length=256, keep_layers=[1])
        shift = b["mean"][site] - a["mean"][site]
        assert torch.allclose(shift[0], torch.zeros(64), atol=1e-5)  # layer 0 comes before the plant
        torch.testing.assert_close(shift[1], planted, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(b["states"][site][:, 0] - a["states"][site][:, 0], planted.expand(10, 64),
                                   atol=1e-4, rtol=1e-4)


def synthetic_stats(rng, n=40, d=16, layers=3):
    """Base states; the tuned model moves every task along the tool direction, the control elsewhere."""
    tool_dir = rng.normal(size=d)
    stats = {"base": {}, "tuned": {}, "control": {}}
    planted = {}
    for i, task in enumerate(TASKS):
        states = torch.tensor(rng.normal(size=(n, layers, d)), dtype=torch.float32)
        planted[task] = torch.tensor(tool_dir * (i + 1) * 4, dtype=torch.float32)
        other = torch.tensor(rng.normal(size=d) * 4, dtype=torch.float32)
        for kind, add in (("base", 0), ("tuned", planted[task]), ("control", other)):
            moved = states + add
            stats[kind][task] = {"mean": {s: moved.mean(0) for s in ("ffn", "attn")},
                                 "states": {s: moved[:, [0, 2]] for s in ("ffn", "attn")}}
    return stats, planted


def test_synthetic_shift_direction_magnitude_and_pca_arrows(tmp_path):
    rng = np.random.default_rng(0)
    stats, planted = synthetic_stats(rng)
    sh = shifts(stats, "tuned")
    for task in TASKS:
        got = sh["ffn"][task]
        assert torch.allclose(got, planted[task].expand_as(got), atol=1e-4)
    summary = write_report(tmp_path, stats, {"tuned": "ft", "control": "ft_code"}, [0, 2], {"model": "m"})
    with open(tmp_path / "cosine.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 4 * 3  # sites x general tasks x layers
    assert all(abs(float(r["cos_tuned"]) - 1) < 1e-5 for r in rows)  # co-directional by construction
    assert all(float(r["cos_control"]) < 0.99 for r in rows)
    # the PCA arrow is the planted shift projected on the two components
    base = {t: stats["base"][t]["states"]["ffn"][:, 0] for t in TASKS}
    moved = {t: stats["tuned"][t]["states"]["ffn"][:, 0] for t in TASKS}
    pca, _, _ = pca_2d(base, moved)
    for task in TASKS:
        want = pca.components_ @ planted[task].numpy()
        np.testing.assert_allclose(summary["pca_arrows"]["ffn/layer0"][task], want, atol=1e-3)
    assert abs(abs(pca.components_[0] @ planted["tool"].numpy()) / planted["tool"].norm().item() - 1) < 0.05
    for name in ("cosine_ffn.png", "cosine_attn.png", "cosine_tasks_ffn.png", "pca_ffn_layer2.png", "shifts.pt"):
        assert (tmp_path / name).stat().st_size > 0
    assert set(torch.load(tmp_path / "shifts.pt")["tuned"]["ffn"]) == set(TASKS)


def test_pca_layers_resolve():
    assert resolve_layers(None, 30) == [0, 15, 29]
    assert resolve_layers([-1, 3], 30) == [3, 29]
    with pytest.raises(Exception, match="pca_layers"):
        resolve_layers([30], 30)


def test_code_only_mixture_takes_every_code_record_and_no_tool_data(tmp_path):
    files = {}
    for task in TASKS:
        files[task] = tmp_path / f"{task}.jsonl"
        write_jsonl(files[task], make_records(5, seed=1, task=task))
    spec = {"general_per_task": None, "include_tool": False, "tasks": ["code"]}
    info = build_mixture(spec, files["tool"], files, tmp_path / "m.jsonl", tmp_path / "m.json", 1)
    assert info["parts"] == {"tool": 0, "code": 5}
    assert {r["task"] for r in read_jsonl(tmp_path / "m.jsonl")} == {"code"}


@pytest.mark.slow
def test_representation_rule_accepts_any_model_folder(tmp_path, tiny_model_dir):
    config = yaml.safe_load((REPO / "config/test.yaml").read_text())
    config["representation"].update(tuned=str(tiny_model_dir), control=str(tiny_model_dir), n_per_task=4)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(config))
    target = f"results/representation/tiny/embedded_tools/{tiny_model_dir.name}"
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path / "w"),
                           "--cores", "2", target, "--configfile", str(cfg)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = tmp_path / "w" / target
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_per_task"] == {t: 4 for t in TASKS}
    with open(out / "cosine.csv") as f:
        assert len(list(csv.DictReader(f))) == 2 * 4 * 2
