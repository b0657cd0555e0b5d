"""The ReAct agent loop for ToolAlpaca, batched across instances through the shared engine.

Each step, every unfinished instance generates one assistant turn (stopped before any
self-written observation). A turn with ``Action:``/``Action Input:`` is executed and its
observation appended as a tool message; a turn with ``Response:`` (or ``Final Answer:``),
or with neither, ends the instance. Instances come out as the official ones do:
``{input, output, intermediate_steps: [[[action, action_input, log], observation], ...]}``.

Resumable like ``run_predictions``: instances are run in fixed chunks, and each finished
chunk is appended to ``<out>.partial``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from ...generation.engine import Engine, GenerationSettings, prompt_messages, render_prompt, _append, _resume, _progress
from ...io import write_jsonl
from ..judge import ChatClient, Endpoint
from .apis import api_of, load_apis
from .tools import MODES, Executor

log = logging.getLogger(__name__)

# A call reads as the regex ``Action\s*:\s*(.*?)\s*\n\s*Action\s*Input\s*:\s*(.*)`` (DOTALL) would
# read it, but that regex backtracks cubically on a run of whitespace (a tiny model does write
# a thousand newlines), so ``find_action`` takes two linear searches instead.
ACTION = re.compile(r"Action\s*:")
# only the run's last newline may start a match, so no start rescans a run of newlines
ACTION_INPUT = re.compile(r"\n[^\S\n]*Action\s*Input\s*:")
FINAL = re.compile(r"(?:Final Answer|Response)\s*:\s*(.*)", re.S)
DEFAULT_STOP = ("\nObservation", "Observation:")


@dataclass
class State:
    rec: dict
    messages: list[dict]
    steps: list = field(default_factory=list)
    output: str | None = None
    prompt_tokens: int = 0
    new_tokens: int = 0
    finish: str = ""


def find_action(text: str) -> tuple[int, str, str] | None:
    """(start, action, action input), stripped, of the call in ``text``, in linear time.

    The regex's leftmost match starts at the first ``Action:`` when any does (a later one has
    no more ``Action Input:`` lines after it), and its lazy action ends at the first
    ``Action Input:`` after that which has a newline before it (blanks between allowed).
    """
    action = ACTION.search(text)
    if not action:
        return None
    action_input = ACTION_INPUT.search(text, action.end())
    if not action_input:
        return None
    return action.start(), text[action.end():action_input.start()].strip(), text[action_input.end():].strip()


def parse_turn(text: str) -> tuple[str, str, str, str] | str:
    """(action, action_input, log, thought) for a call, else the final response text."""
    action, final = find_action(text), FINAL.search(text)
    if action and (not final or action[0] < final.start()):
        start, name, action_input = action
        return name, action_input, text.strip(), text[:start]
    return final.group(1).strip() if final else text.strip()


def step(engine: Engine, states: list[State], settings: GenerationSettings, execute) -> None:
    prompts = [render_prompt(engine.tokenizer, s.messages) for s in states]
    for s, out in zip(states, engine.generate(prompts, settings)):
        s.prompt_tokens += out.prompt_tokens
        s.new_tokens += out.new_tokens
        turn = parse_turn(out.text)
        if isinstance(turn, str):
            s.output, s.finish = turn, "response"
            continue
        name, action_input, text, thought = turn
        observation = execute(s.rec, name, action_input)
        s.steps.append([[name, action_input, text], observation])
        s.messages += [{"role": "assistant", "content": f"{thought}Action: {name}\nAction Input: {action_input}".lstrip()},
                       {"role": "tool", "content": observation}]


def run_chunk(engine, states, settings, execute, max_steps) -> None:
    for _ in range(max_steps):
        active = [s for s in states if s.output is None]
        if not active:
            return
        step(engine, active, settings, execute)
    for s in states:
        if s.output is None:  # as LangChain's agent: stopped without a final answer
            s.output, s.finish = "", "max_steps"


def row(s: State) -> dict:
    instance = {"input": s.messages[1]["content"] if len(s.messages) > 1 else "", "output": s.output,
                "intermediate_steps": s.steps}
    return {"id": s.rec["id"], "prediction": s.output, "instance": instance, "steps": len(s.steps),
            "prompt_tokens": s.prompt_tokens, "new_tokens": s.new_tokens, "finish": s.finish}


def run_agent(engine: Engine, records: list[dict], out: str | Path, settings: GenerationSettings, *,
              data_root: Path, split: str, evaluation: dict, simulator_url: str | None = None,
              fingerprint: dict | None = None, progress: bool = True) -> list[dict]:
    options = evaluation.get("toolalpaca", {})
    mode = options.get("execution", "offline")
    if mode not in MODES:
        from ...errors import ConfigError
        raise ConfigError(f"evaluation.toolalpaca.execution: {mode!r} is not one of {', '.join(MODES)}")
    simulator = None
    if mode == "simulated":
        simulator = ChatClient(Endpoint.from_config(evaluation.get("simulator", {}), "evaluation.simulator",
                                                    base_url=simulator_url))
    apis = load_apis(data_root, split)
    executor = Executor(mode, options, simulator)

    def execute(rec, name, action_input):
        return executor(api_of(rec, apis), name, action_input)

    settings = replace(settings, stop=settings.stop or DEFAULT_STOP)
    max_steps = options.get("max_steps", 10)
    out = Path(out)
    partial = Path(f"{out}.partial")
    header = {"_partial": {"settings": settings.as_dict(), "execution": mode, "max_steps": max_steps,
                           **(fingerprint or {})}}
    done = _resume(partial, header, {r["id"] for r in records})
    size = max(1, settings.batch_size * options.get("chunk_batches", 4))
    chunks = [records[i:i + size] for i in range(0, len(records), size)]
    todo = [c for c in chunks if not all(r["id"] in done for r in c)]
    with open(partial, "a", encoding="utf-8") as f:
        if f.tell() == 0:
            _append(f, [header])
        for chunk in _progress(todo, progress, initial=len(chunks) - len(todo), total=len(chunks)):
            states = [State(rec, prompt_messages(rec)) for rec in chunk]
            run_chunk(engine, states, settings, execute, max_steps)
            rows = [executor_safe(row(s), executor) for s in states]
            _append(f, rows)
            done.update((r["id"], r) for r in rows)
    predictions = [done[r["id"]] for r in records]
    write_jsonl(out, predictions)
    partial.unlink()
    if simulator:
        log.info("simulator: %s", simulator.stats)
    return predictions


def executor_safe(r: dict, executor: Executor) -> dict:
    """The row with every credential value redacted (the model may have echoed one)."""
    import json

    return json.loads(executor.redact(json.dumps(r, ensure_ascii=False)))
