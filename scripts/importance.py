"""Score every component of a model on one task's data (first-order Taylor importance).

Alone: python scripts/importance.py --config config/config.yaml --model smollm2-135m-instruct --task tool
(needs the model folder and the task's sampled split; `snakemake <output>` builds them)
"""

import logging

from citi import paths
from citi.cli import run

log = logging.getLogger("citi.importance")


def main(config, model, task, table=None, tensor=None):
    import torch

    from citi.analysis.importance import score_records, write_importance
    from citi.data.mixtures import read_records
    from citi.data.sampling import sample_indices
    from citi.models import load

    spec = config["importance"]
    ref = config["tasks"][task]
    data = paths.DATA.format(dataset=ref["dataset"], split=ref["split"])
    records = read_records(data)
    records = [records[i] for i in sample_indices(len(records), spec["n_per_task"], spec["seed"])]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    net, tok = load(paths.MODEL.format(model=model), device=device)
    log.info("scoring %d %s examples on %s (%s)", len(records), task, model, device)
    result = score_records(net, tok, records, spec["batch_size"], spec["max_length"], log=log)
    meta = {"model": model, "task": task, "data": data, "seed": spec["seed"], "n_requested": spec["n_per_task"],
            "batch_size": spec["batch_size"], "max_length": spec["max_length"], "dtype": str(net.dtype)}
    write_importance(table or paths.IMPORTANCE.format(model=model, task=task),
                     tensor or paths.IMPORTANCE_TENSOR.format(model=model, task=task),
                     result, spec["normalisation"], meta)


if __name__ == "__main__":
    run(main, globals(), wildcards=("model", "task"), outputs=("table", "tensor"))
