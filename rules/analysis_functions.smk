# Input functions and targets of the analysis stage (rules/analysis.smk includes this file;
# snakemake --lint wants functions and rules in separate files).


def importance_tables(wildcards):
    return [paths.IMPORTANCE.format(model=wildcards.model, task=t) for t in TASKS]


def estimators():
    """Names of the configured importance estimators beside the default (importance.estimators)."""
    return list(config.get("importance", {}).get("estimators", {}))


def estimator_importance_tables(wildcards):
    return [paths.ESTIMATOR_IMPORTANCE.format(model=wildcards.model, estimator=wildcards.estimator, task=t)
            for t in TASKS]


def representation_ref(model, ref):
    """A method name -> its final checkpoint; anything else is a local HF model folder."""
    if ref in config.get("methods", {}) or ref == "base":
        return method_model(model, ref)
    return str(local_path(ref))


def representation_name(ref):
    """The {tuned} wildcard for a configured tuned model: the method name, or the folder's name."""
    return ref if ref in config.get("methods", {}) else Path(ref).name


def representation_inputs(wildcards):
    spec = config["representation"]
    tuned = wildcards.tuned if wildcards.tuned in config.get("methods", {}) else spec["tuned"]
    if representation_name(tuned) != wildcards.tuned:
        raise ValueError(f"representation: '{wildcards.tuned}' is neither a method nor representation.tuned")
    return {
        "base": paths.MODEL.format(model=wildcards.model),
        "tuned": representation_ref(wildcards.model, tuned),
        "control": representation_ref(wildcards.model, spec["control"]),
        "data": [task_data(t) for t in TASKS],
    }


def analysis_targets(methods=None):
    """Importance, selections and figures; of the named estimators, those ``methods`` (None: all) train on."""
    used = [e for e in estimators()
            if methods is None or any(config["methods"][m].get("importance") == e for m in methods)]
    out = []
    for model in config["models"]:
        out += [paths.IMPORTANCE.format(model=model, task=t) for t in TASKS]
        out += [paths.SELECTION.format(model=model, selection="citi"),
                paths.IMPORTANCE_FIGURES.format(model=model)]
        out += [paths.ESTIMATOR_SELECTION.format(model=model, estimator=e, selection="citi") for e in used]
    return out


def representation_targets():
    name = representation_name(config["representation"]["tuned"])
    return [paths.REPRESENTATION.format(model=m, tool_dataset=tool_dataset(), tuned=name) for m in config["models"]]


