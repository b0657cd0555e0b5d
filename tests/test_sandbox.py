"""The code sandbox against the escapes a security probe found (issue 21, item 3).

Each test runs a small hostile program and checks a property of the host afterwards:
how long the scorer took, which processes are left, what the program could read or reach,
how much memory the host used. The general behaviour (pass/fail, timeout, writes) is
tested in test_opencompass.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest

from citi.evaluation.sandbox import Limits, humaneval_program, run_python

FAST = Limits(timeout_s=2.0)
ROOT = os.geteuid() == 0


def alive(pid: int) -> bool:
    """A process that exists and is no zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_escaped_descendants_neither_hang_the_scorer_nor_survive():
    # one grandchild leaves the process group, another double-forks into a new session;
    # both keep the output pipes open and sleep far longer than the timeout
    code = textwrap.dedent("""
        import ctypes, os, time
        libc = ctypes.CDLL(None)
        if os.fork() == 0:
            libc.setpgid(0, 0)
            print(os.getpid(), flush=True)
            time.sleep(8)
            os._exit(0)
        if os.fork() == 0:
            if os.fork() == 0:
                libc.setsid()
                print(os.getpid(), flush=True)
                time.sleep(8)
            os._exit(0)
        time.sleep(0.5)
    """)
    out = run_python(code, FAST)
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 2, out
    assert out.seconds < FAST.timeout_s + 1.5, out.seconds
    assert not [p for p in pids if alive(p)]


def test_a_timeout_costs_about_its_limit():
    code = "import ctypes, os, time\nif os.fork() == 0:\n    ctypes.CDLL(None).setsid()\ntime.sleep(8)\n"
    out = run_python(code, Limits(timeout_s=1.0))
    assert out.status == "timeout" and out.seconds < 2.0, out.seconds


