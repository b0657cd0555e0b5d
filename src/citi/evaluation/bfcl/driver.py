"""The BFCL side of the BFCL benchmark: runs inside BFCL's own environment (``.venv-bfcl``).

It imports only the standard library and ``bfcl_eval`` (never ``citi``), and is started as a
script by ``citi.evaluation.bfcl.env``. Every answer is JSON on stdout::

    python driver.py info                       {"version", "data_dir", "categories", "files"}
    python driver.py prompts CATEGORY...        one line per item: {"id", "category", "messages",
                                                "function_names", "required" (function -> its
                                                required parameters), "ground_truth" (absent for
                                                (ir)relevance)}
    python driver.py score CATEGORY RESULTS...  pairs; one line per line of each RESULTS file
                                                ({"id", "result"}): {"set": the pair's index, "id",
                                                "valid", "error_type", "error"}

Importing BFCL's checker takes seconds (it imports every model SDK), so one process scores many files.

``prompts`` renders each item as BFCL renders it for a prompting (non function-calling) chat
model: the dataset entry with the language hints BFCL's generation adds, and the system prompt
BFCL's own ``system_prompt_pre_processing_chat_model`` builds (the functions' JSON schemas and the
instruction to answer with a Python-like list of calls, ``[func(a=1)]``).

``score`` is the official checker, per item, as BFCL's ``eval_runner`` calls it for each entry:
the AST categories through ``_evaluate_single_ast_entry`` (the prompting decoder, which reads the
call list with ``ast.parse``, then ``ast_checker``), relevance and irrelevance through
``_evaluate_single_relevance_entry``. Model output is never evaluated.
"""

from __future__ import annotations

import atexit
import copy
import json
import os
import shutil
import sys
import tempfile

# bfcl_eval makes result/score/lock folders under BFCL_PROJECT_ROOT when imported (by default inside
# site-packages): give it a scratch folder, removed at exit.
if "BFCL_PROJECT_ROOT" not in os.environ:
    _scratch = tempfile.mkdtemp(prefix="citi-bfcl-")
    atexit.register(shutil.rmtree, _scratch, True)
    os.environ["BFCL_PROJECT_ROOT"] = _scratch

# bfcl_eval and its SDKs may print while importing: stdout carries only our JSON lines
_OUT, sys.stdout = sys.stdout, sys.stderr

# A prompting model whose handler decodes with BFCL's default prompting decoder and whose system
# prompt is BFCL's default one (Llama 3.1, "Prompt" variant; underscore_to_dot False).
HANDLER_MODEL = "meta-llama/Llama-3.1-8B-Instruct"
# single-turn categories the pipeline supports (Python call syntax)
AST_CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple",
                  "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple")
RELEVANCE_CATEGORIES = ("irrelevance", "live_irrelevance", "live_relevance")
CATEGORIES = AST_CATEGORIES + RELEVANCE_CATEGORIES


def _category(name: str) -> str:
    if name not in CATEGORIES:
        sys.exit(f"BFCL category {name!r} is not supported here; supported: {', '.join(CATEGORIES)}")
    return name


def _emit(obj) -> None:
    _OUT.write(json.dumps(obj, ensure_ascii=False) + "\n")


def info() -> None:
    import importlib.metadata

    from bfcl_eval.constants.category_mapping import VERSION_PREFIX
    from bfcl_eval.constants.eval_config import POSSIBLE_ANSWER_PATH, PROMPT_PATH

    files = {}
    for c in CATEGORIES:  # the files prompts and score read for each category
        files[c] = [str(d / f"{VERSION_PREFIX}_{c}.json") for d in (PROMPT_PATH, POSSIBLE_ANSWER_PATH)
                    if (d / f"{VERSION_PREFIX}_{c}.json").exists()]
    _emit({"version": importlib.metadata.version("bfcl-eval"), "data_dir": str(PROMPT_PATH),
           "categories": list(CATEGORIES), "files": files})


