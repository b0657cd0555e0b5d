"""Importance estimators beyond the Taylor score: ablation, integrated, layer-local.

Each is checked against an independent plain computation (batch 1, the full causal-LM
forward, float64), and none may depend on the batch size or on padding.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from citi.importance import ablation, integrated, local
from citi.importance.components import list_components
from citi.importance.encoding import encode
from citi.importance.forward import LayerInputs
from citi.importance.taylor import batched
from citi.models import load

from analysis_helpers import make_records

N = 5  # examples; unequal lengths, so batches of 2-3 carry padding


@pytest.fixture(scope="module")
def setup(tiny_model_dir):
    torch.manual_seed(0)
    model, tok = load(tiny_model_dir, dtype=torch.float64)
    records = make_records(N, seed=11)
    assert len({len(encode(tok, r, 256)[0]) for r in records}) > 2
    # the tiny model's ops are too small to share out; on a busy machine threads only wait on each other
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield model, tok, records
    torch.set_num_threads(threads)


def plain_loss(model, tok, rec, replace=None) -> float:
    """One example through the full causal LM, with ``replace = (module name, fn)`` applied to that module's output."""
    ids, n_prompt = encode(tok, rec, 256)
    handle = None
    if replace:
        handle = dict(model.named_modules())[replace[0]].register_forward_hook(lambda m, i, o: replace[1](o))
    try:
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids])).logits[0]
    finally:
        if handle:
            handle.remove()
    return float(F.cross_entropy(logits[n_prompt - 1 : len(ids) - 1], torch.tensor(ids[n_prompt:])))


def plain_means(model, tok, records) -> dict[str, torch.Tensor]:
    """Each component's output averaged over every token of every record (batch 1: no padding)."""
    sums, count = {}, 0
    modules = dict(model.named_modules())
    hooks = [modules[name].register_forward_hook(
        lambda m, i, o, name=name: sums.__setitem__(name, sums.get(name, 0) + o[0].sum(0)))
        for _, _, name in list_components(model)]
    with torch.no_grad():
        for rec in records:
            ids = encode(tok, rec, 256)[0]
            model(input_ids=torch.tensor([ids]))
            count += len(ids)
    for h in hooks:
        h.remove()
    return {name: s / count for name, s in sums.items()}


@pytest.mark.parametrize("replacement", ["zero", "mean"])
def test_ablation_equals_the_plain_loss_difference(setup, replacement):
    model, tok, records = setup
    got = ablation.score_records(model, tok, records, batch_size=3, max_length=256, replacement=replacement)
    means = plain_means(model, tok, records) if replacement == "mean" else {}
    want = torch.zeros(N, len(got["components"]), dtype=torch.float64)
    for e, rec in enumerate(records):
        base = plain_loss(model, tok, rec)
        for c, (_, _, name) in enumerate(got["components"]):
            fn = torch.zeros_like if replacement == "zero" else (lambda o, m=means.get(name): m.expand_as(o))
            want[e, c] = plain_loss(model, tok, rec, (name, fn)) - base
    assert want.abs().min() > 1e-8  # every component changes every loss: a real check, not 0 == 0
    torch.testing.assert_close(got["per_example"], want, rtol=1e-5, atol=0)


def test_layer_reuse_equals_full_forwards(setup):
    model, tok, records = setup
    for replacement in ("zero", "mean"):
        reused = ablation.score_records(model, tok, records, 3, 256, replacement=replacement, reuse=True)
        full = ablation.score_records(model, tok, records, 3, 256, replacement=replacement, reuse=False)
        torch.testing.assert_close(reused["per_example"], full["per_example"], rtol=1e-9, atol=1e-12)


