"""First-order Taylor importance of each component (CITI §1).

For one example, ``T_c = Σ_t |⟨∂L/∂y_t, y_t⟩|`` over all its token positions,
where ``y_t`` is the component's output and ``L`` the mean cross-entropy over
the answer tokens (those of every target turn, ``encoding.encode_targets``: the turns the
training collator puts the loss on). A batch runs one forward and one backward on the SUM of the
per-example losses: examples never mix, so each example's gradients (and its
per-position absolute values) are exactly those of a batch-1 run; padding
positions are masked out. Model weights get no gradients, only activations.
"""

from __future__ import annotations

import functools

import torch

from .components import list_components
from .encoding import encode_targets
from .forward import answer_losses


def target_flags(ids: list[int], targets) -> list[bool]:
    """Per-token target flags of an encoded record: ``targets`` is its flags (``encode_targets``)
    or its number of prompt tokens (``encode``: every token after them is a target)."""
    if isinstance(targets, int):
        return [False] * targets + [True] * (len(ids) - targets)
    return list(targets)


def pad_batch(encoded: list[tuple[list[int], list[bool] | int]], pad_id: int, device) -> dict:
    """Right-padded ids, attention mask, and the mask of positions that predict a target token."""
    width = max(len(ids) for ids, _ in encoded)
    input_ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(encoded), width), dtype=torch.long)
    predicts = torch.zeros((len(encoded), width), dtype=torch.bool)
    for b, (ids, targets) in enumerate(encoded):
        input_ids[b, : len(ids)] = torch.tensor(ids)
        attention[b, : len(ids)] = 1
        predicts[b, : len(ids) - 1] = torch.tensor(target_flags(ids, targets)[1:], dtype=torch.bool)  # t predicts t+1
    return {"input_ids": input_ids.to(device), "attention_mask": attention.to(device), "predicts": predicts.to(device)}


class TaylorScorer:
    """Hooks every component; ``score(batch)`` returns per-example scores [batch, components].

    ``signed``: -Σ_t ⟨∂L/∂y_t, y_t⟩ instead, the first-order estimate of the loss increase when
    the output is zeroed (``integrated`` with one step)."""

    def __init__(self, model, signed: bool = False):
        self.model = model
        self.signed = signed
        self.components = list_components(model)
        modules = dict(model.named_modules())
        for p in model.parameters():
            p.requires_grad_(False)
        self._scores = None
        self._mask = None
        self._outputs = None  # this batch's component outputs, in forward order; None outside ``score``
        self._handles = [modules[name].register_forward_hook(self._on_forward(i))
                         for i, (_, _, name) in enumerate(self.components)]

    def _on_forward(self, index: int):
        def hook(module, inputs, output):
            if self._outputs is not None and output.requires_grad:  # a tensor hook sees ∂L/∂y for this very output
                # The tensor hook finds y in ``self._outputs`` by position and never captures it: a hook holding
                # its own tensor (y -> grad_fn -> hook -> y) is a cycle through autograd that no garbage
                # collection frees, so every batch's activations stayed alive to the end of the run.
                self._outputs.append(output)
                output.register_hook(functools.partial(self._accumulate, index, len(self._outputs) - 1))
        return hook

    def _accumulate(self, index: int, position: int, grad) -> None:
        output, self._outputs[position] = self._outputs[position], None  # not needed after this backward
        per_position = torch.linalg.vecdot(grad, output)  # [batch, positions]
        per_position = -per_position if self.signed else per_position.abs()
        self._scores[:, index] += (per_position.double() * self._mask).sum(dim=1)

    def score(self, batch: dict) -> torch.Tensor:
        ids, attention = batch["input_ids"], batch["attention_mask"]
        self._scores = torch.zeros((ids.shape[0], len(self.components)), dtype=torch.float64, device=ids.device)
        self._mask = attention.double()
        self._outputs = []
        try:
            # weights need no gradient; the embeddings output is the leaf the backward starts from
            embeds = self.model.get_input_embeddings()(ids).detach().requires_grad_(True)
            hidden = self.model.get_decoder()(inputs_embeds=embeds, attention_mask=attention,
                                              use_cache=False).last_hidden_state
            answer_losses(self.model, hidden, batch).sum().backward()
            return self._scores
        finally:  # nothing of this batch outlives it, even when the backward fails
            self._scores, self._mask, self._outputs = None, None, None

    def close(self) -> None:
        for h in self._handles:
            h.remove()


