"""One OpenCompass run: data cache, config, the offline ``opencompass`` process, metrics files.

OpenCompass lives in its own environment (transformers 4.x, numpy 1.x). This
module runs in either environment (standard library and citi only) and starts
OpenCompass with the interpreter ``opencompass_python`` finds
(citi.evaluation.opencompass.process). The lm-eval cross-checks of GSM8K-like
benchmarks, run before it in the main env, are joined into their metrics here.
Each metrics file carries ``item_scores`` (one score per item, for the tables' confidence
intervals), read from OpenCompass's per-item details.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

from ... import paths
from ...inputs import benchmark_data
from ...errors import ConfigError
from ...io import dumps_record, read_json, sha256_text, write_json, write_text
from ...precision import evaluation_dtype
from .crosscheck import attach, crosscheck_names, opencompass_items
from .config import render
from .data import write_benchmark
from .process import (describe_templates, failure_message, installed_version, outputs_dir,
                                  run_opencompass)
from .summary import OpenCompassError, find_summary, read_item_scores, read_summary, results_file

REPO = Path(__file__).resolve().parents[4]


def general_benchmarks(config: dict) -> dict:
    """name -> spec of each enabled benchmark, its cap resolved (evaluation.cap when it sets none)."""
    ev = config.get("evaluation", {})
    out = {}
    for name, spec in ev.get("general", {}).get("benchmarks", {}).items():
        if spec.get("enabled", True):
            out[name] = {"max_out_len": None, **spec, "cap": spec.get("cap", ev.get("cap"))}
    return out


def crosscheck_files(config: dict, model: str, method: str) -> dict[str, str]:
    """benchmark -> the lm-eval cross-check file the OpenCompass run of ``model`` x ``method`` joins in.

    Every cross-checked benchmark, for the methods of evaluation.general.crosscheck.methods (null: all).
    """
    general = config.get("evaluation", {}).get("general", {})
    methods = (general.get("crosscheck") or {}).get("methods")
    if methods is not None:
        unknown = [m for m in methods if m not in general_methods(config)]
        if unknown:
            raise ConfigError(f"config key 'evaluation.general.crosscheck.methods': {', '.join(map(repr, unknown))} "
                              f"is not one of the general methods ({', '.join(general_methods(config))})")
        if method not in methods:
            return {}
    return {name: paths.CROSSCHECK.format(model=model, method=method, benchmark=name)
            for name in crosscheck_names(general_benchmarks(config), general)}


def general_methods(config: dict) -> list[str]:
    """The methods the general benchmarks run for: evaluation.general.methods, or base and every method."""
    chosen = config.get("evaluation", {}).get("general", {}).get("methods")
    every = ["base", *config.get("methods", {})]
    if chosen is None:
        return every
    unknown = [m for m in chosen if m not in every]
    if unknown:
        raise ConfigError(f"config key 'evaluation.general.methods': {', '.join(map(repr, unknown))} is not "
                          f"'base' or a key of methods")
    return list(chosen)


def general_eval_targets(config: dict) -> list[str]:
    """Every model x general method x general benchmark metrics file."""
    names = list(general_benchmarks(config))
    return [paths.METRICS.format(model=model, method=method, benchmark=name)
            for model in config["models"] for method in general_methods(config) for name in names]


def opencompass_python(oc: dict) -> str:
    """The interpreter with OpenCompass: config, then $CITI_OPENCOMPASS_PYTHON, this one, the repo's venv."""
    for candidate, origin in ((oc.get("python"), "evaluation.general.opencompass.python"),
                              (os.environ.get("CITI_OPENCOMPASS_PYTHON"), "$CITI_OPENCOMPASS_PYTHON")):
        if candidate:
            if not Path(candidate).exists():
                raise ConfigError(f"{origin}: {candidate} does not exist")
            return candidate
    if importlib.util.find_spec("opencompass") is not None:
        return sys.executable  # the rule's conda env (envs/opencompass.yaml)
    venv = REPO / ".venv-opencompass" / "bin" / "python"
    if venv.exists():
        return str(venv)
    raise ConfigError("no Python with OpenCompass found: run ./bootstrap.sh (it makes .venv-opencompass), "
                      "use --use-conda, or set evaluation.general.opencompass.python")


