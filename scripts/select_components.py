"""Choose a component set (the CITI MOLoRA/unfrozen sets, or top|bottom|random<k>) from the importance tables.

Alone: python scripts/select_components.py --config config/config.yaml --model smollm2-135m-instruct --selection citi
(needs every task's importance CSV: results/importance/<model>/<task>.csv)
"""

from citi import inputs as resolve
from citi.cli import run


def main(config, inputs, model, selection, out=None):
    from citi.importance.estimators import write_selection

    write_selection(config, model, selection, inputs["tables"], None, out)


if __name__ == "__main__":
    run(main, globals(), wildcards=("model", "selection"), outputs=("out",), inputs=resolve.importance_tables)
