"""The shared generation engine: batched output equals a one-prompt greedy loop; runs resume."""

from __future__ import annotations

import json

import pytest
import torch

from citi.generation import GenerationSettings, render_prompt, run_predictions
from conftest import random_engine


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    """The tiny model with larger random weights, so greedy outputs vary by prompt and position."""
    engine = random_engine(tiny_model_dir, seed=3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 64-wide model gains nothing from threads on a shared CPU
    yield engine
    torch.set_num_threads(threads)


def prompts(engine, n):
    return [render_prompt(engine.tokenizer, [{"role": "user", "content": "hello " * (3 * k % 7) + str(k)}])
            for k in range(n)]


def reference(engine, prompt, max_new_tokens, eos_ids):
    """One prompt, no padding, plain model.generate greedy: the ground truth."""
    ids = torch.tensor([engine.encode(prompt)])
    out = engine.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                do_sample=False, eos_token_id=sorted(eos_ids), pad_token_id=engine.pad_id)
    new = out[0, ids.shape[1]:].tolist()
    cut = next((i for i, t in enumerate(new) if t in eos_ids), len(new))
    return new[:cut]


def test_batched_left_padded_output_equals_one_prompt_greedy_loop(engine):
    texts = prompts(engine, 9)
    assert len({len(engine.encode(p)) for p in texts}) > 3  # unequal lengths: real left padding
    settings = GenerationSettings(max_new_tokens=16, batch_size=4)
    outs = engine.generate(texts, settings)
    for prompt, out in zip(texts, outs):
        assert out.token_ids == reference(engine, prompt, 16, engine.eos_ids)
        assert out.text == engine.tokenizer.decode(out.token_ids, skip_special_tokens=True)
        assert out.new_tokens == len(out.token_ids) and out.prompt_tokens == len(engine.encode(prompt))
    assert len({o.text for o in outs}) > 3  # the check is not vacuous


def test_stop_strings_and_eos_cut_each_row_where_the_reference_would(engine):
    texts = prompts(engine, 9)
    free = engine.generate(texts, GenerationSettings(max_new_tokens=16, batch_size=4))
    # a stop string that some outputs contain and others do not
    candidates = [o.text[i:i + 2] for o in free for i in range(len(o.text) - 1)]
    stop = next(c for c in candidates if "\ufffd" not in c and 0 < sum(c in o.text for o in free) < len(free))

    def finishes(eos):  # what the reference loop gives, from the free-running (no eos) outputs
        kinds = set()
        for o in free:
            ids = o.token_ids[:next((i for i, t in enumerate(o.token_ids) if t == eos), len(o.token_ids))]
            text = engine.tokenizer.decode(ids, skip_special_tokens=True)
            kinds.add("stop" if stop in text else "eos" if len(ids) < 16 else "length")
        return kinds

    # pretend a token that ends some rows early ends a turn, so eos, stop (and length) all occur
    eos_token = next(t for o in free for t in o.token_ids if finishes(t) >= {"stop", "eos"})
    engine.eos_ids, saved = {eos_token}, engine.eos_ids
    try:
        outs = engine.generate(texts, GenerationSettings(max_new_tokens=16, batch_size=3, stop=(stop,)))
        for prompt, out in zip(texts, outs):
            ref = reference(engine, prompt, 16, {eos_token})
            text = engine.tokenizer.decode(ref, skip_special_tokens=True)
            expected = text[:text.find(stop)] if stop in text else text
            assert out.text == expected
            assert out.token_ids == ref[:out.new_tokens]
            assert out.finish == ("stop" if stop in text else "eos" if len(ref) < 16 else "length")
        assert {o.finish for o in outs} >= {"stop", "eos"}
    finally:
        engine.eos_ids = saved


class Crash(Exception):
    pass


def records(n):
    return [{"id": f"r{k}", "source": "t", "task": "tool", "task_type": 1,
             "messages": [{"role": "user", "content": "say " * (k % 5) + str(k)},
                          {"role": "assistant", "content": "gold"}]} for k in range(n)]