def test_mean_ablation_separates_what_zero_ablation_cannot(setup):
    model, tok, records = setup
    zero = ablation.score_records(model, tok, records, 3, 256, "zero")["per_example"].sum(0)
    mean = ablation.score_records(model, tok, records, 3, 256, "mean")["per_example"].sum(0)
    # layer 0: q,k,v,o,gate,up,down. Without biases, zeroing q or k gives the same uniform attention, and zeroing
    # gate, up or down the same zero MLP output
    assert torch.isclose(zero[0], zero[1], rtol=1e-9) and torch.isclose(zero[4], zero[5], rtol=1e-9)
    assert not torch.isclose(mean[0], mean[1], rtol=1e-3) and not torch.isclose(mean[4], mean[5], rtol=1e-3)


def signed_first_order(model, tok, rec) -> torch.Tensor:
    """-Σ_t ⟨∂L/∂y_t, y_t⟩ of every component for one example, by autograd on the full causal LM."""
    ids, n_prompt = encode(tok, rec, 256)
    outputs, modules = {}, dict(model.named_modules())
    comps = list_components(model)
    hooks = [modules[name].register_forward_hook(lambda m, i, o, name=name: outputs.__setitem__(name, o))
             for _, _, name in comps]
    embeds = model.get_input_embeddings()(torch.tensor([ids])).detach().requires_grad_(True)
    logits = model(inputs_embeds=embeds).logits[0]
    for h in hooks:
        h.remove()
    loss = F.cross_entropy(logits[n_prompt - 1 : len(ids) - 1], torch.tensor(ids[n_prompt:]))
    grads = torch.autograd.grad(loss, [outputs[name] for _, _, name in comps])
    return torch.stack([-(g * outputs[name]).sum() for g, (_, _, name) in zip(grads, comps)])


def test_integrated_one_step_is_the_signed_first_order_estimate(setup):
    model, tok, records = setup
    got = integrated.score_records(model, tok, records, 3, 256, steps=1)["per_example"]
    for p in model.parameters():
        p.requires_grad_(False)
    want = torch.stack([signed_first_order(model, tok, r) for r in records])
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-12)
    # the general path (one stacked forward per component, used for more steps) at α = 1 gives the same
    chosen, batch = next(batched(tok, records, N, 256, "cpu")[1])
    cache, modules = LayerInputs(model), dict(model.named_modules())
    with torch.no_grad():
        cache.capture(batch)
    for c, (layer, _, name) in enumerate(list_components(model)):
        terms = integrated.path_terms(model, modules[name], layer, cache.inputs[layer], batch, torch.tensor([1.0]))
        torch.testing.assert_close(-terms, want[chosen, c], rtol=1e-6, atol=1e-12)


def test_integrated_approaches_zero_ablation_with_many_steps(setup):
    model, tok, records = setup
    two = records[:2]
    exact = ablation.score_records(model, tok, two, 2, 256, "zero")["per_example"]
    # batch_size 32: both examples in one batch, and all 16 steps stacked in one forward
    error = {k: (integrated.score_records(model, tok, two, 32, 256, steps=k)["per_example"] - exact).norm()
             for k in (1, 16)}
    # right-endpoint steps: the error shrinks about as 1/k
    assert error[16] < error[1] / 8
    assert error[16] < 0.06 * exact.norm()


def test_local_is_the_first_order_effect_of_the_exact_layer_change(setup):
    model, tok, records = setup
    got = local.score_records(model, tok, records, 3, 256, "zero")
    ids, n_prompt = encode(tok, records[0], 256)
    layers, modules = model.get_decoder().layers, dict(model.named_modules())

    def run(layer, zero=None):
        """(output of ``layer``, loss) of the full causal LM on records[0], component ``zero`` zeroed if given."""
        out = {}
        hooks = [layers[layer].register_forward_hook(lambda m, i, o: out.__setitem__("h", o))]
        if zero:
            hooks.append(modules[zero].register_forward_hook(lambda m, i, o: torch.zeros_like(o)))
        embeds = model.get_input_embeddings()(torch.tensor([ids])).detach().requires_grad_(True)
        logits = model(inputs_embeds=embeds).logits[0]
        for h in hooks:
            h.remove()
        return out["h"], F.cross_entropy(logits[n_prompt - 1 : len(ids) - 1], torch.tensor(ids[n_prompt:]))

    for c, (layer, _, name) in enumerate(got["components"]):
        h, loss = run(layer)
        grad, = torch.autograd.grad(loss, h)
        changed, _ = run(layer, zero=name)
        want = float((grad * (changed - h)).sum().detach())
        assert abs(want) > 1e-8
        assert abs(float(got["per_example"][0, c]) - want) <= 1e-6 * abs(want)