def run_general_eval(config: dict, model: str, method: str, model_dir: str, work: str | Path,
                     metrics: dict[str, str], crosschecks: dict[str, str] | None = None) -> dict:
    """Evaluate ``model_dir`` on every general benchmark; write ``metrics[name]``; return the scores.

    A file's ``metrics`` are the summary's numbers under our names; its ``item_scores`` give each
    item (ids as ``item_ids``) 0 or 100 for the metrics that are a mean over items (accuracy, pass@1),
    from OpenCompass's per-item details (summary.read_item_scores); others, such as
    constraint_accuracy, have none. ``crosschecks``: benchmark name -> the lm-eval cross-check file
    to join into its metrics (with its items' results as crosscheck_lm_eval_accuracy's item scores).
    """
    benchmarks = general_benchmarks(config)
    general = config["evaluation"]["general"]
    oc = general["opencompass"]
    work = Path(work)
    if work.exists():
        shutil.rmtree(work)  # a rerun starts clean: OpenCompass reuses stale predictions otherwise
    cache = work / "data"
    data = {}
    for name, spec in benchmarks.items():
        split = benchmark_data(config, name, "evaluation.general.benchmarks")
        data[name] = write_benchmark(name, spec["kind"], split, spec["cap"], cache)
    python = opencompass_python(oc)
    version = installed_version(python)
    if version != oc["version"]:
        raise ConfigError(f"evaluation.general.opencompass.version: config says {oc['version']}, "
                          f"{python} has OpenCompass {version}")
    described = describe_templates(python, benchmarks)
    abbr = f"{model}_{method}"
    config_path = work / "opencompass_config.py"
    # OpenCompass has no `auto`: resolved once here, for its config and the metrics' record
    dtype = evaluation_dtype(oc["dtype"], "cuda" if oc["num_gpus"] else "cpu")
    text = render(abbr, str(Path(model_dir).resolve()), benchmarks, {n: d["path"] for n, d in data.items()},
                  {**oc, "dtype": dtype}, described)
    write_text(config_path, text)
    excerpt = run_opencompass(python, config_path, work, cache)
    try:
        summary = find_summary(outputs_dir(work))
        scores = read_summary(summary, abbr, benchmarks)
    except OpenCompassError as e:  # exit 0, but a task failed: its cause is in the log
        raise OpenCompassError(failure_message(str(e).rstrip("."), excerpt, work)) from None

    items = {name: read_item_scores(results_file(summary, abbr, name), name, data[name]["item_ids"], scores[name])
             for name in benchmarks}
    for name, spec in benchmarks.items():
        settings = {"benchmark": spec, "opencompass": oc, "model": model, "method": method}
        record = {
            "benchmark": name, "model": model, "method": method, "scorer": "opencompass",
            "metrics": scores[name], "n": data[name]["n"], "cap": spec["cap"], "item_ids": data[name]["item_ids"],
            "item_scores": items[name],
            "config_hash": sha256_text(dumps_record(settings))[:16],
            "engine": {"opencompass": version, "template": spec["template"], "shots": spec["shots"],
                       "prompt_sha256": described.get(spec["template"], {}).get("prompt_sha256"),
                       "max_out_len": spec["max_out_len"], "dtype": dtype,
                       "summary": str(summary), "config": str(config_path)},
        }
        if name in (crosschecks or {}):
            predictions = summary.parent.parent / "predictions" / abbr / f"{name}.json"
            check = read_json(crosschecks[name])
            attach(record, check, str(crosschecks[name]), opencompass_items(predictions),
                   general["crosscheck"]["gap_points"])
            record["item_scores"]["crosscheck_lm_eval_accuracy"] = {
                item["id"]: 100.0 * item["correct"] for item in check["items"]}
        write_json(metrics[name], record)
    return scores
