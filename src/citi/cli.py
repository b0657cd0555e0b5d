"""Run a pipeline script from Snakemake (``script:``) or alone from the shell.

A script defines ``main(config, **wildcards, **outputs)`` and ends with
``run(main, globals())``. Under Snakemake, wildcards and outputs come from the
job and stdout/stderr go to the job's log; alone, they come from the command
line and outputs default to the patterns in ``citi.paths``.

A script that reads files gives ``run`` its rule's resolver (``inputs=citi.inputs.<rule>``) and
takes ``main(config, inputs, ...)``: under Snakemake ``inputs`` is the job's ``snakemake.input``
(name -> path, or list of paths), alone the same resolver's answer for the command line's wildcards.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Callable

from .config import load_config
from .errors import CitiError


def run(main: Callable, namespace: dict, wildcards: tuple[str, ...] = (), outputs: tuple[str, ...] = (),
        inputs: Callable | None = None) -> None:
    smk = namespace.get("snakemake")
    if smk is not None:
        limit_threads(smk.threads)
        with _log_to(smk.log[0] if smk.log else None):
            kwargs = {w: smk.wildcards[w] for w in wildcards}
            kwargs.update({o: getattr(smk.output, o) for o in outputs})
            if inputs is not None:
                kwargs["inputs"] = job_inputs(smk.input)
            _call(main, smk.config, kwargs)
        return
    parser = argparse.ArgumentParser(description=(namespace.get("__doc__") or "").strip())
    parser.add_argument("--config", nargs="+", default=["config/config.yaml"],
                        help="pipeline config (YAML), or several layers merged in order (e.g. a paper setting's four)")
    for w in wildcards:
        parser.add_argument(f"--{w}", required=True)
    for o in outputs:
        parser.add_argument(f"--{o}", default=None, help="output path (default: the pipeline's pattern)")
    args = vars(parser.parse_args())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = load_config(args.pop("config"))
    kwargs = {k: v for k, v in args.items() if v is not None}

    def alone(config, **kw):  # a config error while resolving inputs is reported like one in main
        if inputs is not None:
            kw["inputs"] = resolve_inputs(inputs, config, {w: kw[w] for w in wildcards})
        main(config, **kw)

    _call(alone, config, kwargs)


def job_inputs(named) -> dict:
    """Snakemake's named inputs as a plain dict: name -> path, or list of paths."""
    return {name: value if isinstance(value, str) else [str(v) for v in value] for name, value in named.items()}


def resolve_inputs(resolver: Callable, config: dict, wildcards: dict) -> dict:
    """The resolver's answer for a job run alone: it takes the wildcards it names (others, such as
    {tool_dataset}, only place the output)."""
    import inspect

    from .errors import CitiError

    wanted = inspect.signature(resolver).parameters
    try:
        return resolver(config, **{k: v for k, v in wildcards.items() if k in wanted})
    except KeyError as e:
        raise CitiError(f"config key {e}: needed to resolve this job's inputs") from None


def limit_threads(n: int) -> None:
    """Compute on exactly the job's threads. Torch's default (every core) oversubscribes a node shared
    by several jobs, and OpenMP's spin-waiting then costs far more than the extra threads gain
    (a 20x slowdown of generation was measured on a busy 2-core machine)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)  # read when torch starts; subprocesses (OpenCompass, torchrun) inherit it
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def _call(main: Callable, config: dict, kwargs: dict) -> None:
    try:
        main(config, **kwargs)
    except CitiError as e:  # a user error: its message says where; no traceback noise
        logging.getLogger("citi").error("%s", e)
        print(f"error: {e}", file=sys.__stderr__)  # visible even when stderr goes to the log
        sys.exit(1)


@contextlib.contextmanager
def _log_to(path: str | None):
    if path is None:
        logging.basicConfig(level=logging.INFO)
        yield
        return
    rank = os.environ.get("LOCAL_RANK")
    if rank not in (None, "0"):  # torchrun workers beside rank 0 (multi-GPU training) get their own log
        path = f"{path}.rank{rank}"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f, contextlib.redirect_stdout(f), contextlib.redirect_stderr(f):
        logging.basicConfig(level=logging.INFO, stream=f, force=True,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        try:
            yield
        except SystemExit:  # _call's exit after a CitiError, whose one line is already in the log
            raise
        except BaseException:  # anything else: its traceback in the log Snakemake points to, then re-raised
            traceback.print_exc(file=f)
            f.flush()
            raise
