"""Describe OpenCompass dataset configs and the chat prompts they produce (run in the OpenCompass env).

    python -m citi.evaluation.opencompass.templates gsm8k.gsm8k_gen_1d7fe4 ...
    python -m citi.evaluation.opencompass.templates --prompts '{"gsm8k": "gsm8k.gsm8k_gen_1d7fe4"}'

The first form prints, per module under ``opencompass.configs.datasets``: the
name of its ``*_datasets`` list, its number of in-context examples, and a hash
of its prompt, so our config's recorded shot count is checked against the template.

The second prints, per benchmark, the chat messages OpenCompass sends for one
item (the in-context turns and the question turn), rendered by OpenCompass's own
prompt template and template parser, with each input column left as a
placeholder (``PLACEHOLDER``). The lm-eval cross-check (citi.evaluation.opencompass.lm_eval)
fills them, so both engines see the same turns. ``citi:<kind>`` names the
project's own prompt (citi.evaluation.opencompass.config.CITI_DATASETS).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import sys

PLACEHOLDER = "\u27e6{}\u27e7"  # a column's slot in a rendered prompt: ⟦question⟧


def count_shots(dataset: dict) -> int:
    """In-context examples: fixed retriever ids, else the BOT turns before the last HUMAN turn."""
    infer = dataset["infer_cfg"]
    if "fix_id_list" in infer["retriever"]:
        return len(infer["retriever"]["fix_id_list"])
    template = infer.get("prompt_template", {}).get("template")
    if not isinstance(template, dict):
        return 0
    roles = [turn.get("role") for turn in template.get("round", []) if isinstance(turn, dict)]
    humans = [i for i, role in enumerate(roles) if role == "HUMAN"]
    return roles[:humans[-1]].count("BOT") if humans else 0


def _dataset(module: str) -> tuple[str, dict]:
    mod = importlib.import_module(f"opencompass.configs.datasets.{module}")
    names = [k for k, v in vars(mod).items() if k.endswith("_datasets") and isinstance(v, list) and len(v) == 1]
    if len(names) != 1:
        raise LookupError(f"defines {len(names)} single-dataset *_datasets lists, expected 1")
    return names[0], getattr(mod, names[0])[0]


def describe(module: str) -> dict:
    try:
        variable, dataset = _dataset(module)
    except LookupError as e:
        return {"error": str(e)}
    prompt = repr(dataset["infer_cfg"].get("prompt_template"))
    return {"variable": variable, "shots": count_shots(dataset),
            "prompt_sha256": hashlib.sha256(prompt.encode()).hexdigest()[:16]}


def _citi_infer_cfg(kind: str) -> tuple[dict, list[str]]:
    from citi.evaluation.opencompass.config import CITI_DATASETS

    spec = CITI_DATASETS[kind]
    infer = {"prompt_template": {"template": {"round": [{"role": "HUMAN", "prompt": spec["prompt"]}]}},
             "inferencer": {"max_out_len": spec["max_out_len"]}}
    return infer, spec["inputs"]


def chat_prompt(template: str) -> dict:
    """The messages OpenCompass's chat model gets for one item of ``template``, columns as placeholders.

    Mirrors OpenCompass's generation path: PromptTemplate.generate_item (0-shot
    retriever, answer column blanked), the chat model's API template parser,
    then its role mapping to user/assistant messages.
    """
    from opencompass.models.huggingface_above_v4_33 import _convert_chat_messages, _get_meta_template
    from opencompass.openicl.icl_prompt_template import PromptTemplate

    if template.startswith("citi:"):
        infer, columns = _citi_infer_cfg(template.split(":", 1)[1])
        output = None
    else:
        _, dataset = _dataset(template)
        infer, columns = dataset["infer_cfg"], list(dataset["reader_cfg"]["input_columns"])
        output = dataset["reader_cfg"].get("output_column")
        if infer["retriever"].get("type").__name__ != "ZeroRetriever":
            raise LookupError("its in-context examples are retrieved per item, not fixed in the template")
    kwargs = {k: v for k, v in infer["prompt_template"].items() if k != "type"}
    item = PromptTemplate(**kwargs).generate_item({c: PLACEHOLDER.format(c) for c in columns},
                                                  output_field=output, ice_field_replace_token="")
    parsed = _get_meta_template(None).parse_template(item, mode="gen")
    messages = _convert_chat_messages([parsed])[0]
    return {"messages": messages, "input_columns": columns,
            "max_out_len": (infer.get("inferencer") or {}).get("max_out_len")}


def main(args: list[str]) -> None:
    out = {}
    if args and args[0] == "--prompts":
        for name, template in json.loads(args[1]).items():
            try:
                out[name] = chat_prompt(template)
            except (ImportError, LookupError, KeyError) as e:
                out[name] = {"error": f"{template}: {e}"}
    else:
        for module in args:
            try:
                out[module] = describe(module)
            except ImportError as e:
                out[module] = {"error": f"cannot import ({e})"}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
