"""PKT (prioritised key tokens, TL-Training): up-weight the tokens that choose the tool.

Key tokens are the tokens of the gold tool name that decide between the available tools:
the one holding the name's first character, and, for every other available tool sharing
a prefix with the gold name, the one holding the first character where the two differ
(getPapersByKeywords vs getPaperDetails: the token holding the 's' after "getPaper"). When
the gold name is a prefix of another tool's, the character after the name (e.g. "(")
decides, so its token is key. Tokens are found through the tokenizer's offset mapping, so
this holds for any fast tokenizer, whatever its token strings look like. The paper works
on token prefixes of SentencePiece strings; a character prefix picks the same token
whenever the two names tokenise alike up to where they differ.

Weights, per sample: key tokens get clip(|non-key| / |key|, 1, w_max), all other target
tokens 1 (the paper also leaves out the tokens closing each argument from the count;
those depend on its tokenizer's strings, so every non-key target token counts here). The
loss is each sample's weighted CE divided by its weights' sum, then the mean over samples,
so a batch of 8 gives the mean of the 8 single-sample losses. A sample with no tool call
(a reply, a general task: ``toolcalls.targets.target_call``) has no key tokens: its loss is its
plain token-mean CE.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...errors import ConfigError
from ...records import target_index
from ...toolcalls.targets import name_span, target_call

IGNORE = -100


def common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def decisive_offsets(gold: str, tools) -> list[int]:
    """Offsets (from the name's start) of the characters that decide ``gold`` among ``tools``."""
    offsets = {0}
    for other in tools:
        if other != gold:
            shared = common_prefix(gold, other)
            if shared > 0:
                offsets.add(shared)  # == len(gold) when gold is a prefix of ``other``
    return sorted(offsets)


def key_token_indices(offsets: list[tuple[int, int]], chars: list[int]) -> list[int]:
    """Indices of the tokens whose character span covers any of ``chars`` (absolute positions)."""
    return [i for i, (start, end) in enumerate(offsets) if end > start and any(start <= c < end for c in chars)]


def clip_weight(n_key: int, n_other: int, w_max: float) -> float:
    return min(max(n_other / n_key, 1.0), w_max) if n_key else 1.0


def answer_weights(rec: dict, answer_text: str, answer_ids: list[int], tokenizer, w_max: float) -> list[float]:
    """One weight per token of ``answer_ids`` (the tokenised ``answer_text``, maybe truncated)."""
    weights = [1.0] * len(answer_ids)
    found = target_call(rec)
    if found is None:
        return weights
    gold, tools = found
    content = rec["messages"][target_index(rec)]["content"].strip()  # templates may trim the turn's text
    at = answer_text.find(content) if content else -1
    span = name_span(content, gold["api_name"]) if at >= 0 else None
    if span is None:
        return weights
    chars = [at + span[0] + o for o in decisive_offsets(gold["api_name"], tools)]
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError("pkt: key tokens are found through the offset mapping, which needs a fast tokenizer "
                          f"({type(tokenizer).__name__} is not one)")
    enc = tokenizer(answer_text, add_special_tokens=False, return_offsets_mapping=True)
    if enc["input_ids"][: len(answer_ids)] != list(answer_ids):
        raise ConfigError("pkt: the tokenizer gives different ids with offsets than without; cannot place key tokens")
    keys = [i for i in key_token_indices(enc["offset_mapping"], chars) if i < len(answer_ids)]
    w = clip_weight(len(keys), len(answer_ids) - len(keys), w_max)
    for i in keys:
        weights[i] = w
    return weights


def weighted_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean over samples of sum(w * CE) / sum(w) over each sample's target tokens.

    ``weights`` are aligned with ``labels`` (the weight of predicting labels[t]); logits at t
    predict the token at t+1, as in every causal LM.
    """
    logits, labels, weights = logits[:, :-1], labels[:, 1:], weights[:, 1:].to(torch.float32)
    ce = F.cross_entropy(logits.transpose(1, 2).float(), labels, ignore_index=IGNORE, reduction="none")
    w = weights * (labels != IGNORE)
    total = w.sum(dim=1)
    has = total > 0
    if not bool(has.any()):
        return logits.sum() * 0.0  # nothing to learn in this batch, but keep the graph
    return ((ce * w).sum(dim=1)[has] / total[has]).mean()


def pkt_settings(method_spec: dict, stage_spec: dict) -> dict | None:
    """The stage's PKT settings: its own ``pkt`` (null switches it off), else the method's."""
    return stage_spec["pkt"] if "pkt" in stage_spec else method_spec.get("pkt")
