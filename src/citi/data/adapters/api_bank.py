"""API-Bank (AlibabaResearch/DAMO-ConvAI api-bank/; hub liminghao1630/API-Bank).

Prompt files ({instruction, input, expected_output|output}) become one system/user/assistant
record each; the level-1/2 dialogues (lv1-lv2-samples/*/*.jsonl) become multi-turn records.
The project's generated tool data uses the same layout, so nothing here is specific to the
original files beyond their names.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from ...errors import RecordError, SourceError
from ...io import read_jsonl, read_table
from ...records import make_record, message
from ...toolcalls.syntax import format_call
from ._common import native_id
from .base import Adapter, field, register

log = logging.getLogger(__name__)

HUB_HINT = ("the lv1/lv2 training files are not on GitHub: download training-data/ from the "
            "Hugging Face hub dataset liminghao1630/API-Bank, or pass levels=[3]")
# split -> (file, level, kind); the evaluator joins predictions on the keys kept in meta
PROMPT_SPLITS = {
    "level1_api": ("test-data/level-1-api.json", 1, "api"),
    "level1_response": ("test-data/level-1-response.json", 1, "response"),
    "level2_api": ("test-data/level-2-api.json", 2, "api"),
    "level2_response": ("test-data/level-2-response.json", 2, "response"),
    "level3_api": ("test-data/level-3-batch-inf.json", 3, "api"),
    "level3_api_icl": ("test-data/level-3-batch-inf-icl.json", 3, "api"),
    "level3_response": ("test-data/level-3-batch-inf-response.json", 3, "response"),
}
META_KEYS = ("file", "id", "sample_id", "api_id")
TRAIN_NAME = re.compile(r"lv(\d+)(?:-(api|response))?-train\.json$")
ROLES = {"User": "user", "AI": "assistant"}



def prompt_record(row: dict, where: str, rid: str, level: int | None, kind: str | None) -> dict:
    target = field(row, "expected_output" if "expected_output" in row else "output", where)
    meta = {k: row[k] for k in META_KEYS if k in row}
    meta.update({k: v for k, v in (("level", level), ("kind", kind)) if v is not None})
    return make_record(rid, "tool", [message("system", field(row, "instruction", where)),
                                     message("user", field(row, "input", where)),
                                     message("assistant", target)], meta)


def dialogue_messages(turns: list[dict], path: Path) -> list[dict]:
    out = []
    for i, turn in enumerate(turns):
        where = f"{path}:{i + 1}"
        role = field(turn, "role", where)
        if role in ROLES:
            out.append(message(ROLES[role], field(turn, "text", where)))
        elif role == "API":
            call = format_call(field(turn, "api_name", where), field(turn, "param_dict", where, dict))
            out.append(message("assistant", f"API-Request: {call}"))
            if "result" not in turn:
                raise RecordError(f"{where}: missing field 'result'")
            out.append(message("tool", json.dumps(turn["result"], ensure_ascii=False)))
        else:
            raise RecordError(f"{where}: field 'role' is {role!r}, expected User, AI or API")
    return out


@register
class APIBank(Adapter):
    name = "api_bank"
    task = "tool"
    split_files = {
        **{split: [spec[0]] for split, spec in PROMPT_SPLITS.items()},
        "train": ["training-data/lv*-*-train.json"],        # per-level api + response files
        "train_union": ["training-data/lv*[0-9]-train.json"],  # lvN-train.json = api + response of level N
        "level3_gold": ["test-data/level-3.json"],
        "dialogues": ["lv1-lv2-samples/level-*/*.jsonl"],
    }
    hub_patterns = ["training-data/*", "test-data/*", "lv1-lv2-samples/*"]

    def __init__(self):
        self.skipped: list[Path] = []  # empty dialogue files of the last load

    def files_for(self, path: Path, split: str) -> list[Path]:
        try:
            return super().files_for(path, split)
        except SourceError as e:
            if split.startswith("train"):
                raise SourceError(f"{e}; {HUB_HINT}") from None
            raise

    def convert(self, files: list[Path], split: str, **options) -> list[dict]:
        if split in PROMPT_SPLITS:
            _, level, kind = PROMPT_SPLITS[split]
            return [prompt_record(row, f"{path}: record {i}", native_id(path, i, len(files)), level, kind)
                    for path in files for i, row in enumerate(read_table(path))]
        if split.startswith("train"):
            if len(files) == 1 and "levels" not in options:
                # the source is one file: take it whole; ``levels`` picks files in a folder
                return self._prompt_file(files[0])
            return self._train(files, split, [int(lv) for lv in options.get("levels", [1, 2, 3])])
        if split == "level3_gold":
            return [self._gold(row, f"{path}: record {i}", i)
                    for path in files for i, row in enumerate(read_table(path))]
        return self._dialogues(files)

    def _prompt_file(self, path: Path, level: int | None = None, kind: str | None = None) -> list[dict]:
        if level is None and (m := TRAIN_NAME.search(path.name)):
            level, kind = int(m.group(1)), m.group(2)
        rid = path.stem.removesuffix("-train")
        return [prompt_record(row, f"{path}: record {i}", f"{rid}-{i}", level, kind)
                for i, row in enumerate(read_table(path))]

    def _train(self, files: list[Path], split: str, levels: list[int]) -> list[dict]:
        by_name = {p.name: p for p in files}
        kinds = [None] if split == "train_union" else ["api", "response"]
        records = []
        for level in levels:
            for kind in kinds:
                name = f"lv{level}-train.json" if kind is None else f"lv{level}-{kind}-train.json"
                if name not in by_name:
                    raise SourceError(f"api_bank: level {level} requested but {files[0].parent / name} "
                                      f"is missing; {HUB_HINT}")
                records += self._prompt_file(by_name[name], level, kind)
        return records

    def _gold(self, row: dict, where: str, i: int) -> dict:
        meta = {"sample_id": str(i), "apis": field(row, "apis", where, list)}
        return make_record(i, self.task, [message("user", field(row, "requirement", where)),
                                          message("assistant", field(row, "response", where))], meta)

    def _dialogues(self, files: list[Path]) -> list[dict]:
        self.skipped = []
        records = []
        for path in files:
            turns = read_jsonl(path)
            if not turns:  # one level-1 file is empty in the original release
                self.skipped.append(path)
                continue
            m = re.match(r"level-(\d+)", path.parent.name)
            meta = {"file": path.name, "level": int(m.group(1)) if m else None}
            records.append(make_record(f"{path.parent.name}/{path.stem}", self.task,
                                       dialogue_messages(turns, path), meta))
        if self.skipped:
            log.info("api_bank dialogues: skipped %d empty file(s): %s", len(self.skipped),
                     ", ".join(p.name for p in self.skipped))
        return records
