"""Weight replacement (paper Table 1): copy a fine-tuned method's weights into the base model's
top/bottom k% components. Writes results/checkpoints/<model>/<tool_dataset>/<method>/stage1/.

Alone: python scripts/replace_weights.py --config config/test.yaml --model tiny \
           --tool_dataset embedded_tools --method replace_top20
"""

from citi import inputs as resolve, paths
from citi.cli import run


def main(config, inputs, model, tool_dataset, method, folder=None):
    from pathlib import Path

    from citi.config import config_hash
    from citi.io import read_json, sha256_file
    from citi.training.replace import replace_weights

    spec = config["methods"][method]
    sel_file, tuned = inputs["selection"], inputs["tuned"]
    selection = Path(sel_file).stem
    out = folder or paths.STAGE_CHECKPOINT.format(model=model, tool_dataset=tool_dataset, method=method, stage=1)
    provenance = {"name": f"{model}/{method}", "method": method, "stage": 1, "stage_name": "replace",
                  "base_model": {"name": model, "folder": inputs["base"]},
                  "replaced_from": {"method": spec["replace_from"], "folder": tuned},
                  "selection": {selection: {"file": sel_file, "sha256": sha256_file(sel_file)}},
                  "config_hash": config_hash(config, ("models", "tasks", "importance", "selection", "methods")),
                  "dtype": config["models"][model].get("dtype", "float32"), "trust_remote_code": False}
    replace_weights(inputs["base"], tuned, read_json(sel_file)["selected"], out, provenance)


if __name__ == "__main__":
    run(main, globals(), wildcards=("model", "tool_dataset", "method"), outputs=("folder",), inputs=resolve.replace_weights)
