"""Generate one model's predictions on one configured benchmark (resumable: see citi.generation).

Alone: python scripts/generate_predictions.py --config config/test.yaml --model tiny --method base --benchmark tool_level1
(the model folder and the benchmark's data split must exist: run snakemake on them first)
"""

from citi import paths
from citi.inputs import evaluation as resolve
from citi.cli import run


def main(config, inputs, model, method, benchmark, predictions=None):
    from citi.evaluation.runner import generate

    generate(config, inputs["model"], benchmark, inputs["data"],
             predictions or paths.PREDICTIONS.format(model=model, method=method, benchmark=benchmark))


if __name__ == "__main__":
    run(main, globals(), wildcards=("model", "method", "benchmark"), outputs=("predictions",), inputs=resolve.generate_predictions)
