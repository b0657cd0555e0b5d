"""MT-Bench: two-turn answers, single-answer grading 1-10 by a judge model, reported x10.

Generation (the registered agent): turn 1 answers the first question; turn 2 is prompted
with the first question, the model's own turn-1 answer and the second question. Greedy by
default; with ``temperatures`` (per category, as FastChat's ``temperature_config``) a question
whose temperature is above 0 is sampled as FastChat's gen_model_answer samples it: one question
at a time, ``torch.manual_seed(seed)`` before its first turn, the model's own generation config
(top_p, top_k) with the temperature set. A temperature of 0 stays greedy (FastChat: below 1e-4).

Judging follows the MT-Bench protocol (Zheng et al. 2023) with the templates read from the
data's judge_prompts.jsonl: ``single-v1`` for turn 1, ``single-v1-multi-turn`` for turn 2,
and the ``single-math-v1`` variants, which show the reference answers, for the categories
that have references (math, reasoning, coding). The judge ends with "[[rating]]"; a reply
without a rating in 1..10 is counted as malformed and left out of the mean, as MT-Bench's
own averaging leaves out unparsed (-1) scores.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from ..errors import ConfigError, RecordError
from ..io import write_jsonl
from .registry import register

log = logging.getLogger(__name__)

REFERENCE_CATEGORIES = ("math", "reasoning", "coding")
# FastChat's fastchat/llm_judge/common.py temperature_config; other categories get 0.7
FASTCHAT_TEMPERATURES = {"writing": 0.7, "roleplay": 0.7, "extraction": 0.0, "math": 0.0, "coding": 0.0,
                         "reasoning": 0.0, "stem": 0.1, "humanities": 0.1}
GREEDY_BELOW = 1e-4  # FastChat: do_sample only at temperature >= 1e-4
TEMPLATES = {(False, 1): "single-v1", (True, 1): "single-math-v1",
             (False, 2): "single-v1-multi-turn", (True, 2): "single-math-v1-multi-turn"}
_NUMBER = r"(\d+(?:\.\d+)?)"
# strictest first: the protocol's [[n]], then [n], then "Rating: n" / "n/10" written out
RATING_PATTERNS = (re.compile(rf"\[\[\s*{_NUMBER}\s*(?:/\s*10\s*)?\]\]"),
                   re.compile(rf"\[\s*{_NUMBER}\s*(?:/\s*10\s*)?\]"),
                   re.compile(rf"rating\W{{0,4}}{_NUMBER}(?!\.?\d)", re.I),
                   re.compile(rf"\b{_NUMBER}\s*/\s*10\b"))
_FIELD = re.compile(r"\{(\w+)\}")


def parse_rating(text: str | None) -> float | None:
    """The judge's 1-10 rating, or None (malformed).

    The last match of the strictest pattern that matches wins: judges often quote the
    format's example ("Rating: [[5]]") before giving their own rating at the end.
    """
    if not text:
        return None
    for pattern in RATING_PATTERNS:
        hits = pattern.findall(text)
        if hits:
            value = float(hits[-1])
            return value if 1 <= value <= 10 else None
    return None


def judge_prompts(records: list[dict]) -> dict[str, dict]:
    """Template name -> {system, template}, from the adapter's ``judge_prompts`` records."""
    out = {}
    for rec in records:
        roles = {m["role"]: m["content"] for m in rec["messages"]}
        name = rec.get("meta", {}).get("name") or rec["id"].rsplit("/", 1)[-1]
        if "user" not in roles:
            raise RecordError(f"judge prompt {name!r}: no prompt template (user message)")
        out[name] = {"system": roles.get("system", ""), "template": roles["user"]}
    missing = sorted(set(TEMPLATES.values()) - set(out))
    if missing:
        raise RecordError(f"judge prompts: missing template(s) {', '.join(missing)}; have {', '.join(sorted(out))}")
    return out


def fill(template: str, fields: dict[str, str]) -> str:
    """Replace {name} placeholders in one pass (answers may contain braces; they are not re-read)."""
    def sub(m):
        if m.group(1) not in fields:
            raise RecordError(f"judge template needs '{{{m.group(1)}}}', which MT-Bench does not provide")
        return fields[m.group(1)]
    return _FIELD.sub(sub, template)


def judge_messages(prompts: dict, meta: dict, answers: list[str], turn: int,
                   reference_categories=REFERENCE_CATEGORIES) -> tuple[list[dict], str]:
    """The judge conversation for one question's ``turn`` (1 or 2), and the template's name."""
    questions, reference = meta["turns"], meta.get("reference")
    with_ref = meta.get("category") in reference_categories and bool(reference)
    name = TEMPLATES[(with_ref, turn)]
    fields = {"question": questions[0], "answer": answers[0], "question_1": questions[0],
              "answer_1": answers[0]}
    if turn == 2:
        fields.update(question_2=questions[1], answer_2=answers[1])
    if with_ref:
        fields.update(ref_answer_1=reference[0], ref_answer_2=reference[1] if len(reference) > 1 else "")
    prompt = prompts[name]
    messages = [{"role": "user", "content": fill(prompt["template"], fields)}]
    if prompt["system"]:
        messages.insert(0, {"role": "system", "content": prompt["system"]})
    return messages, name


