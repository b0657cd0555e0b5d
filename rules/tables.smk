# Tables stage: the paper's tables from metrics files, the trade-off plot, paired differences and the verdict
# on the paper's claims. Defines table_targets() for rule all.
# Each table is its own target: `snakemake results/tables/main.csv` builds just that one.

from citi.tables import spec as table_spec


# main table, plot, differences and verdict, and ablations/analysis when their methods are configured
# (see citi.tables.spec.targets)
table_targets = lambda: table_spec.targets(config)  # noqa: E731 (a def here trips snakemake --lint)


rule make_table:
    input:
        lambda wildcards: table_spec.required_inputs(config, wildcards.table),
    output:
        csv=report(paths.TABLE, caption="../report/table.rst", category="Tables", subcategory="{table}"),
        markdown=paths.TABLE_MARKDOWN,
        sources=paths.TABLE_SOURCES,
    wildcard_constraints:
        table="main|ablations|analysis|extra|baselines",
    params:
        # the whole config: the table's header names the config and its hash
        config_hash=config_params(),
    log:
        paths.log("make_table", "{table}"),
    benchmark:
        paths.benchmark("make_table", "{table}")
    threads: threads_for("tables")
    resources:
        **resources_for("tables"),
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/make_table.py"


rule plot_tradeoff:
    input:
        sources=paths.TABLE_SOURCES.format(table="main"),
        metrics=lambda wildcards: table_spec.required_inputs(config, "main"),  # item scores for the error bars
    output:
        png=report(paths.TRADEOFF_PLOT, caption="../report/tradeoff.rst", category="Figures"),
    log:
        paths.log("plot_tradeoff"),
    benchmark:
        paths.benchmark("plot_tradeoff")
    threads: threads_for("tables")
    resources:
        **resources_for("tables"),
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/plot_tradeoff.py"


rule retention_vs_gain:
    # {plane}: pareto (the main and ablation tables' rows) or pareto_baselines (the baselines table's)
    input:
        sources=lambda wildcards: [paths.TABLE_SOURCES.format(table=t) for t in table_spec.PARETO_PLANES[wildcards.plane]],
        # item scores for the error bars
        metrics=lambda wildcards: sorted({p for t in table_spec.PARETO_PLANES[wildcards.plane]
                                          for p in table_spec.required_inputs(config, t)}),
    output:
        png=report(paths.PLANE_PLOT, caption="../report/pareto.rst", category="Figures"),
        csv=paths.PLANE_TABLE,
        markdown=paths.PLANE_MARKDOWN,
    wildcard_constraints:
        plane="|".join(table_spec.PARETO_PLANES),
    log:
        paths.log("retention_vs_gain", "{plane}"),
    benchmark:
        paths.benchmark("retention_vs_gain", "{plane}")
    threads: threads_for("tables")
    resources:
        **resources_for("tables"),
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/retention_vs_gain.py"


rule plot_training_loss:
    input:
        lambda wildcards: [f for _, _, folders in table_spec.training_curves(config) for f in folders],
    output:
        png=report(paths.TRAINING_LOSS_PLOT, caption="../report/training_loss.rst", category="Figures"),
    params:
        config_hash=config_params("tables.main_methods"),
    log:
        paths.log("plot_training_loss"),
    benchmark:
        paths.benchmark("plot_training_loss")
    threads: threads_for("tables")
    resources:
        **resources_for("tables"),
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/plot_training_loss.py"


rule baseline_differences:
    input:
        sources=paths.TABLE_SOURCES.format(table="baselines"),
        metrics=lambda wildcards: table_spec.required_inputs(config, "baselines"),  # item scores, paired by id
    output:
        csv=paths.BASELINE_DIFFERENCES,
        markdown=report(paths.BASELINE_DIFFERENCES_MARKDOWN, caption="../report/baseline_differences.rst",
                        category="Tables", subcategory="baselines"),
    params:
        config_hash=config_params("tables.bootstrap"),
    log:
        paths.log("baseline_differences"),
    benchmark:
        paths.benchmark("baseline_differences")
    threads: threads_for("tables")
    resources:
        **resources_for("tables"),
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/baseline_differences.py"


rule make_verdict:
    input:
        sources=paths.TABLE_SOURCES.format(table="main"),
        metrics=lambda wildcards: table_spec.required_inputs(config, "main"),  # item scores, paired by id
    output:
        differences=paths.DIFFERENCES,
        differences_markdown=paths.DIFFERENCES_MARKDOWN,
        verdict=report(paths.VERDICT, caption="../report/verdict.rst", category="Tables", subcategory="verdict"),
    params:
        config_hash=config_params("tables.bootstrap"),
    log:
        paths.log("make_verdict"),
    benchmark:
        paths.benchmark("make_verdict")
    threads: threads_for("tables")
    resources:
        **resources_for("tables"),
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/make_verdict.py"


# The result note (tables.note.path, e.g. docs/results-smollm2-api-bank.md): the last job of `all`, so its
# run-time section covers every other job. Defined only for a config that names a note.
if table_spec.note_path(config):

    rule results_note:
        input:
            sources=paths.TABLE_SOURCES.format(table="main"),
            markdown=paths.TABLE_MARKDOWN.format(table="main"),
            differences=paths.DIFFERENCES,
            verdict=paths.VERDICT,
            rest=[t for t in final_targets() if t != table_spec.note_path(config)],
        output:
            note=table_spec.note_path(config),
        params:
            config_hash=config_params("tables.note"),
        log:
            paths.log("results_note"),
        benchmark:
            paths.benchmark("results_note")
        threads: threads_for("tables")
        resources:
            **resources_for("tables"),
        conda:
            "../envs/tables.yaml"
        script:
            "../scripts/results_note.py"
