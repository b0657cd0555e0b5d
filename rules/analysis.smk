# Analysis: component importance per task, component selection, importance figures,
# hidden-representation shifts. analysis_targets() feeds rule all; representation_targets()
# (which needs trained checkpoints) is wired in by the training stage.


include: "analysis_functions.smk"


rule importance:
    input:
        unpack(inputs_of("importance")),
    output:
        table=paths.IMPORTANCE,
        tensor=paths.IMPORTANCE_TENSOR,
    params:
        config_hash=config_params("importance", without=["importance.estimators"]),
    log:
        paths.log("importance", "{model}/{task}"),
    benchmark:
        paths.benchmark("importance", "{model}/{task}")
    priority: PRIORITY_SELECTION
    threads: threads_for("importance")
    resources:
        **resources_for("importance"),
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/importance.py"


rule importance_estimator:
    # the same job with a named estimator (importance.estimators.<estimator>)
    input:
        unpack(inputs_of("importance")),
    output:
        table=paths.ESTIMATOR_IMPORTANCE,
        tensor=paths.ESTIMATOR_IMPORTANCE_TENSOR,
    wildcard_constraints:
        estimator=one_of(estimators()),
    params:
        config_hash=config_params("importance", "importance.estimators.{estimator}", without=["importance.estimators"]),
    log:
        paths.log("importance_estimator", "{model}/{estimator}/{task}"),
    benchmark:
        paths.benchmark("importance_estimator", "{model}/{estimator}/{task}")
    priority: PRIORITY_SELECTION
    threads: threads_for("importance")
    resources:
        **resources_for("importance"),
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/importance_estimator.py"


rule select_components:
    input:
        unpack(inputs_of("importance_tables")),
    output:
        out=paths.SELECTION,
    params:
        config_hash=config_params("selection", "seed"),
    log:
        paths.log("select_components", "{model}/{selection}"),
    benchmark:
        paths.benchmark("select_components", "{model}/{selection}")
    priority: PRIORITY_SELECTION
    threads: threads_for("tables")
    resources:
        **resources_for("tables"),
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/select_components.py"


rule select_estimator_components:
    input:
        unpack(inputs_of("importance_tables")),
    output:
        out=paths.ESTIMATOR_SELECTION,
    wildcard_constraints:
        estimator=one_of(estimators()),
    params:
        config_hash=config_params("selection", "seed"),
    log:
        paths.log("select_estimator_components", "{model}/{estimator}/{selection}"),
    benchmark:
        paths.benchmark("select_estimator_components", "{model}/{estimator}/{selection}")
    priority: PRIORITY_SELECTION
    threads: threads_for("tables")
    resources:
        **resources_for("tables"),
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/select_estimator_components.py"


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