def aggregate(judgments: list[dict]) -> dict:
    """Mean rating x10 over all rated turns (and per turn, per category); malformed are counted, not scored."""
    def mean10(rows):
        values = [r["rating"] for r in rows if r["rating"] is not None]
        return round(10 * sum(values) / len(values), 4) if values else None  # JSON has no NaN

    metrics = {"mt_bench": mean10(judgments)}
    for turn in sorted({j["turn"] for j in judgments}):
        metrics[f"mt_bench_turn{turn}"] = mean10([j for j in judgments if j["turn"] == turn])
    for category in sorted({j["category"] for j in judgments}):
        metrics[f"mt_bench_{category}"] = mean10([j for j in judgments if j["category"] == category])
    return {"metrics": metrics,
            "n_judgments": len(judgments),
            "n_rated": sum(j["rating"] is not None for j in judgments),
            "malformed": sum(j["rating"] is None and not j["failed"] for j in judgments),
            "judge_failed": sum(j["failed"] for j in judgments)}


def temperature_of(record: dict, temperatures: dict | None, default_temperature: float) -> float:
    """The sampling temperature of ``record``'s category (0 = greedy); without a table, greedy."""
    if temperatures is None:
        return 0.0
    return float(temperatures.get(record.get("meta", {}).get("category"), default_temperature))


def check_sampling(temperatures: dict | None, default_temperature: float, seed: int) -> None:
    """The generation options, or a ConfigError naming the bad one."""
    def temperature(v) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0

    where = "evaluation.benchmarks.<mt_bench>.options"
    if temperatures is not None and not (isinstance(temperatures, dict) and all(
            isinstance(k, str) and temperature(v) for k, v in temperatures.items())):
        raise ConfigError(f"{where}.temperatures: expected category -> temperature >= 0, got {temperatures!r}")
    if not temperature(default_temperature):
        raise ConfigError(f"{where}.default_temperature: expected a number >= 0, got {default_temperature!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"{where}.seed: expected an integer, got {seed!r}")


def sample(engine, prompt: str, settings, temperature: float) -> str:
    """One sampled continuation of ``prompt`` (batch of one), from the torch generator's current state."""
    import copy

    import torch

    from ..generation.engine import truncate_at_stop

    ids = engine.encode(prompt)
    config = copy.deepcopy(engine.model.generation_config)  # FastChat's model.generate keeps it (top_p, top_k)
    config.update(do_sample=True, temperature=temperature, max_new_tokens=settings.max_new_tokens, num_beams=1,
                  eos_token_id=sorted(engine.eos_ids), pad_token_id=engine.pad_id, use_cache=True)
    input_ids = torch.tensor([ids], device=engine.device)
    with torch.inference_mode():
        out = engine.model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                    generation_config=config)
    new = out[0, len(ids):].tolist()
    end = next((i for i, t in enumerate(new) if t in engine.eos_ids), len(new))
    return truncate_at_stop(engine.tokenizer.decode(new[:end], skip_special_tokens=True), settings.stop)[0]


def answer_two_turns(engine, records: list[dict], out, settings, temperatures: dict | None = None,
                     default_temperature: float = 0.7, seed: int = 0, **context) -> list[dict]:
    """Agent: both turns' answers per record, turn 2 conditioned on the model's turn-1 answer.

    ``temperatures`` (category -> temperature, e.g. FASTCHAT_TEMPERATURES; a category not listed gets
    ``default_temperature``) samples the categories above 0, each question seeded with ``seed``; None
    (the default) decodes every question greedily, in batches.
    """
    from ..generation import render_prompt

    check_sampling(temperatures, default_temperature, seed)
    tok = engine.tokenizer
    temps = [temperature_of(rec, temperatures, default_temperature) for rec in records]
    first = [[{"role": "user", "content": rec["meta"]["turns"][0]}] for rec in records]

    def second(i: int, answer1: str) -> list[dict]:
        return first[i] + [{"role": "assistant", "content": answer1},
                           {"role": "user", "content": records[i]["meta"]["turns"][1]}]

    answers: dict[int, list[str]] = {}
    greedy = [i for i, t in enumerate(temps) if t < GREEDY_BELOW]
    if greedy:  # greedy output depends on the prompt alone: batch it
        answers1 = [o.text for o in engine.generate([render_prompt(tok, first[i]) for i in greedy], settings)]
        answers.update({i: [a] for i, a in zip(greedy, answers1)})
        two = [i for i in greedy if len(records[i]["meta"]["turns"]) > 1]
        prompts2 = [render_prompt(tok, second(i, answers[i][0])) for i in two]
        for i, o in zip(two, engine.generate(prompts2, settings) if two else []):
            answers[i].append(o.text)
    sampled = [i for i, t in enumerate(temps) if t >= GREEDY_BELOW]
    if sampled:
        import torch

        for i in sampled:  # FastChat: torch.manual_seed(choice) before each question's turns
            torch.manual_seed(seed)
            answers[i] = [sample(engine, render_prompt(tok, first[i]), settings, temps[i])]
            if len(records[i]["meta"]["turns"]) > 1:
                answers[i].append(sample(engine, render_prompt(tok, second(i, answers[i][0])), settings, temps[i]))
    rows = [{"id": rec["id"], "prediction": answers[i][0], "answers": answers[i], "temperature": temps[i]}
            for i, rec in enumerate(records)]
    write_jsonl(out, rows)
    return rows


