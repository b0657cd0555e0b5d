"""ToolAlpaca: ReAct agent generation (``agent``) and judge / offline scoring (``scoring``)."""

from __future__ import annotations

from pathlib import Path
from string import Template

from ..judge import ChatClient, Endpoint
from ..registry import register
from .agent import run_agent
from . import call_accuracy
from .apis import api_of, load_apis
from .scoring import find_template, judge_all, procedure_match, template_info


def _percent(k: int, n: int) -> float:
    return 100.0 * k / n if n else 0.0


@register("toolalpaca", agent=run_agent)
def score(records: list[dict], predictions: dict[str, str], *, prediction_rows: dict[str, dict],
          data_root: Path, split: str, evaluation: dict, judge_url: str | None = None) -> dict:
    options = evaluation.get("toolalpaca", {})
    apis = load_apis(data_root, split)
    items = []
    for rec in records:
        row = prediction_rows.get(rec["id"]) or {}
        instance = row.get("instance") or {"input": "", "output": "", "intermediate_steps": []}
        items.append((rec, api_of(rec, apis), instance))
    offline = {rec["id"]: procedure_match(api, rec["meta"]["golden_answers"], inst["intermediate_steps"])
               for rec, api, inst in items}
    calls = {rec["id"]: call_accuracy.first_call(api, rec["meta"]["golden_answers"], inst["intermediate_steps"])
             for rec, api, inst in items}  # TS / PI / CF
    n = len(items)
    summary = call_accuracy.summary(list(calls.values()))
    metrics = {"procedure_offline": _percent(sum(offline.values()), n), **summary["metrics"]}
    result = {"execution": options.get("execution", "offline"), "call_categories": summary["counts"]}
    per_item = [{"id": rec["id"], "procedure_offline": offline[rec["id"]], **calls[rec["id"]]} for rec, _, _ in items]
    if options.get("judge", True):
        path = find_template(data_root, options.get("judge_template"))
        client = ChatClient(Endpoint.from_config(evaluation.get("judge", {}), "evaluation.judge", base_url=judge_url))
        stats, verdicts = judge_all(items, Template(path.read_text(encoding="utf-8")), client)
        metrics.update(P=_percent(stats["process"]["Yes"], n), R=_percent(stats["response"]["Yes"], n),
                       O=_percent(stats["both"], n))
        per_item = [{**a, **b} for a, b in zip(per_item, verdicts)]
        result.update(statistics=stats, judge={**client.endpoint.public(), **client.stats},
                      judge_template=template_info(path))
    return {"metrics": metrics, "per_item": per_item, "n": n, **result}
