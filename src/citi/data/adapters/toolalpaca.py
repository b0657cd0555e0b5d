"""ToolAlpaca (tangqiaoyu/ToolAlpaca data/): a JSON list of APIs.

Eval files carry ``Instructions`` with aligned ``Golden_Answers`` [[{Action, Action_Input}]];
the train file carries ``Instances`` [{input, output, Final Thought?, intermediate_steps:
[[[action, action_input, log], observation], ...]}]. Every record speaks one ReAct format,
described by the system prompt.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ...errors import RecordError
from ...io import read_json
from ...records import make_record, message
from .base import Adapter, field, register

log = logging.getLogger(__name__)

SYSTEM = """You can call the functions of the {name} API to help the user. The functions are:

{docs}

To call a function, write:
Thought: what you need to do next
Action: the function name
Action Input: the arguments as a JSON object
You will then see the function's result. When you can answer, write:
Thought: why you can answer now
Response: your answer to the user"""


def system_prompt(api: dict, where: str) -> str:
    return SYSTEM.format(name=field(api, "Name", where), docs=field(api, "NLDocumentation", where).strip())


def action(name: str, args: str, thought: str = "") -> str:
    head = f"Thought: {thought.strip()}\n" if thought.strip() else ""
    return f"{head}Action: {name}\nAction Input: {args}"


def final(output: str, thought: str = "") -> str:
    head = f"Thought: {thought.strip()}\n" if thought.strip() else ""
    return f"{head}Response: {output}"


def _apis(path: Path) -> list[dict]:
    data = read_json(path)
    if not isinstance(data, list) or not all(isinstance(a, dict) for a in data):
        raise RecordError(f"{path}: expected a JSON list of API objects")
    return data


@register
class ToolAlpaca(Adapter):
    name = "toolalpaca"
    task = "tool"
    split_files = {
        "train": ["data/train_data.json", "train_data.json"],
        "eval_real": ["data/eval_real.json", "eval_real.json"],
        "eval_simulated": ["data/eval_simulated.json", "eval_simulated.json"],
    }
    hub_patterns = None

    def __init__(self):
        self.skipped = 0  # train instances without input/output in the last load

    def convert(self, files: list[Path], split: str, **options) -> list[dict]:
        self.skipped = 0
        one = self._train if split == "train" else self._eval
        records = [rec for path in files for a, api in enumerate(_apis(path))
                   for rec in one(api, a, f"{path}: record {a}")]
        if self.skipped:
            log.info("toolalpaca %s: skipped %d instance(s) without input/output", split, self.skipped)
        return records

    def _eval(self, api: dict, a: int, where: str) -> list[dict]:
        instructions = field(api, "Instructions", where, list)
        golds = field(api, "Golden_Answers", where, list)
        if len(golds) != len(instructions):
            raise RecordError(f"{where}: field 'Golden_Answers' has {len(golds)} entries "
                              f"for {len(instructions)} Instructions")
        system, records = system_prompt(api, where), []
        for i, (instruction, gold) in enumerate(zip(instructions, golds)):
            at = f"{where}: field 'Golden_Answers[{i}]'"
            if not isinstance(instruction, str):
                raise RecordError(f"{where}: field 'Instructions[{i}]' should be str, "
                                  f"got {type(instruction).__name__}")
            if not isinstance(gold, list) or not all(isinstance(s, dict) for s in gold):
                raise RecordError(f"{at} should be a list of {{Action, Action_Input}} objects")
            steps = "\n\n".join(action(field(s, "Action", at), _args(field(s, "Action_Input", at, (str, dict))))
                                for s in gold)
            meta = {"api_name": api["Name"], "api_index": a, "index": i, "golden_answers": gold}
            messages = [message("system", system), message("user", instruction), message("assistant", steps)]
            records.append(make_record(f"{a}-{i}", self.task, messages, meta))
        return records

    def _train(self, api: dict, a: int, where: str) -> list[dict]:
        system, records = system_prompt(api, where), []
        for i, inst in enumerate(field(api, "Instances", where, list)):
            at = f"{where}: field 'Instances[{i}]'"
            # the released file keeps failed generations (no input/output); they teach nothing
            if not isinstance(inst, dict) or not inst.get("input") or not inst.get("output"):
                self.skipped += 1
                continue
            messages = [message("system", system), message("user", field(inst, "input", at))]
            for j, step in enumerate(field(inst, "intermediate_steps", at, list)):
                try:
                    (name, args, thought), observation = step
                except (TypeError, ValueError):
                    raise RecordError(f"{at}: field 'intermediate_steps[{j}]' should be "
                                      "[[action, action_input, log], observation]") from None
                if name == "N/A":  # the agent's unparsable turns: no call was made
                    continue
                messages += [message("assistant", action(str(name), str(args), _thought(thought))),
                             message("tool", str(observation))]
            messages.append(message("assistant", final(field(inst, "output", at), inst.get("Final Thought") or "")))
            meta = {"api_name": api["Name"], "api_index": a, "index": i}
            records.append(make_record(f"{a}-{i}", self.task, messages, meta))
        return records


def _args(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _thought(log_text) -> str:
    """The agent's log holds 'Thought ... Action: X ...'; keep only the thought before the action."""
    text = str(log_text or "")
    cut = text.find("Action:")
    text = text[:cut] if cut >= 0 else text
    for prefix in ("ASSISTANT Thought:", "Thought:"):
        text = text.replace(prefix, "")
    return text.replace("ASSISTANT", "").strip()
