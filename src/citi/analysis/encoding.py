"""Chat records as token ids: prompt (everything before the last assistant turn) + answer.

The prompt is the chat template rendered up to the last assistant turn with the
generation prompt; the answer is the rest of the fully rendered conversation
(the turn's text and its end-of-turn tokens). The two parts are tokenized
separately so the boundary is exact.
"""

from __future__ import annotations

from ..errors import RecordError
from ..records import target_index


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


def encode(tok, rec: dict, max_length: int) -> tuple[list[int], int]:
    """(input ids, number of prompt tokens), at most ``max_length`` tokens.

    Too long: the answer is kept (cut at its end only if it alone is too long) and
    prompt tokens are dropped from the left, so the loss target survives.
    """
    prompt_text, answer_text = render(tok, rec)
    prompt, answer = ids(tok, prompt_text), ids(tok, answer_text)
    if not prompt or not answer:
        raise RecordError(f"record '{rec.get('id')}': empty prompt or answer after tokenization")
    answer = answer[: max_length - 1]
    prompt = prompt[-(max_length - len(answer)):]
    return prompt + answer, len(prompt)
