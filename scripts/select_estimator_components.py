"""Choose a component set from a named estimator's importance tables (importance.estimators.<name>).

Alone: python scripts/select_estimator_components.py --config config/config.yaml \
           --model smollm2-135m-instruct --estimator ablation_zero --selection citi
(needs every task's CSV under results/importance/<model>/<estimator>/)
"""

from citi import inputs as resolve
from citi.cli import run


def main(config, inputs, model, estimator, selection, out=None):
    from citi.importance.estimators import write_selection

    write_selection(config, model, selection, inputs["tables"], estimator, out)


if __name__ == "__main__":
    run(main, globals(), wildcards=("model", "estimator", "selection"), outputs=("out",), inputs=resolve.importance_tables)
