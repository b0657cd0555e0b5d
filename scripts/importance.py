"""Component importance of one task, by the default estimator (importance.method) or a named one
(importance.estimators.<name>): results/importance/<model>/[<estimator>/]<task>.{csv,pt}.

Alone: python scripts/importance.py --config config/config.yaml --model smollm2-135m-instruct --scored tool
       (--scored ablation_zero/tool: the named estimator ablation_zero)
"""

from citi import inputs as resolve, paths
from citi.cli import run


def main(config, inputs, model, scored, table=None, tensor=None):
    from citi.importance.estimators import score_task

    estimator, task = paths.split_scored(scored)
    score_task(config, model, task, estimator, table, tensor, inputs=inputs)


if __name__ == "__main__":
    run(main, globals(), wildcards=("model", "scored"), outputs=("table", "tensor"), inputs=resolve.importance)
