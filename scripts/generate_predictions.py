"""Generate one model's predictions on one configured benchmark (resumable: see citi.generation).

Alone: python scripts/generate_predictions.py --config config/test.yaml --model tiny --method base --benchmark tool_level1
(the model folder and the benchmark's data split must exist: run snakemake on them first)
"""

from citi import paths
from citi.cli import run


def model_folder(config, model, method):
    from citi.paths import final_stage_folder

    return paths.MODEL.format(model=model) if method == "base" else final_stage_folder(config, model, method)


def main(config, model, method, benchmark, predictions=None):
    from citi.evaluation.runner import benchmark_spec, generate

    spec = benchmark_spec(config, benchmark)
    generate(config, model_folder(config, model, method), benchmark,
             paths.DATA.format(dataset=spec["dataset"], split=spec["split"]),
             predictions or paths.PREDICTIONS.format(model=model, method=method, benchmark=benchmark))


if __name__ == "__main__":
    run(main, globals(), wildcards=("model", "method", "benchmark"), outputs=("predictions",))