@pytest.mark.parametrize("method", ["ablation_zero", "ablation_mean", "integrated", "local_mean"])
def test_batch_size_and_padding_change_no_score(setup, method):
    model, tok, records = setup
    name, _, how = method.partition("_")
    run = {"ablation": lambda bs: ablation.score_records(model, tok, records, bs, 256, replacement=how),
           # at batch size 4 the last batch (one example) runs both steps in one forward
           "integrated": lambda bs: integrated.score_records(model, tok, records, bs, 256, steps=2),
           "local": lambda bs: local.score_records(model, tok, records, bs, 256, replacement=how)}[name]
    one, padded = run(1)["per_example"], run(4)["per_example"]
    torch.testing.assert_close(padded, one, rtol=1e-8, atol=1e-12)


def test_named_estimators_reach_selection_training_and_the_ablation_table():
    from pathlib import Path

    from citi.importance.estimators import output_paths, settings
    from citi.config import check_config, load_config
    from citi.errors import ConfigError
    from citi.tables.spec import rows
    from citi.importance.selection import selection_path

    config = load_config(Path(__file__).resolve().parents[1] / "config/test.yaml")
    named = settings(config, "ablation_zero")
    assert named["method"] == "ablation" and named["n_per_task"] == 4 and named["max_length"] == 256
    assert settings(config)["method"] == "taylor"
    assert output_paths("tiny", "tool") == ("results/importance/tiny/tool.csv", "results/importance/tiny/tool.pt")
    assert output_paths("tiny", "tool", "ablation_zero")[0] == "results/importance/tiny/ablation_zero/tool.csv"
    with pytest.raises(ConfigError, match="no estimator 'nope'"):
        settings(config, "nope")
    methods = config["methods"]
    assert selection_path("tiny", "citi", methods["citi"]) == "results/selection/tiny/citi.json"
    assert selection_path("tiny", "citi", methods["citi_ablation"]) == "results/selection/tiny/ablation_zero/citi.json"
    labels = {r.method: r.label for r in rows(config, "ablations")}
    assert labels["citi_ablation"] == "CITI (ablation importance, zero)"
    bad = {**config, "methods": {**methods, "citi_ablation": {**methods["citi_ablation"], "importance": "nope"}}}
    with pytest.raises(ConfigError, match="methods.citi_ablation.importance"):
        check_config(bad)


def test_selection_takes_signed_scores():
    from citi.importance.selection import select

    comps = [(0, m, f"model.layers.0.{m}") for m in ("q", "k", "v", "o", "gate", "up", "down", "x", "y", "z")]
    tool = [-5.0, 1.0, -0.5, 0.2, 0.1, -0.1, 0.0, -0.3, 0.4, -0.2]  # sums below zero: a signed estimator's
    shares = {"tool": tool, **{t: [1.0, 2.0, 3.0, -1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
                               for t in ("instruct", "math", "code", "knowledge")}}
    out = select("citi", comps, shares, {"selection": {"molora_fraction": 0.2, "unfrozen_fraction": 0.1}}, "m")
    assert out["molora"] == ["model.layers.0.k", "model.layers.0.y"]  # the largest increases, not the largest |·|
    assert out["unfrozen"] == ["model.layers.0.o"]
