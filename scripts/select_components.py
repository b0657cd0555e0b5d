"""A component selection (citi, topK, bottomK, randomK) from the default estimator's importance tables or a
named estimator's: results/selection/<model>/[<estimator>/]<selection>.json.

Alone: python scripts/select_components.py --config config/config.yaml --model smollm2-135m-instruct --chosen citi
       (--chosen ablation_zero/citi: from the named estimator ablation_zero)
"""

from citi import inputs as resolve, paths
from citi.cli import run


def main(config, inputs, model, chosen, out=None):
    from citi.importance.estimators import write_selection

    estimator, selection = paths.split_scored(chosen)
    write_selection(config, model, selection, inputs["tables"], estimator, out)


if __name__ == "__main__":
    run(main, globals(), wildcards=("model", "chosen"), outputs=("out",), inputs=resolve.select_components)
