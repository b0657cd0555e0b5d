"""BFCL (Berkeley Function Calling Leaderboard), read from the installed bfcl-eval package.

The source is BFCL's own environment (``env:bfcl``: ``.venv-bfcl``, made by ``./bootstrap.sh``, or
``$CITI_BFCL_PYTHON``; or a path to an environment or its ``bin/python``): the question and possible-answer files ship inside ``bfcl_eval/data/``, and
bfcl-eval itself renders each item's prompt (``citi/evaluation/bfcl/driver.py prompts``), so the
prompts are BFCL's own. A split is one BFCL category (``simple_python``,
``multiple``, ``parallel``, ``parallel_multiple``, ``irrelevance``, ``live_*``) or ``non_live``
(the five non-live single-turn Python categories together).

A record: the system turn BFCL writes for a prompting chat model (the functions' JSON schemas and
the instruction to answer ``[func(a=1), ...]``), the item's user turn(s), and, where BFCL has a
possible answer, a gold assistant turn in that format (each parameter's first listed value; a
parameter BFCL lets be omitted is left out unless the schema requires it). Irrelevance items get the
empty call list ``[]`` as their gold turn (BFCL's checker counts it as "no call"): a few live ones
have assistant turns inside the question, and the pipeline prompts with the turns before a record's
last assistant turn. Relevance items (any call is right) have no gold turn.
``meta``: ``bfcl_id``, ``category``, ``function_names``, ``required`` (function -> its schema's required
parameters) and ``ground_truth`` (BFCL's possible answer).
"""

from __future__ import annotations

from pathlib import Path

from ...errors import RecordError
from ...records import ROLES, make_record, message
from .base import Adapter, register

NO_CALLS = "[]"  # the empty call list: the gold answer of an irrelevance item (BFCL decodes it as no call)


@register
class BFCL(Adapter):
    name = "bfcl"
    task = "tool"
    source_is_data = False  # BFCL's environment: the data ship inside its bfcl-eval package

    @property
    def splits(self) -> list[str]:
        from ...evaluation.bfcl import SPLITS

        return list(SPLITS)

    def files_for(self, path: Path, split: str) -> list[Path]:
        """BFCL's question and possible-answer files of the split's categories, inside the installed
        bfcl-eval of the environment ``path`` (for the manifest; bfcl-eval reads them itself)."""
        from ...evaluation.bfcl import SPLITS
        from ...evaluation.bfcl.env import bfcl_python, info

        if split not in SPLITS:
            raise RecordError(f"adapter 'bfcl' has no split '{split}'; known: {', '.join(SPLITS)}")
        self._python = bfcl_python(path)
        files = info(self._python)["files"]
        return [Path(f) for category in SPLITS[split] for f in files[category]]

    def convert(self, files: list[Path], split: str, **options) -> list[dict]:
        from ...evaluation.bfcl import SPLITS, format_calls, gold_calls
        from ...evaluation.bfcl.env import bfcl_python, run_driver

        if options:
            raise RecordError(f"adapter 'bfcl' takes no options (got {', '.join(options)})")
        python = getattr(self, "_python", None) or bfcl_python()
        records = []
        for row in run_driver(python, "prompts", *SPLITS[split]):
            category = row["category"]
            where = f"BFCL {category} item {row.get('id')!r}"
            turns = row["messages"]
            bad = [m.get("role") for m in turns if m.get("role") not in ROLES or not isinstance(m.get("content"), str)]
            if bad:
                raise RecordError(f"{where}: turns with a role or content the record format lacks: {bad}")
            messages = [message(m["role"], m["content"]) for m in turns]
            meta = {"bfcl_id": row["id"], "category": category, "function_names": row["function_names"],
                    "required": row["required"]}
            if "ground_truth" in row:
                meta["ground_truth"] = row["ground_truth"]
                messages.append(message("assistant", format_calls(gold_calls(row["ground_truth"], row["required"]))))
            elif "irrelevance" in category:
                messages.append(message("assistant", NO_CALLS))
            elif any(m["role"] == "assistant" for m in messages):
                # the pipeline prompts with the turns before the last assistant turn: it must be the gold
                raise RecordError(f"{where}: an assistant turn inside the question and no gold answer to end it")
            records.append(make_record(row["id"], self.task, messages, meta))
        return records
