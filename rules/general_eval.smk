# General ability through OpenCompass (evaluation.general): one offline OpenCompass run per
# model x method covers every general benchmark and writes one metrics.json per benchmark.
# OpenCompass has its own environment (envs/opencompass.yaml; ./bootstrap.sh: .venv-opencompass).
# GSM8K-like benchmarks can be scored a second time by lm-eval in the main environment
# (evaluation.general.crosscheck): same items, the chat turns OpenCompass renders
# (opencompass_prompts), and the general_eval run joins both figures and flags a gap.
# Helpers live in citi.evaluation.opencompass.run (snakemake's lint wants no defs beside rules).

from citi.evaluation.opencompass import run as _oc

general_eval_targets = lambda: _oc.general_eval_targets(config)
_crosschecked = _oc.crosscheck_names(_oc.general_benchmarks(config), config["evaluation"]["general"])


rule general_eval:
    input:
        unpack(inputs_of("general_eval")),
    output:
        metrics=expand(paths.METRICS, benchmark=list(_oc.general_benchmarks(config)), allow_missing=True),
        work=directory(paths.OPENCOMPASS_WORK),
    wildcard_constraints:
        model=one_of(config["models"]),
        method=one_of(["base", *config.get("methods", {})]),
    params:
        config_hash=config_params("evaluation.general", "evaluation.cap", without=["evaluation.general.methods"]),
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


# A few seconds on one CPU: OpenCompass renders its templates' turns, no model.
rule opencompass_prompts:
    output:
        prompts=paths.OPENCOMPASS_PROMPTS,
    params:
        templates={name: _oc.general_benchmarks(config)[name]["template"] for name in _crosschecked},
        config_hash=config_params("evaluation.general.opencompass"),
    log:
        paths.log("opencompass_prompts"),
    benchmark:
        paths.benchmark("opencompass_prompts")
    threads: 1
    resources:
        **resources_for("tables"),
    conda:
        "../envs/opencompass.yaml"
    script:
        "../scripts/opencompass_prompts.py"


rule general_crosscheck:
    input:
        unpack(inputs_of("general_crosscheck")),
    output:
        crosscheck=paths.CROSSCHECK,
    wildcard_constraints:
        model=one_of(config["models"]),
        method=one_of(["base", *config.get("methods", {})]),
        benchmark=one_of(_crosschecked),
    params:
        config_hash=config_params("evaluation.general.benchmarks.{benchmark}", "evaluation.general.opencompass",
                                  "evaluation.cap"),
    log:
        paths.log("general_crosscheck", "{model}/{method}/{benchmark}"),
    benchmark:
        paths.benchmark("general_crosscheck", "{model}/{method}/{benchmark}")
    threads: threads_for("eval")
    resources:
        **resources_for("eval"),
    conda:
        "../envs/eval.yaml"
    script:
        "../scripts/general_crosscheck.py"
