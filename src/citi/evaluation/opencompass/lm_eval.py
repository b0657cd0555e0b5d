"""Score a GSM8K-like benchmark a second time with lm-eval, in process, on OpenCompass's items and turns.

The task is built here from our prepared split (never from the hub): the same
first ``cap`` records OpenCompass gets (citi.evaluation.opencompass.data), and as
in-context examples the user/assistant turns OpenCompass's template renders
(templates.chat_prompt), replayed by lm-eval as a multi-turn chat
through the model's chat template. lm-eval's HFLM wraps the model object we load;
generation is greedy and stops at "Question:" (where OpenCompass's GSM8K
post-processing cuts). The answer is lm-eval's regex filter (the last number)
and exact match against the final number of the reference solution.
"""

from __future__ import annotations

from pathlib import Path

from ...data.adapters.gsm8k import final_answer
from ...errors import CitiError
from ...io import read_jsonl
from .crosscheck import STOP, fill, prompt_sha256, split_turns
from .data import ROWS

LAST_NUMBER = r"(-?\d[\d,]*(?:\.\d+)?)"
SHOTS_SPLIT = "shots"


def task_config(name: str, docs: list[dict], shots: list[dict], max_gen_toks: int) -> dict:
    """An lm-eval task over in-memory documents: {user, target} each; shots first-n, in order."""
    from datasets import Dataset, DatasetDict

    return {
        "task": f"citi_crosscheck_{name}",
        "custom_dataset": lambda **_: DatasetDict({"test": Dataset.from_list(docs),
                                                   SHOTS_SPLIT: Dataset.from_list(shots or [{"user": "", "target": ""}])}),
        "test_split": "test",
        "fewshot_split": SHOTS_SPLIT,
        "num_fewshot": len(shots),
        "fewshot_config": {"sampler": "first_n"},
        "doc_to_text": lambda doc: doc["user"],
        "doc_to_target": lambda doc: doc["target"],
        "output_type": "generate_until",
        "generation_kwargs": {"until": [STOP], "max_gen_toks": max_gen_toks, "do_sample": False},
        "filter_list": [{"name": "last_number", "filter": [
            {"function": "regex", "regex_pattern": LAST_NUMBER, "group_select": -1},
            {"function": "take_first"}]}],
        "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True,
                         "regexes_to_ignore": [",", r"\$", r"\.$"]}],
    }


def run_crosscheck(name: str, kind: str, split_file: str | Path, cap: int | None, prompt: dict, model_dir: str,
                   max_gen_toks: int, batch_size: int, dtype: str | None = None, device: str = "auto") -> dict:
    """lm-eval's accuracy (percent) on the first ``cap`` records, with per-item details."""
    import lm_eval
    import torch
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from ...models import load

    records = read_jsonl(split_file)[:cap] if cap else read_jsonl(split_file)
    rows = [ROWS[kind](rec, f"{split_file}: record {rec.get('id', i)}") for i, rec in enumerate(records)]
    shots, question = split_turns(prompt["messages"], f"benchmark '{name}'")
    columns = prompt["input_columns"]
    docs = [{"user": fill([question], row, columns)[0]["content"], "target": final_answer(row["answer"])}
            for row in rows]
    messages = [[m for pair in shots for m in ({"role": "user", "content": pair[0]},
                                               {"role": "assistant", "content": pair[1]})]
                + [{"role": "user", "content": doc["user"]}] for doc in docs]

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    model, tok = load(model_dir, dtype=dtype, device=device)
    lm = HFLM(pretrained=model, tokenizer=tok, batch_size=batch_size)
    shot_docs = [{"user": user, "target": assistant} for user, assistant in shots]
    out = simple_evaluate(model=lm, tasks=[task_config(name, docs, shot_docs, max_gen_toks)],
                          task_manager=TaskManager(include_defaults=False), apply_chat_template=True,
                          fewshot_as_multiturn=True, bootstrap_iters=0, log_samples=True)
    samples = sorted(out["samples"][f"citi_crosscheck_{name}"], key=lambda s: s["doc_id"])

    items = []
    for sample, rec, msgs in zip(samples, records, messages):
        context = sample["arguments"][0][0] if isinstance(sample["arguments"][0], (list, tuple)) else sample["arguments"][0]
        expected = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        if context != expected:  # lm-eval built other turns than OpenCompass's: the comparison would be void
            raise CitiError(f"benchmark '{name}', item {rec['id']}: lm-eval's prompt differs from OpenCompass's "
                            f"turns rendered by the chat template")
        items.append({"id": rec["id"], "prompt_sha256": prompt_sha256(msgs), "response": sample["resps"][0][0],
                      "extracted": sample["filtered_resps"][0], "gold": sample["target"],
                      "correct": bool(sample["exact_match"])})
    correct = sum(item["correct"] for item in items)
    return {"accuracy": 100.0 * correct / max(len(items), 1), "n": len(items), "cap": cap,
            "item_ids": [rec["id"] for rec in records], "shots": len(shots), "max_gen_toks": max_gen_toks,
            "engine": {"lm_eval": lm_eval.__version__, "model": "HFLM(pretrained=<model object>)",
                       "chat_template": True, "fewshot_as_multiturn": True, "stop": [STOP], "dtype": dtype,
                       "device": device, "filter": LAST_NUMBER},
            "items": items}