def batched(tok, records: list[dict], batch_size: int, max_length: int, device):
    """(encoded records, batches): each batch is (record indices, padded batch), batched by length."""
    encoded = [encode_targets(tok, rec, max_length) for rec in records]
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))  # less padding
    chunks = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    return encoded, ((chosen, pad_batch([encoded[i] for i in chosen], pad_id, device)) for chosen in chunks)


def per_example_result(components, per_example: torch.Tensor, encoded) -> dict:
    """What every estimator returns: per-example scores [n, components] in records' order, token counts."""
    return {"components": components, "per_example": per_example,
            "lengths": torch.tensor([len(ids) for ids, _ in encoded]),
            "answer_tokens": torch.tensor([sum(target_flags(ids, t)[1:]) for ids, t in encoded])}


def score_records(model, tok, records: list[dict], batch_size: int, max_length: int, log=None,
                  signed: bool = False) -> dict:
    """Per-example Taylor scores [n, components] (records' order) and token counts."""
    encoded, batches = batched(tok, records, batch_size, max_length, next(model.parameters()).device)
    scorer = TaylorScorer(model, signed)
    per_example = torch.zeros((len(encoded), len(scorer.components)), dtype=torch.float64)
    try:
        for step, (chosen, batch) in enumerate(batches):
            per_example[chosen] = scorer.score(batch).cpu()
            if log and step % 20 == 0:
                log.info("importance: batch %d, %d examples", step + 1, len(encoded))
    finally:
        scorer.close()
    return per_example_result(scorer.components, per_example, encoded)


def normalise(total: torch.Tensor, components, lengths, answer_tokens, how: str) -> torch.Tensor:
    """``sum``: plain totals. ``official`` (the authors' code): layers 0..L-2 divided by the total
    token count Σ(len-1), the last layer by the total number of answer tokens."""
    if how == "sum":
        return total.clone()
    if how != "official":
        raise ValueError(f"importance.normalisation: unknown {how!r}")
    last = max(layer for layer, _, _ in components)
    is_last = torch.tensor([layer == last for layer, _, _ in components])
    tokens = float((lengths - 1).sum())
    answers = float(answer_tokens.sum())
    return torch.where(is_last, total / answers, total / tokens)


def write_importance(csv_path, tensor_path, result: dict, how: str, meta: dict) -> torch.Tensor:
    """The CSV (layer, module, score, normalised_score) and the tensor file; returns the scores."""
    import csv

    from ..io import atomic_path

    comps = result["components"]
    total = result["per_example"].sum(dim=0)
    score = normalise(total, comps, result["lengths"], result["answer_tokens"], how)
    share = score / score.abs().sum()  # the sum itself for non-negative scores; signed estimators keep their sign
    with atomic_path(csv_path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["layer", "module", "name", "score", "normalised_score"])
        for (layer, module, name), s, n in zip(comps, score.tolist(), share.tolist()):
            writer.writerow([layer, module, name, repr(s), repr(n)])
    meta = {"method": "taylor", **meta, "normalisation": how, "n_examples": len(result["lengths"]),
            "tokens": int(result["lengths"].sum()), "tokens_minus_one": int((result["lengths"] - 1).sum()),
            "answer_tokens": int(result["answer_tokens"].sum())}
    payload = {"components": [list(c) for c in comps], "score": score, "normalised_score": share,
               "raw_sum": total, "per_example": result["per_example"].float(),
               "lengths": result["lengths"], "answer_tokens": result["answer_tokens"], "meta": meta}
    with atomic_path(tensor_path) as tmp:
        torch.save(payload, tmp)
    return score


def read_importance(csv_path) -> tuple[list[tuple[int, str, str]], list[float]]:
    """(components, normalised scores) from an importance CSV, checking its columns."""
    import csv

    from ..errors import RecordError

    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    need = {"layer", "module", "name", "score", "normalised_score"}
    if not rows or not need <= set(rows[0]):
        raise RecordError(f"{csv_path}: not an importance table (need columns {', '.join(sorted(need))})")
    try:
        return ([(int(r["layer"]), r["module"], r["name"]) for r in rows], [float(r["normalised_score"]) for r in rows])
    except ValueError as e:
        raise RecordError(f"{csv_path}: bad number ({e})") from None
