"""Start OpenCompass's interpreter offline, keep its log, and surface the real cause when it fails.

OpenCompass runs its tasks inside the ``opencompass`` process (``--debug``: the
model loads once, and a failing inference task ends the process with its
traceback). Its output goes line by line to our rule log and to
``<work>/logs/opencompass.out``; a failure, a non-zero exit or a '-' cell in
the summary, raises an error that carries the end of that log, the error lines
before it, and the end of any per-task log OpenCompass wrote under
``outputs/*/logs`` (its non-debug runners write one per task), so the user
sees why without opening the work directory.
"""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from .config import CITI_TEMPLATE
from .summary import OpenCompassError

SRC = Path(__file__).resolve().parents[3]
ERROR_LINE = re.compile(r"error|exception|traceback|fail", re.IGNORECASE)
TAIL_LINES = 40


def outputs_dir(work: Path) -> Path:
    return Path(work) / "outputs"


def log_file(work: Path) -> Path:
    return Path(work) / "logs" / "opencompass.out"


def env(cache: Path | None = None) -> dict:
    out = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    if cache is not None:
        out["COMPASS_DATA_CACHE"] = str(cache.resolve())  # nothing is looked up (or downloaded) elsewhere
    return out


def installed_version(python: str) -> str:
    from ...errors import ConfigError

    proc = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('opencompass'))"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise ConfigError(f"{python} cannot import OpenCompass: {proc.stderr.strip()[-500:]}")
    return proc.stdout.strip()


def _templates_module(python: str, args: list[str], what: str) -> dict:
    proc = subprocess.run([python, "-m", "citi.evaluation.opencompass.templates", *args], env=env(),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise OpenCompassError(f"{what} failed: {proc.stderr.strip()[-800:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def describe_templates(python: str, benchmarks: dict) -> dict:
    """templates' description of every OpenCompass template the benchmarks name."""
    modules = sorted({b["template"] for b in benchmarks.values() if b["template"] != CITI_TEMPLATE})
    if not modules:
        return {}
    return _templates_module(python, modules, f"describing OpenCompass templates {modules}")


def chat_prompts(python: str, benchmarks: dict) -> dict:
    """name -> the chat turns OpenCompass renders for the benchmark (templates.chat_prompt)."""
    names = {name: (f"citi:{b['kind']}" if b["template"] == CITI_TEMPLATE else b["template"])
             for name, b in benchmarks.items()}
    if not names:
        return {}
    prompts = _templates_module(python, ["--prompts", json.dumps(names)], "rendering OpenCompass prompts")
    for name, prompt in prompts.items():
        if "error" in prompt:
            raise OpenCompassError(f"evaluation.general.benchmarks.{name}.template: {prompt['error']}")
    return prompts


class _Log:
    """The end of a process's output, and the error lines seen before it."""

    def __init__(self) -> None:
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self.errors: collections.deque[str] = collections.deque(maxlen=10)

    def add(self, line: str) -> None:
        line = line.rsplit("\r", 1)[-1].rstrip()  # progress bars redraw with '\r': keep the last state
        if not line:
            return
        if len(self.tail) == self.tail.maxlen and ERROR_LINE.search(self.tail[0]):
            self.errors.append(self.tail[0])  # about to scroll out of the tail
        self.tail.append(line)

    def excerpt(self) -> str:
        earlier = [*self.errors, "..."] if self.errors else []
        return "\n".join([*earlier, *self.tail])


def task_log_tails(out_dir: Path, lines: int = 15) -> str:
    """The end of every per-task log OpenCompass wrote that mentions an error."""
    parts = []
    for path in sorted(Path(out_dir).glob("*/logs/**/*.out")):
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
        if any(ERROR_LINE.search(line) for line in text):
            parts.append(f"--- {path} (last {lines} lines)\n" + "\n".join(text[-lines:]))
    return "\n".join(parts)


def run_opencompass(python: str, config_path: Path, work: Path, cache: Path) -> str:
    """Run OpenCompass on ``config_path`` with outputs under ``work``; return the excerpt of its log."""
    out_dir, log_path = outputs_dir(work), log_file(work)
    cmd = [python, "-c", "import sys; from opencompass.cli.main import main; sys.argv[0] = 'opencompass'; main()",
           str(config_path.resolve()), "--work-dir", str(out_dir.resolve()), "--max-num-workers", "1", "--debug"]
    print("running:", " ".join(cmd), flush=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = _Log()
    # its cwd is the work directory: OpenCompass leaves tmp/ and icl_inference_output/ in it
    with open(log_path, "w", encoding="utf-8", newline="") as keep, \
            subprocess.Popen(cmd, env=env(cache), cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc:
        for raw in proc.stdout:  # bytes, split at '\n' only: progress bars' '\r' redraws stay one line
            line = raw.decode("utf-8", errors="replace")
            sys.stdout.write(line)
            keep.write(line)
            log.add(line)
    sys.stdout.flush()
    if proc.returncode != 0:
        raise OpenCompassError(failure_message(f"opencompass exited with {proc.returncode} on {config_path}",
                                               log.excerpt(), work))
    return log.excerpt()


def failure_message(what: str, excerpt: str, work: Path) -> str:
    tasks = task_log_tails(outputs_dir(work))
    return (f"{what}. The end of OpenCompass's log ({log_file(work)}):\n{excerpt}"
            + (f"\nIts task logs:\n{tasks}" if tasks else ""))
