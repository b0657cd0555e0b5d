"""One OpenCompass run: data cache, config, the offline ``opencompass`` process, metrics files.

OpenCompass lives in its own environment (transformers 4.x, numpy 1.x). This
module runs in either environment (standard library and citi only) and starts
OpenCompass with the interpreter ``opencompass_python`` finds.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .. import paths
from ..errors import ConfigError
from ..io import dumps_record, sha256_text, write_json, write_text
from .opencompass_config import CITI_TEMPLATE, render
from .opencompass_data import write_benchmark
from .opencompass_summary import OpenCompassError, find_summary, read_summary

REPO = Path(__file__).resolve().parents[3]
SRC = Path(__file__).resolve().parents[2]


def general_benchmarks(config: dict) -> dict:
    """name -> spec with the cap resolved (evaluation.cap when the benchmark sets none)."""
    ev = config.get("evaluation", {})
    out = {}
    for name, spec in ev.get("general", {}).get("benchmarks", {}).items():
        out[name] = {"max_out_len": None, **spec, "cap": spec.get("cap", ev.get("cap"))}
    return out


def general_eval_targets(config: dict) -> list[str]:
    """Every model x method ("base" and each trained method) x general benchmark metrics file."""
    names = list(general_benchmarks(config))
    return [paths.METRICS.format(model=model, method=method, benchmark=name)
            for model in config["models"] for method in ["base", *config.get("methods", {})] for name in names]


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
                     metrics: dict[str, str]) -> dict:
    """Evaluate ``model_dir`` on every general benchmark; write ``metrics[name]``; return the scores."""
    benchmarks = general_benchmarks(config)
    oc = config["evaluation"]["general"]["opencompass"]
    work = Path(work)
    if work.exists():
        shutil.rmtree(work)  # a rerun starts clean: OpenCompass reuses stale predictions otherwise
    cache = work / "data"
    data = {}
    for name, spec in benchmarks.items():
        split = paths.DATA.format(dataset=spec["dataset"], split=spec["split"])
        data[name] = write_benchmark(name, spec["kind"], split, spec["cap"], cache)
    python = opencompass_python(oc)
    version = _installed_version(python)
    if version != oc["version"]:
        raise ConfigError(f"evaluation.general.opencompass.version: config says {oc['version']}, "
                          f"{python} has OpenCompass {version}")
    described = describe_templates(python, benchmarks)
    abbr = f"{model}_{method}"
    config_path = work / "opencompass_config.py"
    text = render(abbr, str(Path(model_dir).resolve()), benchmarks, {n: d["path"] for n, d in data.items()},
                  oc, described)
    write_text(config_path, text)
    _run_opencompass(python, config_path, work / "outputs", cache)
    summary = find_summary(work / "outputs")
    scores = read_summary(summary, abbr, benchmarks)

    for name, spec in benchmarks.items():
        settings = {"benchmark": spec, "opencompass": oc, "model": model, "method": method}
        write_json(metrics[name], {
            "benchmark": name, "model": model, "method": method, "scorer": "opencompass",
            "metrics": scores[name], "n": data[name]["n"], "cap": spec["cap"], "item_ids": data[name]["item_ids"],
            "config_hash": sha256_text(dumps_record(settings))[:16],
            "engine": {"opencompass": version, "template": spec["template"], "shots": spec["shots"],
                       "prompt_sha256": described.get(spec["template"], {}).get("prompt_sha256"),
                       "max_out_len": spec["max_out_len"], "dtype": oc["dtype"],
                       "summary": str(summary), "config": str(config_path)},
        })
    return scores


def describe_templates(python: str, benchmarks: dict) -> dict:
    """opencompass_templates' description of every OpenCompass template the benchmarks name."""
    modules = sorted({b["template"] for b in benchmarks.values() if b["template"] != CITI_TEMPLATE})
    if not modules:
        return {}
    proc = subprocess.run([python, "-m", "citi.evaluation.opencompass_templates", *modules], env=_env(),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise OpenCompassError(f"describing OpenCompass templates {modules} failed: {proc.stderr.strip()[-800:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _env(cache: Path | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    if cache is not None:
        env["COMPASS_DATA_CACHE"] = str(cache.resolve())  # nothing is looked up (or downloaded) elsewhere
    return env


def _installed_version(python: str) -> str:
    proc = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('opencompass'))"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise ConfigError(f"{python} cannot import OpenCompass: {proc.stderr.strip()[-500:]}")
    return proc.stdout.strip()


def _run_opencompass(python: str, config_path: Path, out_dir: Path, cache: Path) -> None:
    env = _env(cache)
    cmd = [python, "-c", "import sys; from opencompass.cli.main import main; sys.argv[0] = 'opencompass'; main()",
           str(config_path), "--work-dir", str(out_dir), "--max-num-workers", "1", "--debug"]
    print("running:", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, env=env, stdout=sys.stdout, stderr=sys.stderr)
    if proc.returncode != 0:
        raise OpenCompassError(f"opencompass exited with {proc.returncode} on {config_path} "
                               f"(its task logs are under {out_dir}/*/logs)")
