"""Score one model's predictions on one configured benchmark into metrics.json.

Alone: python scripts/score_predictions.py --config config/test.yaml --model tiny --method base --benchmark tool_level1
"""

from citi import paths
from citi.inputs import evaluation as resolve
from citi.cli import run


def main(config, inputs, model, method, benchmark, metrics=None):
    from citi.evaluation.runner import score

    score(config, model, method, benchmark, inputs["data"], inputs["predictions"],
          metrics or paths.METRICS.format(model=model, method=method, benchmark=benchmark))


if __name__ == "__main__":
    run(main, globals(), wildcards=("model", "method", "benchmark"), outputs=("metrics",), inputs=resolve.score_predictions)
