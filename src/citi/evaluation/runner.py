"""Generating and scoring one (model, method, benchmark): what the two evaluation rules run.

``evaluation.benchmarks.<name>`` names the dataset split, the scorer and the generation
settings (defaults from ``evaluation``). Generation writes predictions.jsonl; scoring
writes metrics.json in the format the tables read::

    {"benchmark", "model", "method", "scorer", "metrics": {name: percent}, "n", "cap",
     "item_ids", "config_hash", "generation": {...}, "per_item": [...],
     "item_scores": {metric: {item id: value}}, ...scorer extras}

``item_scores`` holds one value per scored item for each metric whose mean over items is
the metric (the tables bootstrap their confidence intervals from it).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from .. import paths
from ..config import config_hash
from ..errors import ConfigError, RecordError
from ..generation import Engine, GenerationSettings, run_predictions
from ..io import read_jsonl, write_json
from ..data.sources import resolve
from . import registry

log = logging.getLogger(__name__)


def benchmark_spec(config: dict, benchmark: str) -> dict:
    benchmarks = config.get("evaluation", {}).get("benchmarks", {})
    if benchmark not in benchmarks:
        raise ConfigError(f"config key 'evaluation.benchmarks': no benchmark '{benchmark}'; "
                          f"configured: {', '.join(benchmarks) or 'none'}")
    spec, ev = benchmarks[benchmark], config["evaluation"]
    ds = config["datasets"].get(spec["dataset"])
    if ds is None or spec["split"] not in ds["splits"]:
        raise ConfigError(f"config key 'evaluation.benchmarks.{benchmark}': {spec['dataset']}/{spec['split']} "
                          f"is not a configured dataset split")
    return {**spec, "max_new_tokens": spec.get("max_new_tokens", ev["max_new_tokens"]),
            "cap": spec.get("cap", ev["cap"]), "stop": spec.get("stop", []), "options": spec.get("options", {})}


def settings_for(config: dict, spec: dict) -> GenerationSettings:
    return GenerationSettings(max_new_tokens=spec["max_new_tokens"], batch_size=config["evaluation"]["batch_size"],
                              stop=tuple(spec["stop"]))


def benchmark_records(spec: dict, data: str | Path) -> list[dict]:
    """The split's records, the first ``cap`` of them (the split file is already a seeded sample)."""
    records = read_jsonl(data)
    return records[:spec["cap"]] if spec["cap"] else records


def data_root(config: dict, dataset: str) -> Path:
    """The dataset's raw source (file or folder), for scorers that need more than the records."""
    ds = config["datasets"][dataset]
    return resolve(ds["source"], ds.get("revision"), owner=f"datasets.{dataset}.source").path


def loopback_model(config: dict, role: str) -> str | None:
    """The model folder a 'loopback' judge/simulator serves (a rule input), if any."""
    spec = config["evaluation"][role]
    name = spec["loopback"]["model"]
    if spec["base_url"] != "loopback" or not name:
        return None
    if name not in config["models"]:
        raise ConfigError(f"config key 'evaluation.{role}.loopback.model': '{name}' is not under models")
    return paths.MODEL.format(model=name)


@contextlib.contextmanager
def endpoint(config: dict, role: str, log_path: str | None = None):
    """Yield the base URL of ``evaluation.<role>``, starting the loopback server if configured."""
    spec = config["evaluation"][role]
    if spec["base_url"] != "loopback":
        yield spec["base_url"]
        return
    from .loopback import LoopbackServer

    model, script = loopback_model(config, role), spec["loopback"]["script"]
    if not model and not script:
        raise ConfigError(f"config key 'evaluation.{role}.loopback': a loopback endpoint needs a model or a script")
    with LoopbackServer(model=model if not script else None, script=script, log_path=log_path) as server:
        yield server.base_url


def needs_endpoint(config: dict, spec: dict, stage: str) -> str | None:
    """'simulator' when generation starts one, 'judge' when scoring does, else None.

    A scorer that takes ``judge_url`` needs the judge; an agent that takes ``simulator_url``
    the simulator (ToolAlpaca: only when its config asks for them).
    """
    role, param = ("simulator", "simulator_url") if stage == "generate" else ("judge", "judge_url")
    fn = registry.agent_for(spec["scorer"]) if stage == "generate" else registry.get(spec["scorer"])
    if not registry.accepts(fn, param):
        return None
    if spec["scorer"] == "toolalpaca":
        ta = config["evaluation"]["toolalpaca"]
        if (stage == "generate" and ta["execution"] != "simulated") or (stage == "score" and not ta["judge"]):
            return None
    return role


