"""A small training workspace for the training tests: the tiny model, a mixture, selection files."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import yaml

from citi import paths
from citi.config import check_config
from citi.io import write_jsonl

REPO = Path(__file__).resolve().parents[1]
TOOL_DATASET = "embedded_tools"
LAYERS = 2
MODULES = [f"model.layers.{layer}.{m}" for layer in range(LAYERS)
           for m in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                     "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")]
MOLORA_SET = [MODULES[0], MODULES[5], MODULES[8], MODULES[12]]
UNFROZEN = [MODULES[3], MODULES[12]]  # overlaps the MOLoRA set on purpose: the sets may overlap
TOP = MODULES[:3]


def record(i: int, tool: bool) -> dict:
    """Two assistant turns, so masking the first one is observable."""
    # tool and general turns differ in most of their bytes, so even a random tiny model's router
    # sees different inputs (the tiny tokenizer is byte-level)
    if tool:
        user, answer = f"WEATHER IN CITY {chr(65 + i % 26)}? USE THE API.", f"API-Request: [GetWeather(city='C{i}')]"
    else:
        user, answer = f"what is {i} plus {i + 3}, my friend?", f"{i} plus {i + 3} is {2 * i + 3}, friend."
    messages = [{"role": "system", "content": "APIs."},
                {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return {"id": f"t/train/{i}", "source": "t", "task": "tool" if tool else "math",
            "task_type": int(tool), "messages": messages}


def records(n: int = 12) -> list[dict]:
    return [record(i, tool=i % 2 == 0) for i in range(n)]


def tiny_config(**training) -> dict:
    config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    config["training"] = {**config.get("training", {}), "per_device_batch": 4, "grad_accum": 1, "save_steps": 2,
                          **training}
    return check_config(config, source="test config")


def with_stage(config: dict, method: str, stage: int, **changes) -> dict:
    config = copy.deepcopy(config)
    config["methods"][method]["stages"][stage - 1].update(changes)
    return config


def make_workspace(root: Path, model_dir: Path, n: int = 12) -> Path:
    """results/ under ``root`` with the tiny model (linked), both mixtures and selection files."""
    model = root / paths.MODEL.format(model="tiny")
    model.parent.mkdir(parents=True, exist_ok=True)
    if not model.exists():
        os.symlink(model_dir, model)
    for mixture in ("tool", "mixed", "code"):
        write_jsonl(root / paths.MIXTURE.format(mixture=mixture), records(n))
    selections = {"citi": {"molora": MOLORA_SET, "unfrozen": UNFROZEN}}
    for name in ("top20", "bottom20", "random20", "top50", "bottom50"):
        selections[name] = {"selected": TOP}
    for name, sel in selections.items():
        path = root / paths.SELECTION.format(model="tiny", selection=name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(sel))
    return root


def stage_dir(method: str, stage: int) -> str:
    return paths.STAGE_CHECKPOINT.format(model="tiny", tool_dataset=TOOL_DATASET, method=method, stage=stage)
