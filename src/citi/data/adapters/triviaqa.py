"""TriviaQA: the llm-foundry subsample {context: "Question: ...\\nAnswer:", answer, aliases},
the hub mandarjoshi/trivia_qa rc parquet {question, question_id, answer: {value, aliases, ...}}
and the original qa/*.json {Data: [{Question, QuestionId, Answer: {Value, Aliases}}]}."""

from __future__ import annotations

from pathlib import Path

from ...errors import RecordError
from ...records import make_record, message
from ._common import native_id, read_rows
from .base import Adapter, field, register


def _sub_row(row: dict, where: str) -> tuple[str, str, list]:
    # The subsample stores a completion prompt; the chat record wants the bare question.
    question = field(row, "context", where).strip().removeprefix("Question:").removesuffix("Answer:")
    return question.strip(), field(row, "answer", where), row.get("aliases", [])


def _qa_row(row: dict, where: str) -> tuple[str, str, list]:
    qkey, akey, vkey, alkey = (("Question", "Answer", "Value", "Aliases") if "Question" in row
                               else ("question", "answer", "value", "aliases"))
    answer = field(row, akey, where, dict)
    return field(row, qkey, where), field(answer, vkey, f"{where}: field '{akey}'"), answer.get(alkey, [])


@register
class TriviaQA(Adapter):
    name = "triviaqa"
    task = "knowledge"
    # rc.nocontext holds the same questions as rc without the multi-GB evidence pages.
    split_files = {
        "train": ["rc.nocontext/train-*.parquet", "rc/train-*.parquet", "qa/wikipedia-train.json"],
        "validation": ["rc.nocontext/validation-*.parquet", "rc/validation-*.parquet", "qa/wikipedia-dev.json"],
        "sub": ["triviaqa_sm_sub.jsonl", "scripts/eval/local_data/world_knowledge/triviaqa_sm_sub.jsonl"],
    }
    hub_patterns = ["rc.nocontext/train-*", "rc.nocontext/validation-*"]

    def convert(self, files: list[Path], split: str, **options) -> list[dict]:
        records = []
        for path in files:
            for i, row in enumerate(read_rows(path)):
                where = f"{path}: record {i}"
                question, answer, aliases = (_sub_row if "context" in row else _qa_row)(row, where)
                if not isinstance(aliases, list):
                    raise RecordError(f"{where}: field 'aliases' should be list, got {type(aliases).__name__}")
                qid = row.get("question_id") or row.get("QuestionId")
                rid = qid if isinstance(qid, str) else native_id(path, i, len(files))
                messages = [message("user", question), message("assistant", answer)]
                records.append(make_record(rid, self.task, messages, {"answer": answer, "aliases": aliases}))
        return records
