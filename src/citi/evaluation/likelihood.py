"""Likelihood benchmarks: continuous retention signal that needs no generation.

``answer_nll``: the mean negative log-likelihood per token (nats) of each record's gold
answer (its target assistant turn, end-of-turn token included) given the chat prompt.
A method that forgets a task raises it; one that keeps the task leaves it where base
has it. It is measured on every item, so a 135M model has signal where its accuracy
sits at 0.

``choice_accuracy``: log-likelihood multiple choice. Each record's gold answer competes
with ``distractors`` answers of other records of the split (seeded, preferring records
of the same fact group, ``meta.fact`` up to its colon); the choice with the highest mean
log-probability per token wins. Chance is 1 / (distractors + 1).

Both run as a benchmark's agent (they write predictions.jsonl with the numbers in each
row) and a scorer that reads those rows, so they reuse the evaluation rules unchanged.
"""

from __future__ import annotations

import random
from pathlib import Path

from ..errors import RecordError
from ..generation.prefix import MIN_SHARED, PrefixStore, as_cache, lexicographic, shared_length
from ..io import write_jsonl
from ..records import target_index
from .registry import register

MAX_TOKENS = 1024  # prompt + answer; a longer prompt is cut from the left
# one model call costs about as much as this many more token positions (1 CPU thread: 160 ms for
# 1 token, 8 ms a token more; on a GPU batching matters more, and the plans tie on long prompts only)
CALL_COST = 24


def split_conversation(tokenizer, rec: dict, answer: str | None = None) -> tuple[str, str]:
    """(prompt text, answer text) of ``rec`` rendered by the chat template; ``answer`` replaces the gold."""
    cut = target_index(rec)
    if cut is None:
        raise RecordError(f"record {rec.get('id')!r}: no assistant answer to score")
    prompt_msgs = [{"role": m["role"], "content": m["content"]} for m in rec["messages"][:cut]]
    gold = rec["messages"][cut]["content"] if answer is None else answer
    prompt = tokenizer.apply_chat_template(prompt_msgs, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template([*prompt_msgs, {"role": "assistant", "content": gold}], tokenize=False)
    if not full.startswith(prompt):  # a template that rewrites earlier turns: score the answer text alone
        return prompt, gold
    return prompt, full[len(prompt):]


def continuation_logprobs(engine, pairs: list[tuple[str, str]], batch_size: int) -> list[tuple[float, int]]:
    """(sum of log-probabilities, token count) of each continuation given its prompt."""
    encoded = []
    for prompt, cont in pairs:
        p, c = engine.encode(prompt), engine.encode(cont)
        if not c:
            raise RecordError(f"empty answer after tokenisation (prompt ends {prompt[-60:]!r})")
        if not p:
            raise RecordError(f"empty prompt after tokenisation (answer starts {cont[:60]!r})")
        c = c[:MAX_TOKENS // 2]
        encoded.append((p[-(MAX_TOKENS - len(c)):], c))
    # prompts that repeat each other's starts (tool catalogues, a choice's four answers to one prompt)
    # can be cheaper one at a time on shared caches; else dense padded batches
    batches = engine.plan_dense([len(p) + len(c) for p, c in encoded], batch_size)
    if _shared_cost(encoded) < _dense_cost(encoded, batches):
        return _on_shared_prefixes(engine, encoded)
    return _in_dense_batches(engine, encoded, batches)


def _shared_cost(encoded: list[tuple[list[int], list[int]]]) -> int:
    """Token positions the shared-cache plan computes, each model call counted as CALL_COST more."""
    prompts = [p[:-1] for p, _ in encoded]
    order = lexicographic(prompts)
    cost, previous = 0, []
    for i in order:
        shared = shared_length(previous, prompts[i])
        new = len(prompts[i]) - (shared if shared >= MIN_SHARED or shared == len(prompts[i]) else 0)
        cost += new + (CALL_COST if new else 0) + 1 + len(encoded[i][1]) + CALL_COST
        previous = prompts[i]
    return cost


def _dense_cost(encoded: list[tuple[list[int], list[int]]], batches: list[list[int]]) -> int:
    return sum(len(b) * max(len(encoded[i][0]) + len(encoded[i][1]) for i in b) + CALL_COST for b in batches)


def _score(head, hidden, target) -> float:
    """Sum of log-probabilities of ``target`` [n] from the hidden states that predict it [n, d]."""
    import torch

    # the vocabulary projection only where scored (over a whole tool prompt it would cost more than the model)
    step = torch.log_softmax(head(hidden).float(), dim=-1)
    return float(step.gather(1, target[:, None]).sum())


def _in_dense_batches(engine, encoded: list[tuple[list[int], list[int]]],
                      batches: list[list[int]]) -> list[tuple[float, int]]:
    import torch

    out: list[tuple[float, int] | None] = [None] * len(encoded)
    head = engine.model.get_output_embeddings()
    for batch in batches:
        width = max(len(encoded[i][0]) + len(encoded[i][1]) for i in batch)
        ids = [encoded[i][0] + encoded[i][1] for i in batch]
        input_ids = torch.tensor([x + [engine.pad_id] * (width - len(x)) for x in ids], device=engine.device)
        mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids], device=engine.device)
        with torch.inference_mode():
            hidden = engine.model.get_decoder()(input_ids=input_ids, attention_mask=mask).last_hidden_state
            for row, i in enumerate(batch):
                start, n = len(encoded[i][0]), len(encoded[i][1])
                # the token at position t is predicted at t - 1
                out[i] = (_score(head, hidden[row, start - 1:start - 1 + n], input_ids[row, start:start + n]), n)
    return out


