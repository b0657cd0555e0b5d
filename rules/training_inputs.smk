# Inputs and targets of the training rules (rules/training.smk): which methods train,
# which are weight replacements or merges (no training), which get a router analysis.


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


def stage_config(wildcards):
    """The config of the job's stage (a params value: rules/common.smk config_params); None past the last."""
    stages = config["methods"][wildcards.method].get("stages") or []
    stage = int(wildcards.stage)
    return stages[stage - 1] if 0 < stage <= len(stages) else None


def rl_config(wildcards):
    """tl_training.irm for an IRM stage (kind ppo or grpo: citi.methods.tl_training.irm.RL_KINDS, not imported here
    to keep torch out of the DAG's parse), else None: only those stages read it."""
    stage = stage_config(wildcards)
    return config.get("tl_training", {}).get("irm") if stage and stage.get("kind") in ("ppo", "grpo") else None


def training_targets(methods=None):
    """Every method's model and router analysis; with ``methods``, those and the representation analysis'
    tuned and control models only."""
    rep = config.get("representation", {})
    keep = lambda m: methods is None or m in {*methods, rep.get("tuned"), rep.get("control")}  # noqa: E731
    out = [resolve.method_model(config, model, method) for model in config["models"] for method in config.get("methods", {})
           if keep(method)]
    out += [paths.ROUTER_ANALYSIS.format(model=model, tool_dataset=resolve.tool_dataset(config), method=method)
            for model in config["models"] for method in router_methods() if keep(method)]
    if config.get("representation", {}).get("tuned") in config.get("methods", {}):
        out += representation_targets()
    return out
