# Input functions and targets of the analysis stage (rules/analysis.smk includes this file;
# snakemake --lint wants functions and rules in separate files).


def estimators():
    """Names of the configured importance estimators beside the default (importance.estimators)."""
    return list(config.get("importance", {}).get("estimators", {}))


def importance_params(wildcards):
    """The importance job's params: the importance section less the named estimators, plus this job's own."""
    estimator = paths.split_scored(wildcards.scored)[0]
    keys = ["importance"] + ([f"importance.estimators.{estimator}"] if estimator else [])
    return config_params(*keys, without=["importance.estimators"])(wildcards)


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
    name = resolve.representation_name(config, config["representation"]["tuned"])
    return [paths.REPRESENTATION.format(model=m, tool_dataset=resolve.tool_dataset(config), tuned=name) for m in config["models"]]


