"""Importance estimators chosen in config, and the job that scores one task with one of them.

``importance.method`` picks the default estimator (written to ``paths.IMPORTANCE``);
each entry of ``importance.estimators`` is a named one whose keys override the
``importance`` section (written under ``paths.ESTIMATOR_IMPORTANCE``). Every method
writes the same CSV and tensor (``taylor.write_importance``), with the method and its
settings in the tensor's metadata, so selection, figures and training read any of them.

| method     | what it measures                                             | cost per batch                  |
|------------|--------------------------------------------------------------|---------------------------------|
| taylor     | CITI's Σ_t abs⟨∂L/∂y_t, y_t⟩ (taylor.py)                     | 1 forward + backward            |
| ablation   | exact loss increase, output zeroed or mean (ablation.py)     | ~1 forward per component        |
| integrated | path integral of ⟨∂L/∂y, y⟩, y scaled 1 -> 0 (integrated.py) | ~3 x steps x ablation           |
| local      | exact layer change, first order above it (local.py)          | 1 fwd+bwd + 1 layer / component |
"""

from __future__ import annotations

import logging

from .. import paths
from ..errors import ConfigError
from . import ablation, integrated, local, taylor

log = logging.getLogger("citi.importance")

METHODS = {  # (model, tokenizer, records, settings) -> per-example scores (taylor.per_example_result)
    "taylor": lambda model, tok, recs, s: taylor.score_records(
        model, tok, recs, s["batch_size"], s["max_length"], log=log),
    "ablation": lambda model, tok, recs, s: ablation.score_records(
        model, tok, recs, s["batch_size"], s["max_length"], replacement=s["replacement"], log=log),
    "integrated": lambda model, tok, recs, s: integrated.score_records(
        model, tok, recs, s["batch_size"], s["max_length"], steps=s["steps"], log=log),
    "local": lambda model, tok, recs, s: local.score_records(
        model, tok, recs, s["batch_size"], s["max_length"], replacement=s["replacement"], log=log),
}
# settings that belong to one method only: recorded in the metadata of that method's outputs
METHOD_KEYS = {"ablation": ("replacement",), "local": ("replacement",), "integrated": ("steps",)}


def settings(config: dict, estimator: str | None = None) -> dict:
    """The importance settings of the default estimator (None) or of a named one."""
    spec = {k: v for k, v in config["importance"].items() if k != "estimators"}
    if estimator is not None:
        named = config["importance"].get("estimators", {})
        if estimator not in named:
            raise ConfigError(f"config key 'importance.estimators': no estimator '{estimator}'; "
                              f"defined: {', '.join(named) or 'none'}")
        spec.update(named[estimator])
    if spec["method"] not in METHODS:
        raise ConfigError(f"config key 'importance{'.estimators.' + estimator if estimator else ''}.method': "
                          f"unknown '{spec['method']}'; known: {', '.join(METHODS)}")
    return spec


def output_paths(model: str, task: str, estimator: str | None = None) -> tuple[str, str]:
    """(CSV, tensor) of one task's scores by the default estimator (None) or a named one."""
    if estimator is None:
        return paths.IMPORTANCE.format(model=model, task=task), paths.IMPORTANCE_TENSOR.format(model=model, task=task)
    return (paths.ESTIMATOR_IMPORTANCE.format(model=model, estimator=estimator, task=task),
            paths.ESTIMATOR_IMPORTANCE_TENSOR.format(model=model, estimator=estimator, task=task))


def score_task(config: dict, model: str, task: str, estimator: str | None = None, table=None, tensor=None,
               inputs: dict | None = None) -> None:
    """Score every component of ``model`` on ``task``'s sampled examples; write the CSV and tensor.
    ``inputs``: the job's model and data (``citi.inputs.importance``; resolved from the config when None)."""
    import torch

    from ..data.mixtures import read_records
    from ..data.sampling import sample_indices
    from ..models import load

    from ..inputs import importance as resolve

    spec = settings(config, estimator)
    inputs = inputs or resolve(config, model, task)
    data = inputs["data"]
    records = read_records(data)
    records = [records[i] for i in sample_indices(len(records), spec["n_per_task"], spec["seed"])]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    net, tok = load(inputs["model"], device=device)
    log.info("%s importance of %d %s examples on %s (%s)", spec["method"], len(records), task, model, device)
    result = METHODS[spec["method"]](net, tok, records, spec)
    meta = {"model": model, "task": task, "data": data, "method": spec["method"], "estimator": estimator or "default",
            "seed": spec["seed"], "n_requested": spec["n_per_task"], "batch_size": spec["batch_size"],
            "max_length": spec["max_length"], "dtype": str(net.dtype),
            **{k: spec[k] for k in METHOD_KEYS.get(spec["method"], ())}}
    default_table, default_tensor = output_paths(model, task, estimator)
    taylor.write_importance(table or default_table, tensor or default_tensor, result, spec["normalisation"], meta)


def read_tables(tables: dict[str, str]) -> tuple[list, dict[str, list[float]]]:
    """(components, task -> normalised scores) from every task's CSV (task -> file), which must list the
    same components."""
    from ..errors import RecordError

    components, shares = None, {}
    for task, table in tables.items():
        comps, shares[task] = taylor.read_importance(table)
        if components is not None and comps != components:
            raise RecordError(f"{table}: its components differ from the other tasks' tables")
        components = comps
    return components, shares


def write_selection(config: dict, model: str, selection: str, tables: list[str], estimator: str | None = None,
                    out=None) -> None:
    """The selection file of ``selection`` ("citi", "top20", ...) from the default or a named estimator's
    tables (one per task, in ``TASKS`` order: ``citi.inputs.importance_tables``)."""
    from ..io import write_json
    from ..records import TASKS
    from .selection import select

    components, shares = read_tables(dict(zip(TASKS, tables, strict=True)))
    default = (paths.SELECTION.format(model=model, selection=selection) if estimator is None
               else paths.ESTIMATOR_SELECTION.format(model=model, estimator=estimator, selection=selection))
    chosen = select(selection, components, shares, config, model)
    write_json(out or default, {**chosen, "importance": estimator or "default"})
