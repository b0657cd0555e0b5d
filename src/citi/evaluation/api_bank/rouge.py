"""ROUGE-L F as the official evaluators compute it: the ``rouge`` package (1.0.1),
``Rouge().get_scores(hyp, ref)[0]['rouge-l']['f']``. An empty prediction scores 0; so does
one the package rejects (e.g. only '.', which leaves no sentence). Level 3 first removes
'User:' and 'AI:' from the prediction."""

from __future__ import annotations

from rouge import Rouge

_ROUGE = Rouge(metrics=["rouge-l"])


def rouge_l(prediction: str | None, reference: str, level3: bool = False) -> float:
    if not prediction:
        return 0.0
    if level3:
        prediction = prediction.replace("User:", "").replace("AI:", "").strip()
        if not prediction:
            return 0.0
    try:
        return float(_ROUGE.get_scores(prediction, reference)[0]["rouge-l"]["f"])
    except (ValueError, RecursionError, ZeroDivisionError):
        return 0.0