def test_a_killed_run_resumes_to_the_same_predictions(engine, tmp_path, monkeypatch):
    recs, settings = records(10), GenerationSettings(max_new_tokens=12, batch_size=3)
    whole = tmp_path / "whole.jsonl"
    run_predictions(engine, recs, whole, settings, progress=False)

    out, calls = tmp_path / "resumed.jsonl", []
    real = engine.generate_ids

    def dying(batch, s):
        calls.append(len(batch))
        if len(calls) == 3:
            raise Crash
        return real(batch, s)

    monkeypatch.setattr(engine, "generate_ids", dying)
    with pytest.raises(Crash):
        run_predictions(engine, recs, out, settings, progress=False)
    monkeypatch.setattr(engine, "generate_ids", real)
    partial = tmp_path / "resumed.jsonl.partial"
    assert not out.exists() and len(partial.read_text().splitlines()) == 1 + 6  # header + 2 batches
    with open(partial, "a") as f:
        f.write('{"id": "r9", "predic')  # killed mid-write
    resumed_batches = []
    monkeypatch.setattr(engine, "generate_ids", lambda b, s: resumed_batches.append(len(b)) or real(b, s))
    run_predictions(engine, recs, out, settings, progress=False)
    assert resumed_batches == [3, 1]  # only the batches not finished before the kill
    assert out.read_bytes() == whole.read_bytes() and not partial.exists()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [r["id"] for r in recs]
    assert all({"prediction", "prompt_tokens", "new_tokens"} <= set(r) for r in rows)


def test_a_partial_file_from_other_settings_is_not_reused(engine, tmp_path):
    recs = records(4)
    out = tmp_path / "p.jsonl"
    (tmp_path / "p.jsonl.partial").write_text(json.dumps({"_partial": {"other": 1}}) + "\n"
                                              + json.dumps({"id": "r0", "prediction": "stale"}) + "\n")
    rows = run_predictions(engine, recs, out, GenerationSettings(max_new_tokens=4, batch_size=2), progress=False)
    assert rows[0]["prediction"] != "stale"


def test_ragged_prefill_matches_the_reference_on_a_molora_model(tiny_model_dir):
    """The per-prompt prefill rebuilt into one padded cache works through MOLoRA layers too (their
    router sees each prompt alone, as in the one-prompt reference)."""
    from citi.methods.molora import MoloraConfig, inject_molora

    engine = random_engine(tiny_model_dir, seed=5)
    targets = [n for n, m in engine.model.named_modules() if n.endswith(("q_proj", "down_proj"))]
    inject_molora(engine.model, MoloraConfig(experts=2, rank=4, target_modules=targets))
    gen = torch.Generator().manual_seed(6)
    with torch.no_grad():  # B starts at zero: give the experts weight so they change the outputs
        for name, p in engine.model.named_parameters():
            if "molora" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    texts = prompts(engine, 7)
    outs = engine.generate(texts, GenerationSettings(max_new_tokens=12, batch_size=7))
    assert [o.token_ids for o in outs] == [reference(engine, p, 12, engine.eos_ids) for p in texts]


def test_a_partial_file_torn_inside_a_character_resumes(engine, tmp_path):
    """A kill can cut the last line inside a multi-byte character: the rerun redoes that batch
    instead of failing on the bytes."""
    recs, settings = records(4), GenerationSettings(max_new_tokens=4, batch_size=2)
    whole = run_predictions(engine, recs, tmp_path / "whole.jsonl", settings, progress=False)
    out = tmp_path / "p.jsonl"
    header = {"_partial": {"settings": settings.as_dict()}}
    torn = (json.dumps(header) + "\n" + json.dumps(whole[0]) + "\n").encode() + '{"id": "r1", "prediction": "é'.encode()[:-1]
    (tmp_path / "p.jsonl.partial").write_bytes(torn)
    rows = run_predictions(engine, recs, out, settings, progress=False)
    assert rows == whole and out.read_bytes() == (tmp_path / "whole.jsonl").read_bytes()


