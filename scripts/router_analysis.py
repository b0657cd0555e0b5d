"""Router mass of a trained MOLoRA method on held-out tool vs general inputs (null slot vs experts),
per module and layer: results/router/<model>/<tool_dataset>/<method>/router_mass.{csv,png}.

Alone: python scripts/router_analysis.py --config config/test.yaml --model tiny \
           --tool_dataset embedded_tools --method citi
"""

from citi import inputs as resolve, paths
from citi.cli import run


def main(config, inputs, model, tool_dataset, method, folder=None):
    from citi.models import load
    from citi.training.router import router_analysis, sample_sources

    spec = config["router_analysis"]
    files = dict(zip([(r["dataset"], r["split"]) for r in spec["tool"] + spec["general"]], inputs["data"]))
    data = lambda dataset, split: files[(dataset, split)]  # noqa: E731
    groups = {g: sample_sources(spec[g], data, spec["n_per_source"], spec["seed"]) for g in ("tool", "general")}
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    net, tokenizer = load(inputs["model"], dtype="float32", device=device)
    out = folder or paths.ROUTER_ANALYSIS.format(model=model, tool_dataset=tool_dataset, method=method)
    router_analysis(net, tokenizer, groups, out, spec["batch_size"], config["training"]["cutoff_len"],
                    f"{model} {method}: router mass")


if __name__ == "__main__":
    run(main, globals(), wildcards=("model", "tool_dataset", "method"), outputs=("folder",), inputs=resolve.router_analysis)
