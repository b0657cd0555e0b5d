# Training: one job per (method, stage), each writing its own checkpoint folder that the next
# stage loads; weight-replacement models (paper Table 1); merge baselines (WiSE-FT, task arithmetic,
# TIES, DARE: issue 22); router analysis of MOLoRA models.
# training_targets() feeds rule all.

include: "training_inputs.smk"


rule train_stage:
    input:
        unpack(inputs_of("train_stage")),
    output:
        folder=directory(paths.STAGE_CHECKPOINT),
    wildcard_constraints:
        method=one_of(trained_methods()),
    params:
        # the method less its stages, and this stage: a change to a later stage leaves the earlier ones be;
        # how often a stage saves a resumable checkpoint does not change what it trains
        # (tl_training.irm only where the stage is IRM: rl_config)
        config_hash=config_params("methods.{method}", "training", "lora", "molora",
                                  "models.{model}.dtype", stage=stage_config, irm=rl_config,
                                  without=["methods.{method}.stages", "training.save_steps"]),
    log:
        paths.log("train_stage", "{model}/{tool_dataset}/{method}/stage{stage}"),
    benchmark:
        paths.benchmark("train_stage", "{model}/{tool_dataset}/{method}/stage{stage}")
    priority: PRIORITY_TRAINING
    threads: threads_for("train")
    resources:
        **resources_for("train"),
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/train_stage.py"


rule replace_weights:
    input:
        unpack(inputs_of("replace_weights")),
    output:
        # stage 1 of the method, so citi.inputs.method_model finds it like any trained method's model
        folder=directory(paths.STAGE_CHECKPOINT.format(model="{model}", tool_dataset="{tool_dataset}",
                                                       method="{method}", stage=1)),
    wildcard_constraints:
        method=one_of(replacement_methods()),
    params:
        config_hash=config_params("methods.{method}", "models.{model}.dtype"),
    log:
        paths.log("replace_weights", "{model}/{tool_dataset}/{method}"),
    benchmark:
        paths.benchmark("replace_weights", "{model}/{tool_dataset}/{method}")
    threads: threads_for("models")
    resources:
        **resources_for("models"),
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/replace_weights.py"


rule merge_weights:
    input:
        unpack(inputs_of("merge_weights")),
    output:
        # stage 1 of the method, so citi.inputs.method_model finds it like any trained method's model
        folder=directory(paths.STAGE_CHECKPOINT.format(model="{model}", tool_dataset="{tool_dataset}",
                                                       method="{method}", stage=1)),
    wildcard_constraints:
        method=one_of(merge_methods()),
    params:
        config_hash=config_params("methods.{method}", "models.{model}.dtype", "seed"),
    log:
        paths.log("merge_weights", "{model}/{tool_dataset}/{method}"),
    benchmark:
        paths.benchmark("merge_weights", "{model}/{tool_dataset}/{method}")
    threads: threads_for("models")
    resources:
        **resources_for("models"),
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/merge_weights.py"


rule router_analysis:
    input:
        unpack(inputs_of("router_analysis")),
    output:
        folder=directory(paths.ROUTER_ANALYSIS),
    wildcard_constraints:
        method=one_of(router_methods()),
    params:
        config_hash=config_params("router_analysis", "training.cutoff_len"),
    log:
        paths.log("router_analysis", "{model}/{tool_dataset}/{method}"),
    benchmark:
        paths.benchmark("router_analysis", "{model}/{tool_dataset}/{method}")
    threads: threads_for("eval")
    resources:
        **resources_for("eval"),
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/router_analysis.py"