def prompts(categories: list[str]) -> None:
    from bfcl_eval.model_handler.utils import system_prompt_pre_processing_chat_model
    from bfcl_eval.utils import is_relevance_or_irrelevance, load_dataset_entry, load_ground_truth_entry

    for category in categories:
        _prompts(category, load_dataset_entry, load_ground_truth_entry, is_relevance_or_irrelevance,
                 system_prompt_pre_processing_chat_model)


def _prompts(category, load_dataset_entry, load_ground_truth_entry, is_relevance_or_irrelevance,
             system_prompt_pre_processing_chat_model) -> None:
    entries = load_dataset_entry(category)  # with the language hints, as BFCL's generation loads them
    gold = {} if is_relevance_or_irrelevance(category) else {g["id"]: g["ground_truth"]
                                                                for g in load_ground_truth_entry(category)}
    for entry in entries:
        if len(entry["question"]) != 1:
            sys.exit(f"{entry['id']}: {len(entry['question'])} turns; only single-turn items are supported")
        messages = system_prompt_pre_processing_chat_model(copy.deepcopy(entry["question"][0]),
                                                           entry["function"], entry["id"])
        row = {"id": entry["id"], "category": category, "messages": messages,
               "function_names": [f["name"] for f in entry["function"]],
               "required": {f["name"]: f.get("parameters", {}).get("required", []) for f in entry["function"]}}
        if entry["id"] in gold:
            row["ground_truth"] = gold[entry["id"]]
        elif not is_relevance_or_irrelevance(category):
            sys.exit(f"{entry['id']}: no possible answer in BFCL's data")
        _emit(row)


def score(pairs: list[tuple[str, str]]) -> None:
    from bfcl_eval.constants.enums import Language, ReturnFormat
    from bfcl_eval.eval_checker.eval_runner import (_evaluate_single_ast_entry, _evaluate_single_relevance_entry,
                                                    get_handler)
    from bfcl_eval.utils import is_relevance_or_irrelevance, load_dataset_entry, load_ground_truth_entry

    handler = get_handler(HANDLER_MODEL)
    model_name = HANDLER_MODEL.replace("/", "_")  # the name eval_runner passes on (its result folder's name)
    loaded = {}
    for index, (category, results_path) in enumerate(pairs):
        if category not in loaded:
            # as evaluate_task loads them: no language hints in the function docs the checker reads
            prompt = {e["id"]: e for e in load_dataset_entry(category, include_prereq=False,
                                                              include_language_specific_hint=False)}
            gold = ({} if is_relevance_or_irrelevance(category)
                    else {g["id"]: g["ground_truth"] for g in load_ground_truth_entry(category)})
            loaded[category] = prompt, gold
        prompt, gold = loaded[category]
        with open(results_path, encoding="utf-8") as f:
            results = [json.loads(line) for line in f if line.strip()]
        for item in results:
            if item["id"] not in prompt:
                sys.exit(f"{results_path}: result id {item['id']!r} is not an item of BFCL category {category}")
            if is_relevance_or_irrelevance(category):
                out = _evaluate_single_relevance_entry(handler, item["id"], item["result"], prompt[item["id"]],
                                                       model_name, category)
            else:
                out = _evaluate_single_ast_entry(handler, item["id"], item["result"], gold[item["id"]],
                                                 prompt[item["id"]], model_name, category,
                                                 language=Language.PYTHON, return_format=ReturnFormat.PYTHON,
                                                 has_tool_call_tag=False)
            _emit({"set": index, "id": item["id"], "valid": bool(out["valid"]), "error_type": out.get("error_type"),
                   "error": [str(e) for e in out.get("error", [])]})


def main(argv: list[str]) -> None:
    if argv[:1] == ["info"] and len(argv) == 1:
        info()
    elif argv[:1] == ["prompts"] and len(argv) >= 2:
        prompts([_category(c) for c in argv[1:]])
    elif argv[:1] == ["score"] and len(argv) >= 3 and len(argv) % 2 == 1:
        score([(_category(c), path) for c, path in zip(argv[1::2], argv[2::2])])
    else:
        sys.exit("usage: driver.py info | prompts CATEGORY... | score CATEGORY RESULTS.jsonl [CATEGORY RESULTS.jsonl...]")


if __name__ == "__main__":
    main(sys.argv[1:])
