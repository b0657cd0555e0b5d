"""Hidden-representation shifts of a tuned model (and the control model) against the base model.

Alone: python scripts/representation.py --config config/config.yaml --model smollm2-135m-instruct \
           --tool_dataset embedded_tools --tuned ft
(--tuned: a method name, whose final checkpoint must exist, or any local HF model folder;
the control model comes from representation.control, likewise a method or a folder)
"""

import logging
from pathlib import Path

from citi import inputs as resolve, paths
from citi.cli import run
from citi.records import TASKS

log = logging.getLogger("citi.representation")


def main(config, inputs, model, tool_dataset, tuned, folder=None):
    import torch

    from citi.representation.shifts import last_token_states, probes, resolve_layers
    from citi.representation.report import write_report
    from citi.data.mixtures import read_records
    from citi.errors import ConfigError
    from citi.io import atomic_path
    from citi.models import load

    spec = config["representation"]
    if tuned not in config.get("methods", {}) and Path(spec["tuned"]).name == tuned:
        tuned = spec["tuned"]  # the wildcard is the configured folder's name
    folders = {kind: inputs[kind] for kind in ("base", "tuned", "control")}
    for kind in ("tuned", "control"):
        if not (Path(folders[kind]) / "config.json").is_file():
            raise ConfigError(f"config key 'representation.{kind}': {folders[kind]} is no model folder (no config.json); "
                              "name a configured method or a local Hugging Face model folder")
    data = dict(zip(TASKS, inputs["data"], strict=True))
    names = {"tuned": Path(str(tuned)).name, "control": Path(str(spec["control"])).name}
    device = "cuda" if torch.cuda.is_available() else "cpu"
    stats, texts, layers = {}, None, None
    for kind, path in folders.items():
        net, tok = load(path, device=device)
        if texts is None:  # probes come from the base model's chat template, identical for every model
            texts = {}
            for task in TASKS:
                records = read_records(data[task])
                texts[task] = probes(tok, records, spec["n_per_task"], spec["seed"])
            layers = resolve_layers(spec["pca_layers"], net.config.num_hidden_layers)
        log.info("%s model %s: %d probes per task", kind, path, spec["n_per_task"])
        stats[kind] = {t: last_token_states(net, tok, texts[t], spec["batch_size"], spec["max_length"], layers)
                       for t in TASKS}
        del net
    meta = {"model": model, "folders": folders, "n_per_task": {t: len(v) for t, v in texts.items()},
            "seed": spec["seed"], "sites": {"ffn": "input of up_proj", "attn": "input of q_proj"}}
    with atomic_path(folder or paths.REPRESENTATION.format(model=model, tool_dataset=tool_dataset,
                                                           tuned=names["tuned"])) as tmp:
        tmp.mkdir()
        write_report(tmp, stats, names, layers, meta)


if __name__ == "__main__":
    run(main, globals(), wildcards=("model", "tool_dataset", "tuned"), outputs=("folder",), inputs=resolve.representation)
