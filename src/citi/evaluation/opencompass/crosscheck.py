"""The lm-eval cross-check of GSM8K-like general benchmarks: which get one, their turns, the merge.

OpenCompass gives the reported ``accuracy``; lm-eval (run in the main env on the
same capped items with the same in-context turns, citi.evaluation.opencompass.lm_eval)
gives a second figure. The OpenCompass rule joins the two in the benchmark's
metrics.json and flags a gap larger than ``evaluation.general.crosscheck.gap_points``,
so the tables and the report can mark the number as something to explain.

Standard library only: the OpenCompass environment imports this module.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ...errors import ConfigError, RecordError
from .templates import PLACEHOLDER

# kinds scored by the final number of a worked answer, as GSM8K
CROSSCHECK_KINDS = ("gsm8k", "embedded_math")
ROLES = {"HUMAN": "user", "BOT": "assistant", "SYSTEM": "system"}
STOP = "Question:"  # generation stops (lm-eval) or scoring cuts (OpenCompass's GSM8K post-processing) here


def crosscheck_names(benchmarks: dict, general: dict) -> list[str]:
    """Benchmarks scored again by lm-eval: their own ``crosscheck.lm_eval``, else the general switch.

    The general switch covers the GSM8K-like kinds only; asking for another kind is an error.
    """
    default = (general.get("crosscheck") or {}).get("lm_eval", False)
    names = []
    for name, spec in benchmarks.items():
        own = (spec.get("crosscheck") or {}).get("lm_eval")
        if own and spec["kind"] not in CROSSCHECK_KINDS:
            raise ConfigError(f"evaluation.general.benchmarks.{name}.crosscheck.lm_eval: the lm-eval cross-check "
                              f"scores GSM8K-like kinds ({', '.join(CROSSCHECK_KINDS)}), not {spec['kind']}")
        if (default if own is None else own) and spec["kind"] in CROSSCHECK_KINDS:
            names.append(name)
    return names


def fill(messages: list[dict], row: dict, columns: list[str]) -> list[dict]:
    """The rendered turns (templates.chat_prompt) with one item's columns in place."""
    out = []
    for m in messages:
        content = m["content"]
        for column in columns:
            content = content.replace(PLACEHOLDER.format(column), str(row[column]))
        out.append({"role": m["role"], "content": content})
    return out


def split_turns(messages: list[dict], where: str) -> tuple[list[tuple[str, str]], dict]:
    """(in-context (user, assistant) pairs, the question turn); other shapes cannot be replayed by lm-eval."""
    roles = [m["role"] for m in messages]
    if not roles or len(roles) % 2 == 0 or roles != ["user", "assistant"] * (len(roles) // 2) + ["user"]:
        raise ConfigError(f"{where}: the lm-eval cross-check needs user/assistant example pairs and a final "
                          f"user turn, but the template renders roles {roles}")
    pairs = [(messages[i]["content"], messages[i + 1]["content"]) for i in range(0, len(messages) - 1, 2)]
    return pairs, messages[-1]


def prompt_sha256(messages: list[dict]) -> str:
    return hashlib.sha256(json.dumps(messages, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]


def opencompass_messages(origin_prompt) -> list[dict]:
    """OpenCompass's logged prompt (role/prompt items) as the chat messages its model was given:
    roles mapped, empty turns dropped, consecutive same-role turns joined by a newline (as its chat model does)."""
    if isinstance(origin_prompt, str):
        return [{"role": "user", "content": origin_prompt}]
    out: list[dict] = []
    for item in origin_prompt:
        if not item.get("prompt"):
            continue
        role = ROLES[item["role"]]
        if out and out[-1]["role"] == role:
            out[-1]["content"] += "\n" + item["prompt"]
        else:
            out.append({"role": role, "content": item["prompt"]})
    return out


def opencompass_items(predictions: Path) -> list[dict] | None:
    """Per item, in order: the hash of the turns OpenCompass gave the model, and its reply. None without the file."""
    if not predictions.exists():
        return None
    with open(predictions, encoding="utf-8") as f:
        items = json.load(f)
    return [{"prompt_sha256": prompt_sha256(opencompass_messages(items[k]["origin_prompt"])),
             "prediction": items[k]["prediction"]} for k in sorted(items, key=int)]


def attach(record: dict, crosscheck: dict, crosscheck_path: str, oc_items: list[dict] | None,
           gap_points: float) -> dict:
    """``record`` (a general metrics.json) with the lm-eval figure, the gap and its flag added."""
    if crosscheck["item_ids"] != record["item_ids"]:
        raise RecordError(f"{crosscheck_path}: scored other items than OpenCompass did for benchmark "
                          f"'{record['benchmark']}' (rerun the cross-check)")
    ours, theirs = record["metrics"]["accuracy"], crosscheck["accuracy"]
    gap = round(abs(ours - theirs), 4)
    pairs = list(zip(oc_items or [], crosscheck["items"]))
    record["metrics"]["crosscheck_lm_eval_accuracy"] = theirs
    record["crosscheck_gap_flag"] = gap > gap_points
    record["crosscheck"] = {
        "engine": "lm-eval", "lm_eval": crosscheck["engine"]["lm_eval"], "accuracy": theirs,
        "opencompass_accuracy": ours, "gap_points": gap, "threshold_points": gap_points,
        "gap_flag": gap > gap_points, "n": crosscheck["n"], "item_ids": crosscheck["item_ids"],
        "shots": crosscheck["shots"],
        # every item's turns hashed alike in both engines (None: OpenCompass's predictions not found)
        "same_prompts": None if oc_items is None else len(oc_items) == len(crosscheck["items"]) and all(
            o["prompt_sha256"] == c["prompt_sha256"] for o, c in pairs),
        # greedy replies that agree up to the stop ("Question:"), where OpenCompass's scoring cuts them
        "identical_responses": None if oc_items is None else sum(
            o["prediction"].split(STOP)[0].strip() == c["response"].split(STOP)[0].strip() for o, c in pairs),
        "file": crosscheck_path,
    }
    return record
