"""General ability of one model x method through OpenCompass, offline: one metrics.json per benchmark.

The lm-eval cross-checks (scripts/general_crosscheck.py) of the benchmarks that have one are joined in.

Alone: python scripts/general_eval.py --config config/test.yaml --model tiny --method base
"""

from citi import paths
from citi.inputs import general as resolve
from citi.cli import run


def main(config, inputs, model, method, metrics=None, work=None):
    from citi.evaluation.opencompass.run import crosscheck_files, general_benchmarks, run_general_eval

    names = list(general_benchmarks(config))
    metrics = list(metrics) if metrics else [paths.METRICS.format(model=model, method=method, benchmark=n) for n in names]
    run_general_eval(config, model, method, inputs["model"],
                     work or paths.OPENCOMPASS_WORK.format(model=model, method=method), dict(zip(names, metrics)),
                     crosscheck_files(config, model, method))


if __name__ == "__main__":
    run(main, globals(), wildcards=("model", "method"), outputs=("metrics", "work"), inputs=resolve.general_eval)