def test_the_program_cannot_read_the_scorers_environment():
    # /proc/<pid>/environ shows a process's environment as it started, so the scorer is a
    # fresh process started with the secret; the program reads past the Python guard (posix)
    secret = "hf_planted_secret_7f3a"
    program = textwrap.dedent("""
        import os, posix
        for path in (f"/proc/{os.getppid()}/environ", f"/proc/{os.getppid()}/cmdline"):
            try:
                fd = posix.open(path, posix.O_RDONLY)
                print(path, posix.read(fd, 1 << 20))
            except OSError as e:
                print(path, "denied", type(e).__name__)
        try:
            print(open(f"/proc/{os.getppid()}/environ", "rb").read())
        except OSError as e:
            print("open denied", type(e).__name__)
    """)
    scorer = ("import sys\nfrom citi.evaluation.sandbox import Limits, run_python\n"
              "out = run_python(sys.stdin.read(), Limits(timeout_s=2.0))\nprint(out.status)\nprint(out.stdout)\n")
    proc = subprocess.run([sys.executable, "-c", scorer], input=program, capture_output=True, text=True,
                          env={**os.environ, "HF_TOKEN": secret}, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("passed") and "environ denied" in proc.stdout, proc.stdout
    assert "open denied" in proc.stdout and secret not in proc.stdout


def test_endless_output_keeps_the_host_memory_bounded():
    scorer = textwrap.dedent("""
        import resource
        from citi.evaluation.sandbox import Limits, run_python
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out = run_python("import sys\\nwhile True:\\n    sys.stdout.write('x' * 65536)\\n", Limits(timeout_s=1.5))
        grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(out.status, len(out.stdout), round(out.seconds, 2), grew)
    """)
    proc = subprocess.run([sys.executable, "-c", scorer], capture_output=True, text=True, timeout=60)
    status, kept, seconds, grew_kb = proc.stdout.split()
    assert status == "timeout" and int(kept) <= 1024**2 and float(seconds) < 3.0, proc.stdout
    assert int(grew_kb) < 32 * 1024, f"the host grew by {grew_kb} kB"


@pytest.mark.skipif(not ROOT, reason="as another user RLIMIT_NPROC already counts that user's processes")
def test_a_fork_bomb_is_stopped_below_the_process_cap():
    code = textwrap.dedent("""
        import os, time
        n = 0
        for _ in range(64):
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                time.sleep(5)
                os._exit(0)
            n += 1
        print(n)
    """)
    out = run_python(code, Limits(timeout_s=2.0, processes=16))
    assert out.passed, out
    assert int(out.stdout) <= 16
    assert out.seconds < 3.5  # the sleeping children hold the pipes: they are killed, not waited for


def test_the_network_is_unreachable(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    code = textwrap.dedent(f"""
        import _socket, socket
        for make in (socket.socket, _socket.socket):
            try:
                s = make(socket.AF_INET, socket.SOCK_STREAM)
                s.settimeout(1)
                s.connect(("127.0.0.1", {port}))
                print("connected")
            except OSError as e:
                print("refused", type(e).__name__)
    """)
    try:
        out = run_python(code, FAST)
        assert "connected" not in out.stdout and out.stdout.count("refused") == 2, out
        with pytest.raises(socket.timeout):
            listener.accept()[0].close()
    finally:
        listener.close()


def test_reads_and_directories_outside_the_work_dir_are_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("private")
    os.chmod(tmp_path, 0o755)
    for code in (f"print(open({str(secret)!r}).read())", f"import os\nos.mkdir({str(tmp_path / 'made')!r})",
                 f"import os\nos.makedirs({str(tmp_path / 'a' / 'b')!r})",
                 f"import pathlib\npathlib.Path({str(tmp_path / 'p')!r}).mkdir()",
                 "print(open('/etc/passwd').read())"):
        out = run_python(code, FAST)
        assert not out.passed and "PermissionError" in out.stderr, (code, out)
        assert "private" not in out.stdout and "root:" not in out.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.txt"]
    # inside the work dir: directories, reads and writes work
    assert run_python("import os\nos.makedirs('a/b')\nopen('a/b/f', 'w').write('1')\n"
                      "assert open('a/b/f').read() == '1'\nopen('/dev/null').read()\n", FAST).passed


def test_typical_humaneval_imports_still_work():
    prompt = textwrap.dedent("""
        import math, re, string, heapq, bisect, hashlib, random, json, statistics
        from typing import List, Optional, Tuple
        from collections import Counter, defaultdict, deque
        from itertools import accumulate, permutations
        from functools import lru_cache, reduce
        from fractions import Fraction
        from decimal import Decimal
        import datetime

        def solve(xs: List[int]) -> int:
    """)
    completion = ("    import operator, copy, textwrap, difflib, unicodedata  # imported late, after the guard\n"
                  "    return reduce(operator.add, xs) + math.isqrt(16) + len(re.findall('a', 'aa'))\n")
    test = "def check(f):\n    assert f([1, 2]) == 9\n    assert Counter('ab')['a'] == 1\n"
    out = run_python(humaneval_program(prompt, completion, test, "solve"), FAST)
    assert out.passed, out.stderr
    wrong = run_python(humaneval_program(prompt, "    return 0\n", test, "solve"), FAST)
    assert wrong.status == "failed" and "AssertionError" in wrong.stderr


def test_without_root_powers_it_degrades_gracefully(monkeypatch):
    # no uid to drop to and no namespaces or prctl (as when not root): the other layers still hold
    from citi.evaluation import sandbox
    monkeypatch.setattr(sandbox, "_sandbox_uid", lambda: None)
    monkeypatch.setattr(sandbox, "_libc", lambda: None)
    assert run_python(humaneval_program("def add(a, b):\n", "    return a + b\n",
                                        "def check(f):\n    assert f(2, 3) == 5\n", "add"), FAST).passed
    out = run_python("import socket\nsocket.create_connection(('127.0.0.1', 9))\n", FAST)
    assert out.status == "failed" and "PermissionError" in out.stderr
    code = "import os, time\nif os.fork() == 0:\n    print(os.getpid(), flush=True)\ntime.sleep(8)\n"
    out = run_python(code, Limits(timeout_s=1.0))
    assert out.status == "timeout" and out.seconds < 2.0 and not alive(int(out.stdout))
