"""A generic scorer: the prediction against the record's target assistant turn.

Useful for any record-format split (and for testing the pipeline before a benchmark's
own scorer exists). ``exact_match``: equal after stripping whitespace;
``target_in_prediction``: the stripped target occurs in the prediction.
"""

from __future__ import annotations

from ..records import target_index
from .registry import register


def target_text(rec: dict) -> str:
    cut = target_index(rec)
    return "" if cut is None else rec["messages"][cut]["content"].strip()


@register("exact_match")
def score(records: list[dict], predictions: dict[str, str]) -> dict:
    per_item = []
    for rec in records:
        gold, pred = target_text(rec), (predictions.get(rec["id"]) or "").strip()
        per_item.append({"id": rec["id"], "exact_match": pred == gold,
                         "target_in_prediction": bool(gold) and gold in pred})
    n = len(per_item)

    def percent(key):
        return 100.0 * sum(item[key] for item in per_item) / n if n else 0.0

    return {"metrics": {"exact_match": percent("exact_match"),
                        "target_in_prediction": percent("target_in_prediction")},
            "per_item": per_item, "n": n}