def test_dense_plan_covers_every_item_once_and_bounds_padding():
    from citi.generation.engine import Engine

    lengths = [700, 120, 690, 300, 310, 305, 50, 45, 44, 680, 20]
    batches = Engine.plan_dense(lengths, batch_size=3, min_fill=0.85)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        width = max(lengths[i] for i in b)
        assert len(b) <= 3 and sum(lengths[i] for i in b) >= 0.85 * width * len(b)
    fixed = Engine.plan(lengths, 3)  # the fixed-size plan pads far more
    padded = lambda plan: sum(max(lengths[i] for i in b) * len(b) for b in plan)
    assert padded(batches) < padded(fixed)


def shared_start_prompts(engine, n):
    """Tool-benchmark-like prompts: one long system message, then different dialogues (some of which
    start the same way) — the case the prefix store serves."""
    system = {"role": "system", "content": "You can call these tools: " + " ".join(f"tool_{k}(x)" for k in range(12))}
    dialogue = lambda k: [{"role": "user", "content": "call " * (k % 3) + f"tool_{k % 4}"}]
    return [render_prompt(engine.tokenizer, [system, *dialogue(k)] if k % 2 else
                          [system, *dialogue(k), {"role": "assistant", "content": "done"}, *dialogue(k + 1)])
            for k in range(n)]


def counting_stores(monkeypatch):
    """Record each PrefixStore the engine makes, to see what it reused."""
    from citi.generation import engine as engine_module

    stores = []

    class Counting(engine_module.PrefixStore):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            stores.append(self)

    monkeypatch.setattr(engine_module, "PrefixStore", Counting)
    return stores


@pytest.mark.parametrize("molora", [False, True])
def test_prompts_sharing_a_start_reuse_its_cache_and_give_the_reference_tokens(tiny_model_dir, monkeypatch, molora):
    engine = random_engine(tiny_model_dir, seed=11)  # a seed whose outputs differ by prompt at this length
    if molora:
        from citi.methods.molora import MoloraConfig, inject_molora

        targets = [n for n, m in engine.model.named_modules() if n.endswith(("k_proj", "up_proj"))]
        inject_molora(engine.model, MoloraConfig(experts=2, rank=4, target_modules=targets))
        gen = torch.Generator().manual_seed(8)
        with torch.no_grad():
            for name, p in engine.model.named_parameters():
                if "molora" in name:
                    p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    stores = counting_stores(monkeypatch)
    texts = shared_start_prompts(engine, 8)
    outs = engine.generate(texts, GenerationSettings(max_new_tokens=10, batch_size=8))
    assert [o.token_ids for o in outs] == [reference(engine, p, 10, engine.eos_ids) for p in texts]
    assert len({tuple(o.token_ids) for o in outs}) > 2  # the check is not vacuous
    (store,) = stores
    total = sum(len(engine.encode(p)) - 1 for p in texts)
    assert store.computed + store.reused == total and store.reused > total / 2  # most of the prompts came from the store


def test_the_prefix_store_gives_each_sequence_its_own_cache(engine):
    from citi.generation.prefix import MIN_SHARED, PrefixStore

    base = engine.encode(shared_start_prompts(engine, 1)[0])
    assert len(base) > 2 * MIN_SHARED
    sequences = [base, base[:-3] + [11, 12, 13, 14], base[:MIN_SHARED - 2] + [5] * 9, base[:20]]
    store = PrefixStore(engine.model.get_decoder(), engine.device)
    decoder = engine.model.get_decoder()
    with torch.inference_mode():
        for ids in sequences:
            layers = store.kv(ids)
            alone = decoder(input_ids=torch.tensor([ids]), use_cache=True).cache.layers
            assert len(layers) == len(alone)
            for (k, v), ref in zip(layers, alone):
                assert k.shape == ref.keys.shape and torch.allclose(k, ref.keys, atol=1e-5)
                assert torch.allclose(v, ref.values, atol=1e-5)
    # reused: the second's shared start, none of the third (shorter than MIN_SHARED), all of the fourth
    assert store.reused == (len(base) - 3) + 0 + 20
    assert store.computed == len(base) + 4 + (MIN_SHARED - 2 + 9)
