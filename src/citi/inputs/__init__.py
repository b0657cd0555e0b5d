"""Every job's inputs, resolved in one place from the config and the job's wildcards.

``paths`` says where each kind of file lives; this module says which files a job reads. The
rules' input functions (rules/*.smk) and the scripts run alone (``citi.cli.run``) both call the
resolver named after the rule, so a script under Snakemake reads exactly ``snakemake.input`` and
alone reads what Snakemake would have given it. Each resolver returns {name: path or list of paths},
the names the rule declares. Nothing here imports torch: the DAG is built from it.

The evaluation rules' resolvers are in ``citi.inputs.evaluation``: they ask the scorer registry and
OpenCompass's settings, which the other rules' scripts (and their environments) need not import.
"""

from __future__ import annotations

from .. import paths
from ..data.tool_turns import mixture_tool_file
from ..errors import ConfigError
from ..records import TASKS
from ..data import adapters
from ..data.sources import local_path, source_kind
from ..importance.selection import needed_selections, selection_name, selection_path


# ---- models: base, a method's stages, its final model ----------------------------------------

def tool_dataset(config: dict) -> str:
    """The tool training dataset's name: one per config, a level of the checkpoint paths."""
    return config["tasks"]["tool"]["dataset"]


def stage_folder(config: dict, model: str, method: str, stage: int) -> str:
    """The checkpoint folder of ``method``'s 1-based ``stage``."""
    return paths.STAGE_CHECKPOINT.format(model=model, tool_dataset=tool_dataset(config), method=method, stage=stage)


def stage_count(config: dict, method: str) -> int:
    """Stages a method writes: its training stages, or 1 for a model built without training (a weight
    replacement, ``replace_from``, or a merge, ``merge``), which is written as stage 1."""
    if method not in config.get("methods", {}):
        raise ConfigError(f"config key 'methods': no method '{method}'; defined: {', '.join(config.get('methods', {}))}")
    return len(config["methods"][method].get("stages") or [None])


def method_model(config: dict, model: str, method: str) -> str:
    """The model folder a method produces (its last stage), or the base model for "base"."""
    if method == "base":
        return paths.MODEL.format(model=model)
    return stage_folder(config, model, method, stage_count(config, method))


def stage_start(config: dict, model: str, method: str, stage: int) -> str:
    """The folder stage ``stage`` starts from: the base model, or the previous stage's checkpoint."""
    return paths.MODEL.format(model=model) if stage == 1 else stage_folder(config, model, method, stage - 1)


def model_or_folder(config: dict, model: str, ref: str) -> str:
    """A method name (or "base") -> its model; anything else is a local model folder (the representation
    analysis' tuned and control models may be models trained elsewhere)."""
    if ref == "base" or ref in config.get("methods", {}):
        return method_model(config, model, ref)
    return str(local_path(ref))


# ---- data ------------------------------------------------------------------------------------

def task_data(config: dict, task: str) -> str:
    ref = config["tasks"][task]
    return paths.DATA.format(dataset=ref["dataset"], split=ref["split"])


def benchmark_data(config: dict, benchmark: str, section: str = "evaluation.benchmarks") -> str:
    """A benchmark's sampled split; ``section``: its config section (``evaluation.general.benchmarks``)."""
    spec = config
    for key in section.split("."):
        spec = spec.get(key, {})
    if benchmark not in spec:
        raise ConfigError(f"config key '{section}': no benchmark '{benchmark}'")
    return paths.DATA.format(dataset=spec[benchmark]["dataset"], split=spec[benchmark]["split"])


def dataset_source(config: dict, dataset: str) -> list[str]:
    """What a dataset's files come from: generated data, or the local file/folder it reads. Hub, URL and
    package sources are fetched by the job itself, and an adapter's software source (``source_is_data``) is
    an environment, so they are no file Snakemake can watch."""
    ds = config["datasets"][dataset]
    kind = source_kind(ds["source"])
    if not adapters.get(ds["adapter"]).source_is_data:  # an environment that ships the data (BFCL's), as pypi:
        return []
    if kind == "generated":
        return [paths.EMBEDDED_ROOT]
    if kind == "local":
        return [str(local_path(ds["source"]))]
    return []


