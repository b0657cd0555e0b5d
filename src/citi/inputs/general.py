"""The general-ability rules' inputs (see ``citi.inputs``): one OpenCompass run, and lm-eval's cross-check.

Apart from the other resolvers because they read OpenCompass's settings (citi.evaluation.opencompass.run),
which only those scripts import.
"""

from __future__ import annotations

from .. import paths
from ..evaluation.opencompass.run import crosscheck_files, general_benchmarks
from . import benchmark_data, method_model


def general_eval(config: dict, model: str, method: str) -> dict:
    """One OpenCompass run: the model, every general benchmark's split, and the lm-eval cross-checks it joins in."""
    section = "evaluation.general.benchmarks"
    return {"model": method_model(config, model, method),
            "data": sorted({benchmark_data(config, b, section) for b in general_benchmarks(config)}),
            "crosschecks": sorted(crosscheck_files(config, model, method).values())}


def general_crosscheck(config: dict, model: str, method: str, benchmark: str) -> dict:
    return {"model": method_model(config, model, method),
            "data": benchmark_data(config, benchmark, "evaluation.general.benchmarks"),
            "prompts": paths.OPENCOMPASS_PROMPTS}
