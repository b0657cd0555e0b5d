# Evaluation stage: predictions of every model x method ("base" = the untuned backbone) on
# every configured benchmark, then their scores. evaluation_targets() (for rule all) and the
# input functions live in evaluation_functions.smk. Generation is resumable: a killed job
# keeps <predictions>.partial (not an output) and the rerun continues from it.

include: "evaluation_functions.smk"


rule generate_predictions:
    input:
        unpack(inputs_of("generate_predictions")),
    output:
        predictions=paths.PREDICTIONS,
    wildcard_constraints:
        model=one_of(config["models"]),
        method=one_of(eval_methods()),
        benchmark=one_of(eval_benchmarks()) or "^$",
    params:
        config_hash=config_params("evaluation", "evaluation.benchmarks.{benchmark}",
                                  without=EVALUATION_ELSEWHERE + ["evaluation.judge"]),
    log:
        paths.log("generate_predictions", "{model}/{method}/{benchmark}"),
    benchmark:
        paths.benchmark("generate_predictions", "{model}/{method}/{benchmark}")
    threads: threads_for("eval")
    resources:
        **resources_for("eval"),
    conda:
        "../envs/eval.yaml"
    script:
        "../scripts/generate_predictions.py"


rule score_predictions:
    input:
        unpack(inputs_of("score_predictions")),
    output:
        metrics=paths.METRICS,
    wildcard_constraints:
        model=one_of(config["models"]),
        method=one_of(eval_methods()),
        benchmark=one_of(eval_benchmarks()) or "^$",
    params:
        config_hash=config_params("evaluation", "evaluation.benchmarks.{benchmark}",
                                  without=EVALUATION_ELSEWHERE + ["evaluation.simulator"]),
    log:
        paths.log("score_predictions", "{model}/{method}/{benchmark}"),
    benchmark:
        paths.benchmark("score_predictions", "{model}/{method}/{benchmark}")
    threads: threads_for("eval")
    resources:
        **resources_for("eval"),
    conda:
        "../envs/eval.yaml"
    script:
        "../scripts/score_predictions.py"