def load_judge_prompts(source, owner: str) -> dict:
    """Templates from a source string (file, folder, URL, pypi:...) or an already local path."""
    from ..data import adapters
    from ..data.sources import resolve

    path = source if isinstance(source, Path) else resolve(str(source), owner=owner).path
    return judge_prompts(adapters.get("mt_bench").load(Path(path), "judge_prompts"))


def judge_client(judge=None, judge_url: str | None = None, evaluation: dict | None = None):
    """A ``complete(messages) -> str | None`` callable: the given client, or one for evaluation.judge."""
    if judge is not None:
        return judge.complete if hasattr(judge, "complete") else judge
    if judge_url is None or evaluation is None:
        raise ConfigError("mt_bench needs a judge endpoint (evaluation.judge); none was started for scoring")
    from .judge import ChatClient, Endpoint

    return ChatClient(Endpoint.from_config(evaluation["judge"], "evaluation.judge", base_url=judge_url)).complete


@register("mt_bench", agent=answer_two_turns)
def score(records: list[dict], predictions: dict, judge=None, judge_url: str | None = None,
          evaluation: dict | None = None, data_root=None, prediction_rows: dict | None = None,
          judge_prompts: str | None = None, reference_categories: list[str] = list(REFERENCE_CATEGORIES),
          temperatures: dict | None = None, default_temperature: float = 0.7, seed: int = 0) -> dict:
    """Judge every turn of every record.

    ``judge_prompts``: a source of judge_prompts.jsonl; by default it is found beside the
    questions (``data_root``). References travel in the records (the adapter reads them).
    ``temperatures``, ``default_temperature`` and ``seed`` are the agent's (generation) options:
    they are only recorded here, as ``sampling``.
    """
    source = judge_prompts or data_root
    if source is None:
        raise ConfigError("mt_bench: option 'judge_prompts' (a source of judge_prompts.jsonl) is required")
    prompts = load_judge_prompts(source, owner="evaluation.benchmarks.<mt_bench>.options.judge_prompts")
    complete = judge_client(judge, judge_url, evaluation)
    rows = prediction_rows or {}
    judgments, unreferenced = [], 0
    for rec in records:
        meta = rec["meta"]
        unreferenced += meta.get("category") in reference_categories and not meta.get("reference")
        answers = rows.get(rec["id"], {}).get("answers") or [predictions.get(rec["id"], "")]
        for turn in range(1, min(len(meta["turns"]), len(answers)) + 1):
            messages, template = judge_messages(prompts, meta, answers, turn, tuple(reference_categories))
            reply = complete(messages)
            judgments.append({"id": rec["id"], "question_id": meta.get("question_id"), "category": meta.get("category"),
                              "turn": turn, "template": template, "rating": parse_rating(reply),
                              "failed": reply is None, "judge_reply": reply})
    summary = aggregate(judgments)
    if summary["malformed"] or summary["judge_failed"]:
        log.warning("mt_bench: %d malformed and %d failed judgments of %d", summary["malformed"],
                    summary["judge_failed"], summary["n_judgments"])
    if unreferenced:
        log.warning("mt_bench: %d question(s) of %s have no reference answer; judged without one",
                    unreferenced, ", ".join(reference_categories))
    sampling = ({"temperatures": temperatures, "default_temperature": default_temperature, "seed": seed}
                if temperatures is not None else {"temperatures": None})  # None: greedy throughout
    return {**summary, "unreferenced": unreferenced, "sampling": sampling, "per_item": judgments, "n": len(records)}


score.needs_judge = True  # the runner starts evaluation.judge (loopback or remote) for scoring
