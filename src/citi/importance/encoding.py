"""Chat records as token ids: context + answer tokens, and which tokens the loss is on.

The prompt is the chat template rendered up to the last assistant turn with the
generation prompt; the answer is the rest of the fully rendered conversation
(the turn's text and its end-of-turn tokens). The two parts are tokenized
separately so the boundary is exact. A record with ``train_on: all_assistant_turns``
has every assistant turn as an answer (``records.target_indices``, as the training
collator), each tokenized apart from the context around it (``encode_targets``).
"""

from __future__ import annotations

from ..errors import RecordError
from ..records import chat_segments, target_index, target_indices


def render(tok, rec: dict) -> tuple[str, str]:
    """(prompt text, answer text) of a record; the answer is the last assistant turn."""
    ti = target_index(rec)
    if ti is None:
        raise RecordError(f"record '{rec.get('id')}': no assistant turn")
    msgs = [{"role": m["role"], "content": m["content"]} for m in rec["messages"][: ti + 1]]
    prompt = tok.apply_chat_template(msgs[:ti], tokenize=False, add_generation_prompt=True)
    full = tok.apply_chat_template(msgs, tokenize=False)
    if not full.startswith(prompt):
        raise RecordError(f"record '{rec.get('id')}': the chat template does not render the conversation "
                          f"as prompt + answer (the prompt is not a prefix); set the model's chat_template")
    return prompt, full[len(prompt):]


def ids(tok, text: str) -> list[int]:
    return tok(text, add_special_tokens=False)["input_ids"]


def encode_targets(tok, rec: dict, max_length: int) -> tuple[list[int], list[bool]]:
    """(input ids, per-token target flags), at most ``max_length`` tokens: the flags mark the tokens
    of the record's target turns (its last assistant turn, or every one with ``train_on:
    all_assistant_turns``), the tokens the loss predicts.

    Too long: the last answer is kept (cut at its end only if it alone is too long) and tokens
    before it are dropped from the left, so the final target survives; the first token kept is
    never a target (nothing predicts it).
    """
    targets = target_indices(rec)
    if not targets:
        raise RecordError(f"record '{rec.get('id')}': no assistant turn")
    msgs = [{"role": m["role"], "content": m["content"]} for m in rec["messages"]]
    pairs = [(ids(tok, context), ids(tok, answer))
             for context, answer in chat_segments(tok, msgs, targets, f"record '{rec.get('id')}'")]
    if not pairs[0][0] or not pairs[-1][1]:
        raise RecordError(f"record '{rec.get('id')}': empty prompt or answer after tokenization")
    before, flags = [], []
    for context, answer in pairs[:-1]:
        before += context + answer
        flags += [False] * len(context) + [True] * len(answer)
    before, flags = before + pairs[-1][0], flags + [False] * len(pairs[-1][0])
    answer = pairs[-1][1][: max_length - 1]
    keep = max_length - len(answer)
    flags = flags[-keep:] + [True] * len(answer)
    flags[0] = False
    return before[-keep:] + answer, flags


def encode(tok, rec: dict, max_length: int) -> tuple[list[int], int]:
    """(input ids, number of prompt tokens) of a record with one target turn, at most ``max_length``
    tokens (``encode_targets``: the answer is kept, prompt tokens dropped from the left)."""
    if len(target_indices(rec)) > 1:
        raise RecordError(f"record '{rec.get('id')}': several target turns; use encode_targets")
    token_ids, flags = encode_targets(tok, rec, max_length)
    return token_ids, flags.index(True)
