"""Taylor importance: batched equals batch-1, and the score predicts the effect of removing a component."""

from __future__ import annotations

import gc

import pytest
import torch
from scipy.stats import spearmanr

from citi.importance import taylor as importance  # the paper's score
from citi.importance.components import list_components
from citi.importance.encoding import encode
from citi.importance.taylor import normalise, score_records
from citi.models import load

from analysis_helpers import make_records, train_briefly


def reference_scores(model, tok, rec, max_length=256):
    """Batch 1, HF's own loss (mean CE over the answer), gradients by autograd.grad: an independent path."""
    ids, n_prompt = encode(tok, rec, max_length)
    outputs = {}
    modules = dict(model.named_modules())
    comps = list_components(model)
    hooks = [modules[name].register_forward_hook(lambda m, i, o, name=name: outputs.__setitem__(name, o))
             for _, _, name in comps]
    input_ids = torch.tensor([ids])
    labels = input_ids.clone()
    labels[0, :n_prompt] = -100
    embeds = model.get_input_embeddings()(input_ids).detach().requires_grad_(True)
    loss = model(inputs_embeds=embeds, labels=labels).loss
    for h in hooks:
        h.remove()
    grads = torch.autograd.grad(loss, [outputs[name] for _, _, name in comps])
    return torch.stack([(g * outputs[name]).sum(-1).abs().sum() for g, (_, _, name) in zip(grads, comps)])


def test_batched_scores_equal_the_batch1_loop(tiny_model_dir):
    torch.manual_seed(0)
    model, tok = load(tiny_model_dir, dtype=torch.float64)
    records = make_records(7, seed=3)
    lengths = {len(encode(tok, r, 256)[0]) for r in records}
    assert len(lengths) > 3  # unequal lengths, so batches carry padding
    got = score_records(model, tok, records, batch_size=4, max_length=256)
    for p in model.parameters():
        p.requires_grad_(False)
    want = torch.stack([reference_scores(model, tok, r) for r in records])
    assert got["per_example"].shape == want.shape == (7, 14)
    assert torch.all(want > 0)
    torch.testing.assert_close(got["per_example"], want, rtol=1e-5, atol=0)
    assert got["lengths"].tolist() == [len(encode(tok, r, 256)[0]) for r in records]


def test_score_tracks_the_loss_increase_when_a_component_is_zeroed(tiny_model_dir):
    torch.manual_seed(0)
    model, tok = load(tiny_model_dir, dtype=torch.float64)
    records = make_records(24, seed=5)
    train_briefly(model, tok, records)
    got = score_records(model, tok, records, batch_size=8, max_length=256)
    scores = got["per_example"].sum(0)

    def total_loss(zero=None):
        handle = None
        if zero is not None:
            handle = dict(model.named_modules())[zero].register_forward_hook(lambda m, i, o: torch.zeros_like(o))
        with torch.no_grad():
            total = 0.0
            for rec in records:
                ids, n = encode(tok, rec, 256)
                labels = torch.tensor([ids])
                labels[0, :n] = -100
                total += float(model(input_ids=torch.tensor([ids]), labels=labels).loss)
        if handle:
            handle.remove()
        return total

    base = total_loss()
    increase = torch.tensor([total_loss(name) - base for _, _, name in got["components"]])
    rho = spearmanr(scores.numpy(), increase.numpy()).statistic
    print(f"spearman(score, loss increase) = {rho:.3f}")
    assert rho > 0.5


def live_tensor_bytes() -> int:
    """Bytes of every distinct tensor storage still reachable from Python, after a full collection."""
    gc.collect()
    seen, total = set(), 0
    for obj in gc.get_objects():
        if issubclass(type(obj), torch.Tensor):  # type(), not isinstance: no attribute lookups on arbitrary objects
            storage = obj.untyped_storage()
            if storage.data_ptr() not in seen:
                seen.add(storage.data_ptr())
                total += storage.nbytes()
    return total


def test_memory_retained_after_each_batch_does_not_grow(tiny_model_dir, monkeypatch):
    """Issue 20 item 6: each component's gradient hook held that component's output (output -> grad_fn ->
    hook -> output, a cycle through autograd that no collection frees), so every batch's activations
    stayed alive to the end of the run: memory grew by a batch per batch (ran out of memory at scale)."""
    model, tok = load(tiny_model_dir)
    records = make_records(1, seed=3) * 24  # equal batches: whatever a batch leaves behind shows as growth
    retained, score = [], importance.TaylorScorer.score

    def measured(self, batch):
        out = score(self, batch)
        retained.append(live_tensor_bytes())
        return out

    monkeypatch.setattr(importance.TaylorScorer, "score", measured)
    got = score_records(model, tok, records, batch_size=4, max_length=256)
    assert len(retained) == 6 and torch.all(got["per_example"] > 0)
    assert torch.equal(got["per_example"], got["per_example"][:1].expand(24, -1))  # batches really are equal
    growth = [after - retained[0] for after in retained]
    assert growth == [0] * 6, f"live tensor bytes after each batch, minus after the first: {growth}"


def test_official_normalisation_divides_by_token_counts():
    comps = [(0, "q", "a"), (1, "q", "b")]
    total = torch.tensor([10.0, 10.0], dtype=torch.float64)
    lengths, answers = torch.tensor([5, 7]), torch.tensor([2, 3])
    out = normalise(total, comps, lengths, answers, "official")
    assert out.tolist() == [10.0 / 10, 10.0 / 5]
    assert normalise(total, comps, lengths, answers, "sum").tolist() == [10.0, 10.0]


@pytest.mark.slow
def test_analysis_rules_run_on_the_test_config(local_test_run):
    """Checked on the session's run of the test config's whole DAG (read-only)."""
    import csv
    import json

    run = local_test_run
    for task in ("instruct", "math", "code", "knowledge", "tool"):
        with open(run / f"results/importance/tiny/{task}.csv") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 14 and abs(sum(float(r["normalised_score"]) for r in rows) - 1) < 1e-9
        meta = torch.load(run / f"results/importance/tiny/{task}.pt")["meta"]
        assert meta["method"] == "taylor" and meta["n_examples"] == 8 and meta["seed"] == 1
    # the test config's named estimator: same files one folder down, its method in the metadata
    meta = torch.load(run / "results/importance/tiny/ablation_zero/tool.pt")["meta"]
    assert meta["method"] == "ablation" and meta["estimator"] == "ablation_zero" and meta["n_examples"] == 4
    named = json.loads((run / "results/selection/tiny/ablation_zero/citi.json").read_text())
    assert named["importance"] == "ablation_zero" and len(named["molora"]) == 3
    citi = json.loads((run / "results/selection/tiny/citi.json").read_text())
    assert len(citi["molora"]) == 3 and len(citi["unfrozen"]) == 1 and citi["n_components"] == 14
    assert len(json.loads((run / "results/selection/tiny/top20.json").read_text())["selected"]) == 3
    figures = run / "results/figures/importance/tiny"
    assert (figures / "jaccard.png").is_file() and len((figures / "spearman.csv").read_text().splitlines()) == 6