# ---- one resolver per rule ---------------------------------------------------------------------

def prepare_split(config: dict, dataset: str, split: str) -> dict:
    return {"source": dataset_source(config, dataset)}


def build_mixture(config: dict, mixture: str) -> dict:
    """task -> the file a mixture reads for it (the tool data may be its per-turn form: ``tool_turns``)."""
    from ..data.mixtures import mixture_tasks

    spec = config["mixtures"][mixture]
    return {t: mixture_tool_file(config, spec) if t == "tool" else task_data(config, t) for t in mixture_tasks(spec)}


def importance(config: dict, model: str, scored: str) -> dict:
    """The model and the task's data, for the default estimator ({scored} = task) or a named one."""
    return {"model": paths.MODEL.format(model=model), "data": task_data(config, paths.split_scored(scored)[1])}


def select_components(config: dict, model: str, chosen: str) -> dict:
    """Every task's importance table, of the estimator the selection {chosen} is made from."""
    return importance_tables(config, model, paths.split_scored(chosen)[0])


def importance_tables(config: dict, model: str, estimator: str | None = None) -> dict:
    """Every task's importance table, of the default estimator (None) or a named one."""
    if estimator is None:
        return {"tables": [paths.IMPORTANCE.format(model=model, task=t) for t in TASKS]}
    return {"tables": [paths.ESTIMATOR_IMPORTANCE.format(model=model, estimator=estimator, task=t) for t in TASKS]}


def train_stage(config: dict, model: str, method: str, stage: int | str) -> dict:
    """The folder a stage starts from, its mixture, and the selection files it reads (in
    ``needed_selections`` order)."""
    spec = config["methods"][method]
    stage = int(stage)
    stages = spec.get("stages") or []
    if not 0 < stage <= len(stages):
        raise ConfigError(f"config key 'methods.{method}.stages': method '{method}' has {len(stages)} stage(s); "
                          f"no stage {stage}")
    return {"start": stage_start(config, model, method, stage),
            "mixture": paths.MIXTURE.format(mixture=spec["mixture"]),
            "selection": [selection_path(model, s, spec) for s in needed_selections(method, spec)]}


def replace_weights(config: dict, model: str, method: str) -> dict:
    spec = config["methods"][method]
    selection = selection_name(spec["components"], spec["fraction"], f"methods.{method}")
    return {"base": paths.MODEL.format(model=model), "tuned": method_model(config, model, spec["replace_from"]),
            "selection": paths.SELECTION.format(model=model, selection=selection)}


def merge_weights(config: dict, model: str, method: str) -> dict:
    donor = config["methods"][method]["merge"].get("from", "ft")
    return {"base": paths.MODEL.format(model=model), "tuned": method_model(config, model, donor)}


def router_analysis(config: dict, model: str, method: str) -> dict:
    spec = config["router_analysis"]
    return {"model": method_model(config, model, method),
            "data": [paths.DATA.format(**ref) for ref in spec["tool"] + spec["general"]]}


def representation_name(config: dict, ref: str) -> str:
    """The {tuned} wildcard for a configured tuned model: the method name, or the folder's name."""
    from pathlib import Path

    return ref if ref in config.get("methods", {}) else Path(ref).name


def representation(config: dict, model: str, tuned: str) -> dict:
    """Base, tuned and control models (a method's model, or a local folder) and every task's data."""
    spec = config["representation"]
    ref = tuned if tuned in config.get("methods", {}) else spec["tuned"]
    if representation_name(config, ref) != tuned:
        raise ConfigError(f"config key 'representation.tuned': '{tuned}' is neither a method nor representation.tuned")
    return {"base": paths.MODEL.format(model=model), "tuned": model_or_folder(config, model, ref),
            "control": model_or_folder(config, model, spec["control"]), "data": [task_data(config, t) for t in TASKS]}
