"""Merge baselines (issue 22): the base model merged with a trained method's weights (WiSE-FT, task
arithmetic, TIES, DARE; methods.<method>.merge), no training.
Writes results/checkpoints/<model>/<tool_dataset>/<method>/stage1/.

Alone: python scripts/merge_weights.py --config config/config.yaml --model smollm2-135m-instruct \
           --tool_dataset embedded_tools --method wise_ft05
"""

from citi import inputs as resolve, paths
from citi.cli import run


def main(config, inputs, model, tool_dataset, method, folder=None):
    from dataclasses import asdict

    from citi.config import config_hash
    from citi.methods.merging import merge_settings
    from citi.methods.merging.model import merge_models

    settings = merge_settings(method, config["methods"][method], config["seed"])
    tuned = inputs["tuned"]
    out = folder or paths.STAGE_CHECKPOINT.format(model=model, tool_dataset=tool_dataset, method=method, stage=1)
    provenance = {"name": f"{model}/{method}", "method": method, "stage": 1, "stage_name": "merge",
                  "base_model": {"name": model, "folder": inputs["base"]},
                  "merged_from": {"method": settings.donor, "folder": tuned}, "merge": asdict(settings),
                  "config_hash": config_hash(config, ("models", "methods", "seed")),
                  "dtype": config["models"][model].get("dtype", "float32"), "trust_remote_code": False}
    merge_models(inputs["base"], tuned, settings, out, provenance)


if __name__ == "__main__":
    run(main, globals(), wildcards=("model", "tool_dataset", "method"), outputs=("folder",), inputs=resolve.merge_weights)
