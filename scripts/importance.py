"""Score every component of a model on one task's data with the default estimator (importance.method).

Alone: python scripts/importance.py --config config/config.yaml --model smollm2-135m-instruct --task tool
(needs the model folder and the task's sampled split; `snakemake <output>` builds them)
"""

from citi import inputs as resolve
from citi.cli import run


def main(config, inputs, model, task, table=None, tensor=None):
    from citi.importance.estimators import score_task

    score_task(config, model, task, None, table, tensor, inputs=inputs)


if __name__ == "__main__":
    run(main, globals(), wildcards=("model", "task"), outputs=("table", "tensor"), inputs=resolve.importance)
