"""Importance figures of one model: per-task heatmaps, Jaccard overlap of thirds, Spearman matrix (+ CSVs).

Alone: python scripts/importance_figures.py --config config/config.yaml --model smollm2-135m-instruct
(needs every task's importance CSV)
"""

from citi import inputs as resolve, paths
from citi.cli import run
from citi.records import TASKS


def main(config, inputs, model, folder=None):
    from citi.importance.figures import write_figures
    from citi.importance.taylor import read_importance
    from citi.io import atomic_path, write_json

    shares = {}
    for task, table in zip(TASKS, inputs["tables"]):
        components, shares[task] = read_importance(table)
    with atomic_path(folder or paths.IMPORTANCE_FIGURES.format(model=model)) as tmp:
        tmp.mkdir()
        summary = write_figures(model, components, shares, tmp)
        write_json(tmp / "summary.json", summary)


if __name__ == "__main__":
    run(main, globals(), wildcards=("model",), outputs=("folder",), inputs=resolve.importance_tables)
