"""Likelihood benchmarks: answer NLL and log-likelihood multiple choice."""

from __future__ import annotations

import math

import pytest
import torch

from citi.errors import RecordError
from citi.evaluation import likelihood
from citi.evaluation.runner import check_item_scores
from citi.generation import GenerationSettings
from citi.io import read_jsonl
from conftest import random_engine


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    return random_engine(tiny_model_dir, seed=5)


def record(i: int, question: str, answer: str, fact: str = "") -> dict:
    return {"id": f"k/test/{i}", "source": "k", "task": "knowledge", "task_type": 0,
            "messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
            "meta": {"fact": fact}}


RECORDS = [record(i, f"question {i} " + "word " * (i % 5), f"answer {i}" + " more" * (3 * i % 7), f"g{i % 2}:{i}")
           for i in range(9)]


def reference_nll(engine, rec) -> float:
    """One record, no padding, the whole sequence's logits: the ground truth."""
    prompt, answer = likelihood.split_conversation(engine.tokenizer, rec)
    p, a = engine.encode(prompt), engine.encode(answer)
    ids = torch.tensor([p + a])
    with torch.no_grad():
        logp = torch.log_softmax(engine.model(ids).logits[0].float(), -1)
    return -sum(float(logp[len(p) + k - 1, t]) for k, t in enumerate(a)) / len(a)


def test_batched_answer_nll_equals_one_record_reference(engine, tmp_path):
    out = tmp_path / "predictions.jsonl"
    likelihood.answer_nll_agent(engine, RECORDS, out, GenerationSettings(batch_size=4))
    rows = {r["id"]: r for r in read_jsonl(out)}
    result = likelihood.score_answer_nll(RECORDS, {}, rows)
    assert result["n"] == len(RECORDS)
    for rec in RECORDS:
        assert result["item_scores"]["answer_nll"][rec["id"]] == pytest.approx(reference_nll(engine, rec), abs=1e-4)
    check_item_scores(result, "test")  # the item scores average to the metric
    # a random 64-wide model over a ~49k vocabulary: about log(vocab) nats, far from 0
    assert 5 < result["metrics"]["answer_nll"] < 20


def test_answer_includes_end_of_turn_and_not_the_prompt(engine):
    prompt, answer = likelihood.split_conversation(engine.tokenizer, RECORDS[0])
    assert answer.startswith(RECORDS[0]["messages"][1]["content"])
    assert len(answer) > len(RECORDS[0]["messages"][1]["content"])  # the template's end-of-turn marker
    assert RECORDS[0]["messages"][0]["content"] in prompt and "answer 0" not in prompt


def test_choices_are_seeded_distinct_and_prefer_the_same_group():
    a = likelihood.choices(RECORDS, distractors=3, seed=1)
    assert a == likelihood.choices(RECORDS, distractors=3, seed=1)
    assert a != likelihood.choices(RECORDS, distractors=3, seed=2)
    for rec in RECORDS:
        gold, *others = a[rec["id"]]
        assert gold == rec["messages"][1]["content"] and gold not in others and len(set(others)) == 3
        same_group = {r["messages"][1]["content"] for r in RECORDS if r["meta"]["fact"][:2] == rec["meta"]["fact"][:2]}
        assert set(others) <= same_group  # 4 or 5 records a group: enough for 3 distractors


def test_too_few_answers_for_the_distractors_is_a_named_error():
    with pytest.raises(RecordError, match="k/test/0"):
        likelihood.choices(RECORDS[:2], distractors=3, seed=1)


def test_choice_accuracy_counts_the_gold_winning(engine, tmp_path):
    out = tmp_path / "predictions.jsonl"
    likelihood.choice_agent(engine, RECORDS, out, GenerationSettings(batch_size=8), distractors=2, seed=1)
    rows = {r["id"]: r for r in read_jsonl(out)}
    planted = {rid: {**row, "choice_logprobs": [-1.0, -2.0, -3.0] if i % 3 else [-3.0, -2.0, -1.0]}
               for i, (rid, row) in enumerate(rows.items())}
    result = likelihood.score_choices(RECORDS, {}, planted, distractors=2, seed=1)
    assert result["metrics"]["choice_accuracy"] == pytest.approx(100 * 6 / 9)
    assert result["chance"] == pytest.approx(100 / 3)
    check_item_scores(result, "test")
    assert all(len(r["choice_logprobs"]) == 3 and all(math.isfinite(x) for x in r["choice_logprobs"]) for r in rows.values())
    # the real rows: the winner is the choice with the highest mean log-probability per token
    real = likelihood.score_choices(RECORDS, {}, rows, distractors=2, seed=1)
    assert [p["correct"] for p in real["per_item"]] == [max(r["choice_logprobs"]) == r["choice_logprobs"][0]
                                                        for r in (rows[rec["id"]] for rec in RECORDS)]


def test_item_scores_that_do_not_average_to_the_metric_are_refused():
    with pytest.raises(RecordError, match="average"):
        check_item_scores({"metrics": {"x": 50.0}, "item_scores": {"x": {"a": 100.0, "b": 100.0}}}, "file.json")


SHARED_START = [{**record(i, f"question {i % 3}", f"answer {i}" + " more" * (i % 4)),
                 "messages": [{"role": "system", "content": "Tools: " + " ".join(f"api_{k}(q)" for k in range(15))},
                              {"role": "user", "content": f"question {i % 3}" + " please" * (i % 2)},
                              {"role": "assistant", "content": f"answer {i}" + " more" * (i % 4)}]}
                for i in range(8)]


def test_prompts_sharing_a_start_are_scored_on_shared_caches_and_match_the_reference(engine, monkeypatch):
    plans = []
    for name in ("_on_shared_prefixes", "_in_dense_batches"):
        real = getattr(likelihood, name)
        monkeypatch.setattr(likelihood, name, lambda *a, _real=real, _name=name: plans.append(_name) or _real(*a))
    rows = {}
    pairs = [likelihood.split_conversation(engine.tokenizer, rec) for rec in SHARED_START]
    scores = likelihood.continuation_logprobs(engine, pairs, batch_size=4)
    assert plans == ["_on_shared_prefixes"]  # long shared system prompt: the cheaper plan
    for rec, (total, n) in zip(SHARED_START, scores):
        rows[rec["id"]] = -total / n
        assert rows[rec["id"]] == pytest.approx(reference_nll(engine, rec), abs=1e-4)
    # short unrelated prompts stay in dense batches
    likelihood.continuation_logprobs(engine, [likelihood.split_conversation(engine.tokenizer, rec)
                                              for rec in RECORDS], batch_size=4)
    assert plans[-1] == "_in_dense_batches"
