"""The prediction and scoring rules' inputs (see ``citi.inputs``).

Apart from the other resolvers because they ask the scorer registry (does this scorer start a judge or
an API simulator?): only the evaluation scripts, in the evaluation environment, import this.
"""

from __future__ import annotations

from .. import paths
from ..evaluation.runner import benchmark_spec, loopback_model, needs_endpoint
from . import benchmark_data, dataset_source, method_model


def _endpoint(config: dict, benchmark: str, stage: str) -> list[str]:
    """The loopback judge/simulator's model folder, when this job starts one."""
    role = needs_endpoint(config, benchmark_spec(config, benchmark), stage)
    folder = loopback_model(config, role) if role else None
    return [folder] if folder else []


def generate_predictions(config: dict, model: str, method: str, benchmark: str) -> dict:
    return {"model": method_model(config, model, method), "data": benchmark_data(config, benchmark),
            "endpoint": _endpoint(config, benchmark, "generate")}


def score_predictions(config: dict, model: str, method: str, benchmark: str) -> dict:
    """The predictions, the split, and the raw source a scorer may read besides the records (API-Bank's
    APIs and databases, ToolAlpaca's specs): declared, so a changed source rescores."""
    dataset = config["evaluation"]["benchmarks"][benchmark]["dataset"]
    return {"predictions": paths.PREDICTIONS.format(model=model, method=method, benchmark=benchmark),
            "data": benchmark_data(config, benchmark), "source": dataset_source(config, dataset),
            "endpoint": _endpoint(config, benchmark, "score")}
