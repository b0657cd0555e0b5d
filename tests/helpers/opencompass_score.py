"""Load capped MATH and MBPP folders with the loaders our OpenCompass configs use, and score given
predictions with the evaluators those configs use; print the results as JSON.

Run by tests/test_opencompass.py under the OpenCompass interpreter (src/ on PYTHONPATH):

    python tests/helpers/opencompass_score.py <spec.json>

spec: {"math_dir", "math_predictions", "mbpp_file", "mbpp_predictions", "templates"}
"""

import json
import sys

from opencompass.datasets import MATHDataset
from opencompass.evaluator import MATHVerifyEvaluator

from citi.evaluation.opencompass.plugins import CitiJsonlDataset, SandboxMBPPEvaluator
from citi.evaluation.opencompass.templates import describe


def without_details(score: dict) -> dict:
    return {k: v for k, v in score.items() if k != "details"}


def main(spec_path: str) -> None:
    spec = json.load(open(spec_path))
    math = MATHDataset.load(spec["math_dir"])["test"]
    mbpp = CitiJsonlDataset.load(spec["mbpp_file"])
    out = {
        "math_rows": [dict(r) for r in math],
        "math": without_details(MATHVerifyEvaluator().score(spec["math_predictions"], math["solution"])),
        "mbpp_n": len(mbpp),
        "mbpp": without_details(SandboxMBPPEvaluator(timeout_s=5).score(
            spec["mbpp_predictions"], mbpp["test_list_2"], list(mbpp))),
        "templates": {t: describe(t) for t in spec["templates"]},
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