def _on_shared_prefixes(engine, encoded: list[tuple[list[int], list[int]]]) -> list[tuple[float, int]]:
    """Each pair alone: its prompt's cache but the last token from the store, then the last prompt token
    and the continuation (the last prompt token predicts the continuation's first)."""
    import torch

    decoder, head = engine.model.get_decoder(), engine.model.get_output_embeddings()
    store = PrefixStore(decoder, engine.device)
    out: list[tuple[float, int] | None] = [None] * len(encoded)
    with torch.inference_mode():
        for i in lexicographic([p for p, _ in encoded]):
            p, c = encoded[i]
            cache = as_cache(store.kv(p[:-1])) if len(p) > 1 else None
            hidden = decoder(input_ids=torch.tensor([p[-1:] + c], device=engine.device), cache=cache).last_hidden_state
            out[i] = (_score(head, hidden[0, :len(c)], torch.tensor(c, device=engine.device)), len(c))
    return out


def _write(out: str | Path, rows: list[dict]) -> None:
    write_jsonl(out, [{"prediction": "", **r} for r in rows])


def answer_nll_agent(engine, records, out, settings, **_) -> None:
    pairs = [split_conversation(engine.tokenizer, rec) for rec in records]
    scores = continuation_logprobs(engine, pairs, settings.batch_size)
    _write(out, [{"id": rec["id"], "logprob_sum": s, "answer_tokens": n} for rec, (s, n) in zip(records, scores)])


def _rows(records: list[dict], prediction_rows: dict, keys: tuple[str, ...]) -> list[dict]:
    rows = []
    for rec in records:
        row = prediction_rows.get(rec["id"], {})
        missing = [k for k in keys if k not in row]
        if missing:
            raise RecordError(f"predictions for {rec['id']!r}: no {', '.join(missing)} (written by a likelihood "
                              f"agent?); regenerate the predictions")
        rows.append(row)
    return rows


@register("answer_nll", agent=answer_nll_agent)
def score_answer_nll(records: list[dict], predictions: dict, prediction_rows: dict) -> dict:
    """``answer_nll``: mean over items of each gold answer's NLL per token (lower is better)."""
    rows = _rows(records, prediction_rows, ("logprob_sum", "answer_tokens"))
    per_item = [{"id": rec["id"], "answer_nll": -row["logprob_sum"] / row["answer_tokens"],
                 "answer_tokens": row["answer_tokens"]} for rec, row in zip(records, rows)]
    n = len(per_item)
    mean = sum(p["answer_nll"] for p in per_item) / n if n else float("nan")
    return {"metrics": {"answer_nll": mean}, "per_item": per_item, "n": n,
            "item_scores": {"answer_nll": {p["id"]: p["answer_nll"] for p in per_item}},
            "lower_is_better": ["answer_nll"]}


def _group(rec: dict) -> str:
    return str((rec.get("meta") or {}).get("fact", "")).split(":")[0]


def choices(records: list[dict], distractors: int, seed: int) -> dict[str, list[str]]:
    """Record id -> [gold, distractor, ...]: other records' gold answers, same group first, seeded."""
    golds = {rec["id"]: rec["messages"][target_index(rec)]["content"] for rec in records}
    out = {}
    for rec in records:
        rng = random.Random(f"{seed}:{rec['id']}")
        gold = golds[rec["id"]].strip()
        pool = sorted({golds[o["id"]] for o in records if golds[o["id"]].strip().lower() != gold.lower()
                       and _group(o) == _group(rec)})
        rest = sorted({golds[o["id"]] for o in records if golds[o["id"]].strip().lower() != gold.lower()} - set(pool))
        rng.shuffle(pool)
        rng.shuffle(rest)
        picked = (pool + rest)[:distractors]
        if len(picked) < distractors:
            raise RecordError(f"choice_accuracy: record {rec['id']!r} has only {len(picked)} distinct other answers "
                              f"in its split for {distractors} distractors")
        out[rec["id"]] = [golds[rec["id"]], *picked]
    return out


def choice_agent(engine, records, out, settings, distractors: int = 3, seed: int = 1, **_) -> None:
    options = choices(records, distractors, seed)
    pairs, owners = [], []
    for rec in records:
        for k, answer in enumerate(options[rec["id"]]):
            pairs.append(split_conversation(engine.tokenizer, rec, answer))
            owners.append((rec["id"], k))
    scores = continuation_logprobs(engine, pairs, settings.batch_size)
    per_record: dict[str, list[float]] = {rec["id"]: [] for rec in records}
    for (rid, _k), (s, n) in zip(owners, scores):
        per_record[rid].append(s / n)
    _write(out, [{"id": rid, "choice_logprobs": lp, "choices": options[rid]} for rid, lp in per_record.items()])


@register("choice_accuracy", agent=choice_agent)
def score_choices(records: list[dict], predictions: dict, prediction_rows: dict,
                  distractors: int = 3, seed: int = 1) -> dict:
    """``choice_accuracy``: percent of items whose gold answer (choice 0) has the highest mean log-probability."""
    rows = _rows(records, prediction_rows, ("choice_logprobs",))
    per_item = []
    for rec, row in zip(records, rows):
        lp = row["choice_logprobs"]
        if len(lp) != distractors + 1:
            raise RecordError(f"predictions for {rec['id']!r}: {len(lp)} choices scored, config says "
                              f"{distractors + 1}; regenerate the predictions")
        per_item.append({"id": rec["id"], "correct": lp[0] > max(lp[1:]), "chosen": max(range(len(lp)), key=lp.__getitem__)})
    n = len(per_item)
    return {"metrics": {"choice_accuracy": 100.0 * sum(p["correct"] for p in per_item) / n if n else 0.0},
            "per_item": per_item, "n": n, "chance": 100.0 / (distractors + 1),
            "item_scores": {"choice_accuracy": {p["id"]: 100.0 * p["correct"] for p in per_item}}}