def generate(config: dict, model_dir: str | Path, benchmark: str, data: str | Path, out: str | Path) -> None:
    spec = benchmark_spec(config, benchmark)
    records = benchmark_records(spec, data)
    settings = settings_for(config, spec)
    engine = Engine.from_folder(model_dir, dtype=config["evaluation"]["dtype"], device=config["evaluation"]["device"])
    fingerprint = {"model": str(model_dir), "benchmark": benchmark, "n": len(records)}
    agent = registry.agent_for(spec["scorer"])
    if agent is None:
        run_predictions(engine, records, out, settings, fingerprint)
        return
    role = needs_endpoint(config, spec, "generate")
    with endpoint(config, role, f"{out}.server.log") if role else contextlib.nullcontext() as url:
        # a benchmark's options reach its agent as keywords it names (e.g. choice_accuracy's distractors)
        context = {**spec["options"], "data_root": data_root(config, spec["dataset"]), "split": spec["split"],
                   "evaluation": config["evaluation"], "simulator_url": url, "fingerprint": fingerprint}
        registry.call(agent, engine, records, out, settings, context=context, options={},
                      owner=f"evaluation.benchmarks.{benchmark}")


def check_item_scores(result: dict, where: str) -> None:
    """Each metric's item scores must average to the metric: the intervals are computed from them."""
    from ..stats import check_item_mean

    for name, values in (result.get("item_scores") or {}).items():
        if name not in result["metrics"]:
            raise RecordError(f"{where}: item_scores['{name}'] has no matching metric")
        check_item_mean(values, result["metrics"][name], f"{where}: item_scores['{name}']")


def read_predictions(path: str | Path) -> dict[str, dict]:
    """A predictions file's rows by id. Each id once: a repeated id would be scored as one of its rows,
    silently (two runs appended to one file, or a merge gone wrong)."""
    rows, first = {}, {}
    for n, row in enumerate(read_jsonl(path), 1):  # n counts records (blank lines are skipped)
        pid = row.get("id")
        if not isinstance(pid, str):
            raise RecordError(f"{path}: record {n}: prediction without a string 'id' (got {pid!r})")
        if pid in rows:
            raise RecordError(f"{path}: record {n}: duplicate prediction id '{pid}' (first at record {first[pid]}); "
                              f"regenerate the predictions")
        rows[pid], first[pid] = row, n
    return rows


def score(config: dict, model: str, method: str, benchmark: str, data: str | Path,
          predictions: str | Path, metrics: str | Path) -> dict:
    spec = benchmark_spec(config, benchmark)
    records = benchmark_records(spec, data)
    rows = read_predictions(predictions)
    missing = [r["id"] for r in records if r["id"] not in rows]
    if missing:
        raise RecordError(f"{predictions}: no prediction for {len(missing)} record(s), e.g. {missing[0]!r}; "
                          "regenerate the predictions")
    scorer = registry.get(spec["scorer"], owner=f"evaluation.benchmarks.{benchmark}.scorer")
    role = needs_endpoint(config, spec, "score")
    with endpoint(config, role, f"{metrics}.server.log") if role else contextlib.nullcontext() as url:
        context = {"data_root": data_root(config, spec["dataset"]), "split": spec["split"],
                   "evaluation": config["evaluation"], "prediction_rows": rows, "judge_url": url}
        result = registry.call(scorer, records, {i: r["prediction"] for i, r in rows.items()},
                               context=context, options=spec["options"], owner=f"evaluation.benchmarks.{benchmark}")
    check_item_scores(result, f"{metrics} (scorer {spec['scorer']})")
    gen = settings_for(config, spec).as_dict()
    gen["new_tokens_total"] = sum(rows[r["id"]].get("new_tokens", 0) for r in records)
    out = {**{k: v for k, v in result.items() if k not in ("metrics", "n", "per_item")},
           "benchmark": benchmark, "model": model, "method": method, "scorer": spec["scorer"],
           "metrics": result["metrics"], "n": result["n"], "cap": spec["cap"],
           "item_ids": [r["id"] for r in records], "config_hash": config_hash(config),
           "generation": gen, "per_item": result.get("per_item", [])}
    write_json(metrics, out)
    return out
