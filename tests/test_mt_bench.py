"""MT-Bench: rating parsing, x10 aggregation, judge prompts, two-turn generation, loopback judging."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citi.data import adapters
from citi.errors import ConfigError
from citi.evaluation import mt_bench as mb

EMBEDDED = Path(mb.__file__).with_name("mt_bench_data")


@pytest.fixture(scope="module")
def questions():
    return [{**r, "id": f"mt/test/{r['id']}"} for r in adapters.get("mt_bench").load(EMBEDDED, "test")]


@pytest.mark.parametrize("reply, rating", [
    ("Good answer. Rating: [[8]]", 8.0),
    ('The format is "[[rating]]", for example: "Rating: [[5]]". Mine: [[3]]', 3.0),  # echoed example, then the rating
    ("Rating: [[7.5]]", 7.5),
    ("Rating: [[ 9 / 10 ]]", 9.0),
    ("I'd give it [6].", 6.0),
    ("Rating: 4", 4.0),
    ("Overall 7/10.", 7.0),
    ("Rating: [[11]]", None),  # out of the 1-10 scale
    ("Rating: [[0]]", None),
    ("A fine answer, well structured.", None),
    ("", None),
    (None, None),  # the request failed
])
def test_parse_rating_handles_malformed_replies(reply, rating):
    assert mb.parse_rating(reply) == rating


def test_aggregate_reports_mean_times_ten_and_counts_malformed():
    judgments = [{"turn": 1, "category": "math", "rating": 8.0, "failed": False},
                 {"turn": 2, "category": "math", "rating": 5.0, "failed": False},
                 {"turn": 1, "category": "writing", "rating": 10.0, "failed": False},
                 {"turn": 2, "category": "writing", "rating": None, "failed": False},
                 {"turn": 1, "category": "stem", "rating": None, "failed": True}]
    out = mb.aggregate(judgments)
    assert out["metrics"]["mt_bench"] == pytest.approx(10 * (8 + 5 + 10) / 3)
    assert out["metrics"]["mt_bench_turn1"] == pytest.approx(90.0)
    assert out["metrics"]["mt_bench_turn2"] == pytest.approx(50.0)
    assert out["metrics"]["mt_bench_stem"] is None  # nothing rated: no number, not zero
    assert (out["malformed"], out["judge_failed"], out["n_rated"], out["n_judgments"]) == (1, 1, 3, 5)


def test_reference_categories_get_the_reference_templates(questions):
    prompts = mb.load_judge_prompts(EMBEDDED, "test")
    math = next(q for q in questions if q["meta"]["category"] == "math")
    writing = next(q for q in questions if q["meta"]["category"] == "writing")
    msgs, name = mb.judge_messages(prompts, math["meta"], ["first {answer}", "second"], 2)
    assert name == "single-math-v1-multi-turn"
    user = msgs[-1]["content"]
    assert math["meta"]["reference"][1] in user and "first {answer}" in user and "second" in user
    assert mb.judge_messages(prompts, writing["meta"], ["a"], 1)[1] == "single-v1"
    assert mb.judge_messages(prompts, math["meta"], ["a"], 1)[1] == "single-math-v1"


def test_real_judge_prompts_fill(shared_data, questions):
    prompts = mb.load_judge_prompts(shared_data / "mt_bench", "test")
    real = adapters.get("mt_bench").load(shared_data / "mt_bench", "test")
    for rec in real:
        for turn in (1, 2):
            msgs, _ = mb.judge_messages(prompts, rec["meta"], ["A1", "A2"], turn)
            assert "{" + "answer" not in msgs[-1]["content"] and "A1" in msgs[-1]["content"]


def test_score_counts_malformed_and_failed_and_traces_each_judgment(questions):
    replies = iter(["Rating: [[8]]", "no rating here", None] + ["[[6]]"] * 13)
    seen = []

    def judge(messages):
        seen.append(messages)
        return next(replies)

    rows = {q["id"]: {"id": q["id"], "prediction": "a1", "answers": ["a1", "a2"]} for q in questions}
    out = mb.score(questions, {k: v["prediction"] for k, v in rows.items()}, judge=judge,
                   prediction_rows=rows, judge_prompts=str(EMBEDDED))
    assert out["n"] == 8 and out["n_judgments"] == 16 == len(seen)
    assert out["malformed"] == 1 and out["judge_failed"] == 1
    assert out["metrics"]["mt_bench"] == pytest.approx(10 * (8 + 6 * 13) / 14)
    assert [j["turn"] for j in out["per_item"][:2]] == [1, 2]
    assert out["unreferenced"] == 0


def test_two_turn_answers_condition_turn_two_on_turn_one(questions, tiny_model_dir, tmp_path):
    import torch

    from citi.generation import Engine, GenerationSettings

    torch.manual_seed(0)
    engine = Engine.from_folder(tiny_model_dir, device="cpu")
    prompts = []
    generate = engine.generate

    def spy(batch, settings, progress=False):
        prompts.extend(batch)
        return generate(batch, settings)

    engine.generate = spy
    out = tmp_path / "predictions.jsonl"
    rows = mb.answer_two_turns(engine, questions[:3], out, GenerationSettings(max_new_tokens=4, batch_size=3))
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [q["id"] for q in questions[:3]]
    assert len(prompts) == 6
    for i, (q, row) in enumerate(zip(questions[:3], rows)):
        assert len(row["answers"]) == 2 and row["prediction"] == row["answers"][0]
        second = prompts[3 + i]
        assert q["meta"]["turns"][0] in second and row["answers"][0] in second and q["meta"]["turns"][1] in second
        assert q["meta"]["turns"][1] not in prompts[i]


@pytest.mark.slow
def test_scoring_through_the_loopback_judge(questions, tmp_path):
    from citi.evaluation.loopback import LoopbackServer

    script = tmp_path / "judge.json"
    # the server answers by the last user message: turn-1 templates show "[Answer]", turn-2 "[Conversation]"
    script.write_text(json.dumps({"rules": [{"match": "[Answer]", "reply": "Clear and correct. Rating: [[9]]"}],
                                  "default": "It is hard to say."}))
    rows = {q["id"]: {"id": q["id"], "prediction": "x", "answers": ["x", "y"]} for q in questions}
    evaluation = {"judge": {"base_url": "loopback", "model": "loopback", "max_retries": 1, "backoff": 0.1}}
    with LoopbackServer(script=script) as server:
        out = mb.score(questions, {}, judge_url=server.base_url, evaluation=evaluation,
                       prediction_rows=rows, judge_prompts=str(EMBEDDED))
    assert out["metrics"]["mt_bench_turn1"] == 90.0 and out["metrics"]["mt_bench"] == 90.0
    assert out["malformed"] == 8 and out["judge_failed"] == 0  # every turn-2 reply has no rating


def test_fastchat_temperatures_sample_each_question_seeded_and_keep_zero_greedy(questions, tiny_model_dir, tmp_path):
    import torch

    from citi.generation import Engine, GenerationSettings

    engine = Engine.from_folder(tiny_model_dir, device="cpu")
    batched = []
    generate = engine.generate

    def spy(batch, settings, progress=False):
        batched.extend(batch)
        return generate(batch, settings)

    engine.generate = spy
    settings = GenerationSettings(max_new_tokens=6, batch_size=8)

    def run(name, **options):
        return {r["id"]: r for r in mb.answer_two_turns(engine, questions, tmp_path / name, settings, **options)}

    a = run("a.jsonl", temperatures=mb.FASTCHAT_TEMPERATURES, seed=0)
    category = {q["id"]: q["meta"]["category"] for q in questions}
    assert {i: r["temperature"] for i, r in a.items()} == {i: mb.FASTCHAT_TEMPERATURES[c] for i, c in category.items()}
    greedy_ids = {i for i, c in category.items() if mb.FASTCHAT_TEMPERATURES[c] == 0}
    assert len(greedy_ids) == 4 and len(batched) == 2 * 4  # only temperature-0 questions go through the batches
    torch.manual_seed(123)  # the generator's state before the call does not matter: each question is seeded
    assert run("b.jsonl", temperatures=mb.FASTCHAT_TEMPERATURES, seed=0) == a
    other = run("c.jsonl", temperatures=mb.FASTCHAT_TEMPERATURES, seed=1)
    assert all(other[i] == a[i] for i in greedy_ids)
    assert any(other[i]["answers"] != a[i]["answers"] for i in set(a) - greedy_ids)
    greedy = run("g.jsonl")  # no temperatures: every question greedy, as before
    assert all(r["temperature"] == 0.0 and len(r["answers"]) == 2 for r in greedy.values())
    assert all(greedy[i]["answers"] == a[i]["answers"] for i in greedy_ids)
    assert any(greedy[i]["answers"] != a[i]["answers"] for i in set(a) - greedy_ids)
    # a category missing from the table gets default_temperature
    assert mb.temperature_of({"meta": {"category": "poetry"}}, {"writing": 0.7}, 0.3) == 0.3
    with pytest.raises(ConfigError, match="temperatures"):
        mb.answer_two_turns(engine, questions, tmp_path / "x.jsonl", settings, temperatures={"writing": "hot"})


def test_sampling_options_reach_the_scorer_and_are_recorded(questions):
    from citi.evaluation import registry

    rows = {q["id"]: {"id": q["id"], "prediction": "a1", "answers": ["a1", "a2"]} for q in questions}
    options = {"temperatures": mb.FASTCHAT_TEMPERATURES, "default_temperature": 0.7, "seed": 0}
    out = registry.call(mb.score, questions, {}, context={"prediction_rows": rows, "judge": lambda m: "[[7]]"},
                        options={**options, "judge_prompts": str(EMBEDDED)}, owner="test")
    assert out["sampling"] == options and out["metrics"]["mt_bench"] == 70.0
