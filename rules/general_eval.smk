# General ability through OpenCompass (evaluation.general): one offline OpenCompass run per
# model x method covers every general benchmark and writes one metrics.json per benchmark.
# OpenCompass has its own environment (envs/opencompass.yaml; ./bootstrap.sh: .venv-opencompass).
# Helpers live in citi.evaluation.opencompass_run (snakemake's lint wants no defs beside rules).

from citi.evaluation import opencompass_run as _oc

general_eval_targets = lambda: _oc.general_eval_targets(config)


rule general_eval:
    input:
        model=lambda wc: method_model(wc.model, wc.method),
        data=sorted({paths.DATA.format(dataset=b["dataset"], split=b["split"])
                     for b in _oc.general_benchmarks(config).values()}),
    output:
        metrics=expand(paths.METRICS, benchmark=list(_oc.general_benchmarks(config)), allow_missing=True),
        work=directory(paths.OPENCOMPASS_WORK),
    wildcard_constraints:
        model=one_of(config["models"]),
        method=one_of(["base", *config.get("methods", {})]),
    log:
        paths.log("general_eval", "{model}/{method}"),
    benchmark:
        paths.benchmark("general_eval", "{model}/{method}")
    threads: threads_for("eval")
    resources:
        **resources_for("eval"),
    conda:
        "../envs/opencompass.yaml"
    script:
        "../scripts/general_eval.py"
