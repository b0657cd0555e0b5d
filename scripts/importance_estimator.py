"""Score every component of a model on one task's data with a named estimator (importance.estimators.<name>).

Alone: python scripts/importance_estimator.py --config config/config.yaml --model smollm2-135m-instruct \
           --task tool --estimator ablation_zero
(the same inputs and output format as scripts/importance.py; outputs under results/importance/<model>/<estimator>/)
"""

from citi import inputs as resolve
from citi.cli import run


def main(config, inputs, model, task, estimator, table=None, tensor=None):
    from citi.importance.estimators import score_task

    score_task(config, model, task, estimator, table, tensor, inputs=inputs)


if __name__ == "__main__":
    run(main, globals(), wildcards=("model", "task", "estimator"), outputs=("table", "tensor"), inputs=resolve.importance)
