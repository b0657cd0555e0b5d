# Analysis: component importance per task, component selection, importance figures,
# hidden-representation shifts. analysis_targets() feeds rule all; representation_targets()
# (which needs trained checkpoints) is wired in by the training stage.


include: "analysis_functions.smk"


rule importance:
    # every estimator: {scored} is <task> (the default, importance.method) or <estimator>/<task>
    input:
        unpack(inputs_of("importance")),
    output:
        table=paths.SCORED_IMPORTANCE,
        tensor=paths.SCORED_IMPORTANCE_TENSOR,
    wildcard_constraints:
        scored=f"(?:(?:{one_of(estimators())})/)?(?:{one_of(TASKS)})",
    params:
        # the importance section, and a named estimator's own keys (not the other estimators')
        config_hash=importance_params,
    log:
        paths.log("importance", "{model}/{scored}"),
    benchmark:
        paths.benchmark("importance", "{model}/{scored}")
    priority: PRIORITY_SELECTION
    threads: threads_for("importance")
    resources:
        **resources_for("importance"),
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/importance.py"


rule select_components:
    # {chosen} is <selection> (from the default estimator's tables) or <estimator>/<selection>
    input:
        unpack(inputs_of("select_components")),
    output:
        out=paths.CHOSEN_SELECTION,
    wildcard_constraints:
        chosen=f"(?:(?:{one_of(estimators())})/)?(?:citi|(?:top|bottom|random)[0-9]+)",
    params:
        config_hash=config_params("selection", "seed"),
    log:
        paths.log("select_components", "{model}/{chosen}"),
    benchmark:
        paths.benchmark("select_components", "{model}/{chosen}")
    priority: PRIORITY_SELECTION
    threads: threads_for("tables")
    resources:
        **resources_for("tables"),
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/select_components.py"


rule importance_figures:
    input:
        unpack(inputs_of("importance_tables")),
    output:
        folder=directory(paths.IMPORTANCE_FIGURES),
    log:
        paths.log("importance_figures", "{model}"),
    benchmark:
        paths.benchmark("importance_figures", "{model}")
    threads: threads_for("tables")
    resources:
        **resources_for("tables"),
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/importance_figures.py"


rule representation:
    input:
        unpack(inputs_of("representation")),
    output:
        folder=directory(paths.REPRESENTATION),
    params:
        config_hash=config_params("representation"),
    log:
        paths.log("representation", "{model}/{tool_dataset}/{tuned}"),
    benchmark:
        paths.benchmark("representation", "{model}/{tool_dataset}/{tuned}")
    priority: PRIORITY_LONG_ANALYSIS
    threads: threads_for("importance")
    resources:
        **resources_for("importance"),
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/representation.py"
