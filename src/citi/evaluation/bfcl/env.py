"""BFCL's own environment: find its interpreter and run ``driver.py`` in it (from the main env).

bfcl-eval pins numpy 1.26 and many model SDKs, so it lives in ``.venv-bfcl`` (``./bootstrap.sh``
makes it from ``requirements/bfcl.txt``; ``envs/bfcl.yaml`` for ``--use-conda``). Nothing here
imports bfcl_eval: the driver runs as a subprocess and answers in JSON lines.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from ...errors import ConfigError, RecordError, SourceError

DRIVER = Path(__file__).with_name("driver.py")
TIMEOUT_S = 900


class BfclError(RecordError):
    """The BFCL driver failed (its stderr's end is in the message)."""


def bfcl_python(source: str | Path | None = None) -> str:
    """The interpreter with bfcl-eval.

    ``source`` (a dataset's resolved source): a virtual environment folder (its ``bin/python``) or an
    interpreter. Without one: the source ``env:bfcl`` (``$CITI_BFCL_PYTHON``, then the repository's ``.venv-bfcl``).
    """
    if source is not None:
        path = Path(source)
        python = path / "bin" / "python" if path.is_dir() else path
        if not python.exists():
            raise ConfigError(f"BFCL source {source}: no interpreter at {python} (give the BFCL virtual "
                              f"environment's folder, e.g. .venv-bfcl, or its bin/python)")
        return str(python)
    from ...data.sources import resolve  # env:bfcl: where the project's environments are found

    try:
        return bfcl_python(resolve("env:bfcl", owner="BFCL").path)
    except SourceError as e:
        raise ConfigError(f"no BFCL environment: {e} (./bootstrap.sh makes .venv-bfcl from requirements/bfcl.txt)") from None


def driver_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the driver imports no citi
    return {**env, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONIOENCODING": "utf-8",
            "TQDM_DISABLE": "1"}


def run_driver(python: str, *args: str) -> list[dict]:
    """Run ``driver.py args`` with BFCL's interpreter; its JSON lines."""
    try:
        proc = subprocess.run([python, str(DRIVER), *args], capture_output=True, text=True, env=driver_env(),
                              timeout=TIMEOUT_S, encoding="utf-8")
    except subprocess.TimeoutExpired:
        raise BfclError(f"BFCL driver {' '.join(args)} ran over {TIMEOUT_S} s") from None
    if proc.returncode != 0:
        raise BfclError(f"BFCL driver {' '.join(args)} failed ({python}, exit {proc.returncode}): "
                        f"{proc.stderr.strip()[-1500:]}")
    try:
        return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        raise BfclError(f"BFCL driver {' '.join(args)}: unreadable output ({e}): {proc.stdout[:300]!r}") from None


def info(python: str) -> dict:
    """{"version", "data_dir", "categories"} of the installed bfcl-eval."""
    return run_driver(python, "info")[0]
