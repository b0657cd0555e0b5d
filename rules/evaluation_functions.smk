# Input functions and targets of the evaluation rules (kept apart from the rules: snakemake lint).

from citi.tables import spec as table_spec


# evaluation keys a prediction or score job does not read, left out of its params (rules/common.smk config_params):
# the other benchmarks, OpenCompass's general evaluation, and which methods a benchmark evaluates
EVALUATION_ELSEWHERE = ["evaluation.benchmarks", "evaluation.general", "evaluation.benchmarks.{benchmark}.methods"]


def eval_benchmarks():
    return list(config.get("evaluation", {}).get("benchmarks", {}))


def eval_methods():
    return ["base", *config.get("methods", {})]


def evaluation_targets(methods=None):
    """Every evaluated model x method x benchmark metrics file; base and ``methods`` only, unless None."""
    return [paths.METRICS.format(model=model, method=method, benchmark=benchmark)
            for model in config["models"] for benchmark in eval_benchmarks()
            for method in table_spec.evaluated_methods(config, benchmark)
            if methods is None or method == "base" or method in methods]
