"""A real OpenAI-compatible chat server on 127.0.0.1 (litserve + OpenAISpec).

It stands in for the judge and the API simulator where no external endpoint exists
(the embedded default, tests). It serves either

- a Hugging Face model folder (``citi.models.load``), greedy, through its chat template; or
- a scripted responder (a JSON file): ``{"rules": [{"match": "substring", "reply": "..."}],
  "default": "...", "fail_first": N}`` — the first rule whose ``match`` occurs in the last
  user message answers; the first ``fail_first`` requests get HTTP 503 (a flaky server).

``LoopbackServer`` starts it in its own process group on a free port, waits for /health,
and stops it cleanly. Alone: python -m citi.evaluation.loopback --model DIR --port 8011
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ..errors import CitiError

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


class LoopbackServer:
    """Context manager: ``with LoopbackServer(script=path) as srv: srv.base_url``."""

    def __init__(self, model: str | Path | None = None, script: str | Path | None = None,
                 startup_timeout: float = 180, max_tokens: int = 256, log_path: str | Path | None = None):
        if (model is None) == (script is None):
            raise CitiError("loopback server: give exactly one of a model folder or a script file")
        self.args = ["--model", str(model)] if model is not None else ["--script", str(script)]
        self.args += ["--max-tokens", str(max_tokens)]
        self.startup_timeout, self.log_path = startup_timeout, log_path
        self.port, self.proc = None, None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    def start(self) -> "LoopbackServer":
        self.port = free_port()
        log = open(self.log_path, "a") if self.log_path else subprocess.DEVNULL
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")) if p)}
        # its own process group: stop() ends the server and the workers it forks, nothing else
        self.proc = subprocess.Popen([sys.executable, "-m", "citi.evaluation.loopback", *self.args,
                                      "--port", str(self.port)], stdout=log, stderr=log, env=env,
                                     start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise CitiError(f"loopback server exited with code {self.proc.returncode} while starting "
                                f"({' '.join(self.args)}); see {self.log_path or 'its stderr'}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise CitiError(f"loopback server did not answer /health within {self.startup_timeout:.0f}s")

    def stop(self) -> None:
        """SIGTERM to the server's group, then SIGKILL to whatever of the group outlives a grace period."""
        if self.proc is None:
            return
        group = self.proc.pid  # start_new_session: the group id is the server's pid
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and _group_alive(group):
                self.proc.poll()  # reap the leader so the group can empty
                time.sleep(0.1)
            if not _group_alive(group):
                break
        self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--model", help="HF model folder to serve")
    group.add_argument("--script", help="JSON file of scripted replies")
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--max-tokens", type=int, default=256)
    args = parser.parse_args(argv)
    from ._loopback_app import serve  # litserve is needed by the server process only

    serve(args.model, args.script, args.port, args.max_tokens)


if __name__ == "__main__":
    main()
