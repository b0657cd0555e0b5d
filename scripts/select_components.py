"""Choose a component set (the CITI MOLoRA/unfrozen sets, or top|bottom|random<k>) from the importance tables.

Alone: python scripts/select_components.py --config config/config.yaml --model smollm2-135m-instruct --selection citi
(needs every task's importance CSV: results/importance/<model>/<task>.csv)
"""

from citi import paths
from citi.cli import run
from citi.records import TASKS


def main(config, model, selection, out=None):
    from citi.analysis.importance import read_importance
    from citi.analysis.selection import select
    from citi.errors import RecordError
    from citi.io import write_json

    components, shares = None, {}
    for task in TASKS:
        path = paths.IMPORTANCE.format(model=model, task=task)
        comps, shares[task] = read_importance(path)
        if components is not None and comps != components:
            raise RecordError(f"{path}: its components differ from the other tasks' tables")
        components = comps
    write_json(out or paths.SELECTION.format(model=model, selection=selection),
               select(selection, components, shares, config, model))


if __name__ == "__main__":
    run(main, globals(), wildcards=("model", "selection"), outputs=("out",))
