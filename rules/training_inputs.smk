# Inputs and targets of the training rules (rules/training.smk): which methods train,
# which are weight replacements or merges (no training), which get a router analysis.

from citi.training.methods import needed_selections, selection_name, selection_path


def trained_methods():
    return [m for m, spec in config.get("methods", {}).items() if not {"replace_from", "merge"} & set(spec)]


def replacement_methods():
    return [m for m, spec in config.get("methods", {}).items() if "replace_from" in spec]


def merge_methods():
    return [m for m, spec in config.get("methods", {}).items() if "merge" in spec]


def router_methods():
    """MOLoRA methods whose router has a null slot to analyse (not the w/o L_r ablation)."""
    if "router_analysis" not in config:
        return []
    return [m for m in trained_methods()
            if config["methods"][m].get("adapter") == "molora"
            and {**config["molora"], **config["methods"][m].get("molora", {})}.get("null_slot", True)]


def stage_inputs(wildcards):
    spec = config["methods"][wildcards.method]
    stage = int(wildcards.stage)
    if stage > len(spec["stages"]):
        raise ValueError(f"method '{wildcards.method}' has {len(spec['stages'])} stage(s); no stage {stage}")
    start = paths.MODEL.format(model=wildcards.model) if stage == 1 else stage_checkpoint(wildcards.model, wildcards.method, stage - 1)
    return {
        "start": start,
        "mixture": paths.MIXTURE.format(mixture=spec["mixture"]),
        "selection": [selection_path(wildcards.model, s, spec) for s in needed_selections(wildcards.method, spec)],
    }


def stage_config(wildcards):
    """The config of the job's stage (a params value: rules/common.smk config_params); None past the last."""
    stages = config["methods"][wildcards.method].get("stages") or []
    stage = int(wildcards.stage)
    return stages[stage - 1] if 0 < stage <= len(stages) else None


def rl_config(wildcards):
    """tl_training.irm for an IRM stage (kind ppo or grpo: citi.training.irm.RL_KINDS, not imported here
    to keep torch out of the DAG's parse), else None: only those stages read it."""
    stage = stage_config(wildcards)
    return config.get("tl_training", {}).get("irm") if stage and stage.get("kind") in ("ppo", "grpo") else None


def replacement_inputs(wildcards):
    spec = config["methods"][wildcards.method]
    selection = selection_name(spec["components"], spec["fraction"], f"methods.{wildcards.method}")
    return {
        "base": paths.MODEL.format(model=wildcards.model),
        "tuned": method_model(wildcards.model, spec["replace_from"]),
        "selection": paths.SELECTION.format(model=wildcards.model, selection=selection),
    }


def merge_inputs(wildcards):
    donor = config["methods"][wildcards.method]["merge"].get("from", "ft")
    return {"base": paths.MODEL.format(model=wildcards.model), "tuned": method_model(wildcards.model, donor)}


def router_inputs(wildcards):
    spec = config["router_analysis"]
    return {
        "model": method_model(wildcards.model, wildcards.method),
        "data": [paths.DATA.format(**ref) for ref in spec["tool"] + spec["general"]],
    }


def training_targets(methods=None):
    """Every method's model and router analysis; with ``methods``, those and the representation analysis'
    tuned and control models only."""
    rep = config.get("representation", {})
    keep = lambda m: methods is None or m in {*methods, rep.get("tuned"), rep.get("control")}  # noqa: E731
    out = [method_model(model, method) for model in config["models"] for method in config.get("methods", {})
           if keep(method)]
    out += [paths.ROUTER_ANALYSIS.format(model=model, tool_dataset=tool_dataset(), method=method)
            for model in config["models"] for method in router_methods() if keep(method)]
    if config.get("representation", {}).get("tuned") in config.get("methods", {}):
        out += representation_targets()
    return out
