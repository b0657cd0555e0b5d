"""The API-Bank scorer: ``score_split`` per prepared split, ``pool`` for CITI's C and R.

Api splits report both ``call_correctness_official`` (the paper-comparable figure: the
official verdicts, offline) and ``call_correctness_corrected``; response splits report
``rouge_l``. Api splits also report RoTBench's ``TS`` / ``PI`` / ``CF`` of the call text
(``call_accuracy``; ``call_categories`` counts the error categories). Percentages. Level 1/2
denominators are every API gold sample of the dialogue folder (399, 135) and level 3 every
step (245) when the records cover the split; a capped run divides by the records given
(``subset`` says so). A missing prediction is wrong.

Embedded demo data (written by ``citi.synthetic``; its folder has ``apis.json``) runs
against ``citi.synthetic.tools.ToolManager`` instead of the real APIs.
"""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import ConfigError, RecordError
from ...io import read_jsonl
from ...records import target_index
from ...toolcalls import taxonomy
from . import call_accuracy
from .catalog import DIALOGUE_DIRS, catalog
from .evaluate import MODES, Level3Session, dialogue_samples, score_level12
from ...toolcalls.api_bank import parse
from .rouge import rouge_l
from .toolsearcher import DEFAULT_RETRIEVER, ToolSearcher

SPLIT = re.compile(r"level([123])_(api|response)(_icl)?$")
OFFICIAL_TOTALS = {"level1_api": 399, "level2_api": 135, "level3_api": 245, "level3_api_icl": 245,
                   "level1_response": 375, "level2_response": 103, "level3_response": 50}


def is_embedded(data_root: Path) -> bool:
    return (Path(data_root) / "apis.json").exists()


def _target(rec: dict) -> str:
    i = target_index(rec)
    if i is None:
        raise RecordError(f"record {rec.get('id')!r}: no assistant target")
    return rec["messages"][i]["content"]


def _dialogue_gold(data_root: Path, level: int) -> dict[tuple[str, int], tuple[list, dict]]:
    folder = Path(data_root) / "lv1-lv2-samples" / DIALOGUE_DIRS[level]
    if not folder.is_dir():
        raise ConfigError(f"{folder}: missing (the API-Bank dialogues the level-{level} evaluator reads)")
    gold = {}
    for path in sorted(folder.glob("*.jsonl")):
        for i, (hist, turn) in enumerate(dialogue_samples(read_jsonl(path))):
            if turn is not None:
                gold[(path.name, i)] = (hist, turn)
    return gold


def _key(rec: dict) -> tuple:
    meta = rec.get("meta") or {}
    return meta.get("file"), meta.get("id")


def score_split(records: list[dict], predictions: dict[str, str], data_root: Path, split: str,
                mode: str | None = None, retriever: str | None = None, evaluation: dict | None = None) -> dict:
    """Score one split. ``mode`` picks which correctness the per-item ``correct`` shows;
    both correctness metrics are always computed. Unset ``mode``/``retriever`` come from the
    ``evaluation.api_bank`` config section when the runner passes it, else the defaults."""
    section = (evaluation or {}).get("api_bank") or {}
    mode = mode or section.get("mode_reported", "official")
    retriever = retriever or section.get("retriever", DEFAULT_RETRIEVER)
    m = SPLIT.match(split)
    if not m:
        raise ConfigError(f"api_bank scorer: unknown split {split!r} (level1_api, level2_response, level3_api_icl, ...)")
    if mode not in MODES:
        raise ConfigError(f"evaluation.api_bank mode: {mode!r}, expected one of {MODES}")
    level, kind, data_root = int(m.group(1)), m.group(2), Path(data_root)
    if kind == "response":
        return _score_responses(records, predictions, data_root, level)
    embedded = is_embedded(data_root)
    searcher = None if embedded else ToolSearcher(retriever)
    items, counts = [], {md: 0 for md in MODES}
    tools, categories = call_accuracy.library(data_root, level, embedded), []  # TS / PI / CF
    if level == 3:
        cat = catalog(str(data_root), 3)
        sessions = {md: Level3Session(cat, md, searcher) for md in MODES}
        for rec in sorted(records, key=lambda r: (int(r["meta"]["sample_id"]), int(r["meta"]["api_id"]))):
            sid, aid = int(rec["meta"]["sample_id"]), int(rec["meta"]["api_id"])
            verdicts = {md: sessions[md].score(sid, aid, predictions.get(rec["id"])) for md in MODES}
            gold = cat.gold3[sid]["apis"][aid]
            categories.append(call_accuracy.categorize(predictions.get(rec["id"]), gold["api_name"], gold["input"], tools))
            items.append({**_item(rec["id"], verdicts, mode), "category": categories[-1]})
            for md in MODES:
                counts[md] += verdicts[md][0]
        total = max(len(records), _steps(cat)) if len(records) >= _steps(cat) else len(records)
    else:
        gold = _dialogue_gold(data_root, level)
        by_key = {_key(r): r for r in records}
        unknown = [k for k in by_key if k not in gold]
        if unknown:
            raise RecordError(f"{split}: records {unknown[:3]} have no gold sample in {data_root}")
        api_keys = [k for k, (_, t) in gold.items() if t.get("role") == "API"]
        full = set(api_keys) <= set(by_key)
        keys = api_keys if full else [k for k in api_keys if k in by_key]
        cat = None if embedded else catalog(str(data_root), level)
        for k in keys:
            hist, turn = gold[k]
            rec = by_key.get(k)
            text = predictions.get(rec["id"]) if rec else None
            if embedded:
                verdicts = {md: _score_embedded(hist, turn, text, md) for md in MODES}
            else:
                verdicts = {md: score_level12(cat, hist, turn, text, md, searcher) for md in MODES}
            categories.append(call_accuracy.categorize(text, turn["api_name"], turn.get("param_dict") or {}, tools))
            items.append({**_item(rec["id"] if rec else f"{k[0]}#{k[1]}", verdicts, mode), "category": categories[-1]})
            for md in MODES:
                counts[md] += verdicts[md][0]
        total = len(keys)
    n = max(total, 1)
    metrics = {f"call_correctness_{md}": 100.0 * counts[md] / n for md in MODES}
    calls = call_accuracy.summary(categories)
    metrics.update(calls["metrics"])
    return {"metrics": metrics, "per_item": items, "n": total, "call_categories": calls["counts"],
            "item_scores": _call_item_scores(items, metrics),
            "counts": {"correct_official": counts["official"], "correct_corrected": counts["corrected"], "n": total},
            "paper_comparable": "call_correctness_official", "mode": mode,
            "retriever": None if embedded else retriever, "tools": "embedded" if embedded else "api_bank",
            "subset": total != OFFICIAL_TOTALS[split] and not embedded}


