"""Score one model's predictions on one configured benchmark into metrics.json.

Alone: python scripts/score_predictions.py --config config/test.yaml --model tiny --method base --benchmark tool_level1
"""

from citi import paths
from citi.cli import run


def main(config, model, method, benchmark, metrics=None):
    from citi.evaluation.runner import benchmark_spec, score

    spec = benchmark_spec(config, benchmark)
    where = {"model": model, "method": method, "benchmark": benchmark}
    score(config, model, method, benchmark, paths.DATA.format(dataset=spec["dataset"], split=spec["split"]),
          paths.PREDICTIONS.format(**where), metrics or paths.METRICS.format(**where))


if __name__ == "__main__":
    run(main, globals(), wildcards=("model", "method", "benchmark"), outputs=("metrics",))
