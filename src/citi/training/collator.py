"""Records -> token ids with loss only on the target assistant turns, and a padding collator.

A record is rendered with the tokenizer's chat template up to and including its
last target turn (``records.target_indices``: the last assistant turn, or every one
when the record has ``train_on: all_assistant_turns``); turns after it are dropped.
Labels are -100 everywhere except on the target turns' tokens (each one's end-of-turn
marker included, so the model learns to stop); system, user and tool turns, and each
assistant turn's header, are context.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import RecordError
from ..records import chat_segments, target_indices

IGNORE = -100


def encode_record(rec: dict, tokenizer, cutoff_len: int, where: str = "record", pkt: dict | None = None) -> dict:
    """input_ids, labels and task_type of one record, at most ``cutoff_len`` tokens; with ``pkt``
    settings also per-token loss weights (``weights``, aligned with labels; see methods.tl_training.pkt).

    Each target turn and the context before it form a (source, answer) pair; the pairs are cut in
    order to the budget left, as LLaMA-Factory cuts a multi-turn example (one pair: ``truncate``)."""
    targets = target_indices(rec)
    if not targets:
        raise RecordError(f"{where} ({rec.get('id')}): no assistant turn to train on")
    pairs = chat_segments(tokenizer, rec["messages"], targets, f"{where} ({rec['id']})")
    ids, labels, weights, left = [], [], [], cutoff_len
    for turn, (source_text, answer_text) in zip(targets, pairs):
        if left <= 0:
            break
        # Tokenise the parts apart: the boundaries are then exact whatever the tokenizer merges.
        source = tokenizer(source_text, add_special_tokens=False)["input_ids"]
        answer = tokenizer(answer_text, add_special_tokens=False)["input_ids"]
        source, answer = truncate(source, answer, left)
        left -= len(source) + len(answer)
        ids += source + answer
        labels += [IGNORE] * len(source) + answer
        if pkt is not None:
            from ..methods.tl_training.pkt import answer_weights

            # the record as it stands at this turn: its target (and PKT's gold call) is this turn
            at_turn = {**rec, "messages": rec["messages"][: turn + 1]}
            weights += [0.0] * len(source) + answer_weights(at_turn, answer_text, answer, tokenizer, pkt["w_max"])
    sample = {"input_ids": ids, "labels": labels, "task_type": int(rec["task_type"])}
    if pkt is not None:
        sample["weights"] = weights
    return sample


def truncate(source: list[int], answer: list[int], cutoff_len: int) -> tuple[list[int], list[int]]:
    """Cut an over-long sample as LLaMA-Factory does: the answer keeps at least half the budget
    (or all it needs), the prompt gets the rest; each keeps its beginning."""
    if len(source) + len(answer) <= cutoff_len:
        return source, answer
    if len(answer) <= cutoff_len // 2:
        keep_answer = len(answer)
    elif len(source) <= cutoff_len // 2:
        keep_answer = cutoff_len - len(source)
    else:
        keep_answer = cutoff_len // 2
    keep_answer = min(keep_answer, cutoff_len)
    return source[: cutoff_len - keep_answer], answer[:keep_answer]


def encode_records(records: list[dict], tokenizer, cutoff_len: int, where: str = "records",
                   pkt: dict | None = None) -> list[dict]:
    return [encode_record(r, tokenizer, cutoff_len, f"{where}:{i + 1}", pkt) for i, r in enumerate(records)]


def pad_id(tokenizer) -> int:
    """The tokenizer's pad id, else its eos id (padding is masked out of attention and loss anyway)."""
    pid = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pid is None:
        raise RecordError("tokenizer has neither a pad nor an eos token; cannot pad batches")
    return pid


@dataclass
class Collator:
    """Right-pads a list of encoded samples into tensors (input_ids, attention_mask, labels, task_type,
    and the PKT ``weights`` when the samples carry them; padding weighs 0)."""

    pad_token_id: int

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        width = max(len(f["input_ids"]) for f in features)
        ids, mask, labels = [], [], []
        for f in features:
            gap = width - len(f["input_ids"])
            ids.append(list(f["input_ids"]) + [self.pad_token_id] * gap)
            mask.append([1] * len(f["input_ids"]) + [0] * gap)
            labels.append(list(f["labels"]) + [IGNORE] * gap)
        batch = {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask),
                 "labels": torch.tensor(labels), "task_type": torch.tensor([int(f["task_type"]) for f in features])}
        if "weights" in features[0]:
            batch["weights"] = torch.tensor([list(f["weights"]) + [0.0] * (width - len(f["weights"]))
                                             for f in features], dtype=torch.float32)
        return batch