def _call_item_scores(items: list[dict], metrics: dict) -> dict[str, dict[str, float]]:
    """Per-call values whose mean is each metric (0 or 100), for the tables' bootstrap intervals."""
    scores = {f"call_correctness_{md}": {it["id"]: 100.0 * it[f"correct_{md}"] for it in items} for md in MODES}
    for it in items:
        for level, value in taxonomy.item_accuracies(it["category"]).items():
            scores.setdefault(level, {})[it["id"]] = value
    return {name: values for name, values in scores.items() if name in metrics}


def _steps(cat) -> int:
    return sum(len(s.get("apis", [])) for s in cat.gold3)


def _item(rid: str, verdicts: dict, mode: str) -> dict:
    return {"id": rid, "correct": bool(verdicts[mode][0]), "correct_official": bool(verdicts["official"][0]),
            "correct_corrected": bool(verdicts["corrected"][0]), "reason": verdicts[mode][1]}


def _score_embedded(hist: list, turn: dict, text: str | None, mode: str) -> tuple[bool, str]:
    from ...synthetic.tools import ToolManager
    if text is None:
        return False, "missing prediction"
    parsed = parse(text, mode)
    if parsed is None:
        return False, "no API call found"
    name, params = parsed
    if name != turn["api_name"]:
        return False, f"API name mismatch: {name} vs {turn['api_name']}"
    tm = ToolManager()
    if mode == "corrected":
        for t in hist:
            if t.get("role") == "API":
                tm.call(t["api_name"], dict(t["param_dict"]))
    try:
        result = tm.call(name, params)
        ok = tm.check(name, result, turn["result"])
    except Exception as e:  # noqa: BLE001 - never crash on model output
        return False, f"call failed: {type(e).__name__}: {e}"
    return bool(ok), "correct" if ok else "result differs from the gold result"


def _score_responses(records, predictions, data_root: Path, level: int) -> dict:
    gold = _dialogue_gold(data_root, level) if level != 3 else {}
    items, total = [], 0.0
    for rec in records:
        ref = gold[_key(rec)][1].get("text") if _key(rec) in gold else _target(rec)
        if level != 3 and ref is None:
            ref = _target(rec)
        score = rouge_l(predictions.get(rec["id"]), ref, level3=level == 3)
        score = round(score, 4) if level != 3 else score  # the level-1/2 evaluator rounds each score
        items.append({"id": rec["id"], "rouge_l": score})
        total += score
    n = len(records)
    return {"metrics": {"rouge_l": 100.0 * total / max(n, 1)}, "per_item": items, "n": n,
            "item_scores": {"rouge_l": {it["id"]: 100.0 * it["rouge_l"] for it in items}},
            "counts": {"rouge_sum": total, "n": n}}


def pool(metrics_by_split: dict[str, dict]) -> dict:
    """CITI's ``test_all``: C pools correct calls over all api splits (399 + 135 + 245),
    R averages ROUGE-L over all responses (375 + 103 + 50). Takes score_split results."""
    correct = {md: 0 for md in MODES}
    n_calls, rouge_sum, n_resp = 0, 0.0, 0
    for split, res in metrics_by_split.items():
        c = res.get("counts", {})
        if "correct_official" in c:
            correct["official"] += c["correct_official"]
            correct["corrected"] += c["correct_corrected"]
            n_calls += c["n"]
        elif "rouge_sum" in c:
            rouge_sum += c["rouge_sum"]
            n_resp += c["n"]
        else:
            raise ConfigError(f"api_bank pool: split {split!r} has no counts (pass score_split results)")
    out = {}
    if n_calls:
        out.update({"C": 100.0 * correct["official"] / n_calls, "C_corrected": 100.0 * correct["corrected"] / n_calls,
                    "n_calls": n_calls})
    if n_resp:
        out.update({"R": 100.0 * rouge_sum / n_resp, "n_responses": n_resp})
    return out
