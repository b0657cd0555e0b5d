"""Describe OpenCompass dataset configs (run in the OpenCompass environment).

    python -m citi.evaluation.opencompass_templates gsm8k.gsm8k_gen_1d7fe4 ...

prints, per module under ``opencompass.configs.datasets``: the name of its
``*_datasets`` list, its number of in-context examples, and a hash of its
prompt, so our config's recorded shot count is checked against the template.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import sys


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


def describe(module: str) -> dict:
    mod = importlib.import_module(f"opencompass.configs.datasets.{module}")
    names = [k for k, v in vars(mod).items() if k.endswith("_datasets") and isinstance(v, list) and len(v) == 1]
    if len(names) != 1:
        return {"error": f"defines {len(names)} single-dataset *_datasets lists, expected 1"}
    dataset = getattr(mod, names[0])[0]
    prompt = repr(dataset["infer_cfg"].get("prompt_template"))
    return {"variable": names[0], "shots": count_shots(dataset),
            "prompt_sha256": hashlib.sha256(prompt.encode()).hexdigest()[:16]}


def main(modules: list[str]) -> None:
    out = {}
    for module in modules:
        try:
            out[module] = describe(module)
        except ImportError as e:
            out[module] = {"error": f"cannot import ({e})"}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
