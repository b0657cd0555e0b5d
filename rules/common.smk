# Shared set-up: the package on the path, path patterns, config helpers, targets.

import os
import re
import sys
from pathlib import Path

# Rule scripts import the package from src/ whether or not it is pip-installed.
_SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, _SRC)
# (set, not required: so no envvars directive)
os.environ.update(PYTHONPATH=os.pathsep.join(p for p in (_SRC, os.environ.get("PYTHONPATH")) if p))

from citi import inputs as resolve, paths
from citi.inputs import evaluation as resolve_evaluation, general as resolve_general
from citi.cli import resolve_inputs
from citi.cluster import group_resources
from citi.config import check_config, config_hash
from citi.records import TASKS


# Among jobs ready at once, those on the way to trained models go first: CITI's training chain
# (importance -> selection -> three stages) is the DAG's longest, and evaluations fill the other
# cores meanwhile instead of holding it back until the end (on a 2-core laptop: minutes of the run).
PRIORITY_SELECTION = 20
PRIORITY_TRAINING = 10
# The representation analysis is `all`'s longest single job (about 14 min of one core on the default):
# started last, it ran alone at the end of `all` for 8 of its 14 minutes.
PRIORITY_LONG_ANALYSIS = 5


def one_of(names):
    """A wildcard constraint matching exactly the configured names."""
    # An empty constraint would match anything, so no names means a pattern that never matches.
    return "|".join(re.escape(n) for n in names) or "(?!)"


def resources_for(group):
    """Scheduling resources of a rule group, from config; partition/account from the user's env."""
    return group_resources(config.get("resources", {}).get(group, {}))


def threads_for(group):
    return config.get("resources", {}).get(group, {}).get("cpus", 1)


def _config_path(key, wildcards):
    """A dotted config key as its parts, each formatted with the job's wildcards (their values may hold dots)."""
    where = dict(wildcards.items())
    return [part.format(**where) for part in key.split(".")]


def _without(value, path):
    """``value`` less the entry at ``path`` (a copy along the way; unchanged where the path is absent)."""
    if not path or not isinstance(value, dict) or path[0] not in value:
        return value
    if len(path) == 1:
        return {k: v for k, v in value.items() if k != path[0]}
    return {**value, path[0]: _without(value[path[0]], path[1:])}


def config_params(*keys, without=(), **parts):
    """A ``params:`` value that reruns a rule's jobs when the config their outputs depend on changes
    (Snakemake's default rerun triggers include params; a changed value alone otherwise leaves a stale
    output "up to date"): the short hash (citi.config.config_hash) of the config values at ``keys``.

    keys: dotted config keys whose parts are formatted with the job's wildcards, e.g.
    "datasets.{dataset}.splits.{split}" (an absent key counts as None); none and no ``parts``: the
    whole config. without: dotted keys taken out of those values, e.g. "importance.estimators" beside
    "importance". parts: name -> function of the wildcards, for a value no key names (one stage of a
    method's list)."""

    def params(wildcards):
        drop = [_config_path(key, wildcards) for key in without]
        chosen = {}
        for key in keys:
            path = _config_path(key, wildcards)
            value = config
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
            for gone in drop:
                if len(gone) > len(path) and gone[: len(path)] == path:
                    value = _without(value, gone[len(path) :])
            chosen[".".join(path)] = value
        chosen.update({name: part(wildcards) for name, part in parts.items()})
        return config_hash(chosen if keys or parts else config)

    return params


def inputs_of(rule):
    """The rule's input function: citi.inputs.<rule> on the job's wildcards, the resolver its script
    uses when run alone (one answer to "which files does this job read")."""
    resolver = next(getattr(m, rule) for m in (resolve, resolve_evaluation, resolve_general) if hasattr(m, rule))
    return lambda wildcards: resolve_inputs(resolver, config, dict(wildcards.items()))


def data_targets():
    return [
        paths.DATA.format(dataset=name, split=split)
        for name, ds in config["datasets"].items()
        for split in ds["splits"]
    ]


def model_targets():
    return [paths.MODEL.format(model=m) for m in config["models"]]


def mixture_targets():
    return [paths.MIXTURE.format(mixture=m) for m in config["mixtures"]]


def final_targets(full=False):
    """Every stage's own targets (defined in its .smk). Unless ``full``, a config's ``all_methods``
    narrows them to those methods' checkpoints, router analyses and metrics, and the tables to the
    main and extra ones: what `all` builds in the time a newcomer waits; `full` builds the rest too."""
    scope = None if full else config.get("all_methods")
    unknown = [m for m in scope or () if m not in config.get("methods", {})]
    if unknown:
        raise ValueError(f"config key 'all_methods': {', '.join(map(repr, unknown))} is not a key of methods")
    return (model_targets() + data_targets() + mixture_targets() + analysis_targets(scope)
            + training_targets(scope) + evaluation_targets(scope)
            + table_spec.targets(config, scope=scope))
