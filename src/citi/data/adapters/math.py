"""MATH (Hendrycks et al.): the llm-foundry math.jsonl {context, answer, chain_of_thought, category}
and the original per-problem JSON {problem, level, type, solution} (a folder per subject,
a jsonl of such rows, or hub parquet)."""

from __future__ import annotations

from pathlib import Path

from ...errors import RecordError
from ...io import read_json
from ...records import make_record, message
from ._common import read_rows
from .base import Adapter, field, register


def last_boxed(solution: str) -> str:
    """Content of the last \\boxed{...} (or \\fbox{...}), braces balanced; '' if none."""
    start = max(solution.rfind("\\boxed{"), solution.rfind("\\fbox{"))
    if start < 0:
        return ""
    i = solution.index("{", start) + 1
    depth = 1
    for j in range(i, len(solution)):
        depth += {"{": 1, "}": -1}.get(solution[j], 0)
        if depth == 0:
            return solution[i:j]
    return ""


def category(subject: str) -> str:
    """'Counting & Probability' -> 'counting_and_probability', as llm-foundry names them."""
    return subject.lower().replace(" & ", "_and_").replace(" ", "_")


def _rows(path: Path) -> list[dict]:
    if path.suffix == ".json":
        data = read_json(path)
        if isinstance(data, dict):  # one problem per file in the original release
            return [data]
    return read_rows(path)


def _row_id(path: Path, i: int, n_files: int, n_rows: int) -> str:
    if n_files == 1:
        return str(i)
    stem = f"{path.parent.name}/{path.stem}"
    return stem if n_rows == 1 and path.suffix == ".json" else f"{stem}/{i}"


@register
class MATH(Adapter):
    name = "math"
    task = "math"
    split_files = {
        "test": ["math.jsonl", "scripts/eval/local_data/symbolic_problem_solving/math.jsonl",
                 "test/*/*.json", "MATH/test/*/*.json", "test.jsonl", "*/test-*.parquet", "data/test-*.parquet"],
        "train": ["train/*/*.json", "MATH/train/*/*.json", "train.jsonl",
                  "*/train-*.parquet", "data/train-*.parquet"],
    }
    hub_patterns = ["*/test-*.parquet", "*/train-*.parquet"]

    def convert(self, files: list[Path], split: str, **options) -> list[dict]:
        records = []
        for path in files:
            rows = _rows(path)
            for i, row in enumerate(rows):
                where = f"{path}: record {i}"
                if "problem" in row:
                    problem, solution = field(row, "problem", where), field(row, "solution", where)
                    subject = field(row, "type", where)
                    meta = {"answer": last_boxed(solution), "category": category(subject), "type": subject}
                    if "level" in row:
                        meta["level"] = field(row, "level", where)
                elif "context" in row:
                    problem, solution = field(row, "context", where), field(row, "chain_of_thought", where)
                    meta = {"answer": field(row, "answer", where), "category": field(row, "category", where)}
                else:
                    raise RecordError(f"{where}: missing field 'problem' (original MATH) or 'context' (llm-foundry)")
                records.append(make_record(_row_id(path, i, len(files), len(rows)), self.task,
                                           [message("user", problem), message("assistant", solution)], meta))
        return records
