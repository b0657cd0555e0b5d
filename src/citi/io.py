"""File helpers: atomic writes, JSON/JSONL reading with located errors, checksums.

Every writer here writes to a temporary file beside the target and renames it
into place, so an interrupted job never leaves a half-written output.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import RecordError


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it into place on success.

    Works for files and directories. On any exception the temporary is removed
    and ``target`` is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    out = tmp / target.name
    try:
        yield out
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(out, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def dumps_record(obj: Any) -> str:
    """Canonical one-line JSON: sorted keys, UTF-8, so equal data gives equal bytes."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def write_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> int:
    """Write records as canonical JSONL atomically; return the count."""
    n = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for rec in records:
            f.write(dumps_record(rec))
            f.write("\n")
            n += 1
    return n


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write indented, key-sorted JSON atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, ensure_ascii=False, sort_keys=True, indent=2)
        f.write("\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Read a JSONL (or .jsonl.gz) file of objects; a bad line names file and line."""
    path = Path(path)
    out = []
    with _open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise RecordError(f"{path}:{lineno}: broken JSON line ({e.msg} at column {e.colno})") from None
            if not isinstance(obj, dict):
                raise RecordError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            out.append(obj)
    return out


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON (or .json.gz) file; a syntax error names file, line and column."""
    path = Path(path)
    with _open_text(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise RecordError(f"{path}:{e.lineno}: broken JSON ({e.msg} at column {e.colno})") from None


def read_table(path: str | os.PathLike) -> list[dict]:
    """Read rows from .jsonl, .json (a list, or a dict with one list), or .parquet."""
    path = Path(path)
    name = path.name.removesuffix(".gz")
    if name.endswith(".jsonl"):
        return read_jsonl(path)
    if name.endswith(".json"):
        data = read_json(path)
        if isinstance(data, dict):
            lists = [v for v in data.values() if isinstance(v, list)]
            if len(lists) == 1:
                data = lists[0]
        if not isinstance(data, list):
            raise RecordError(f"{path}: expected a JSON list of records, got {type(data).__name__}")
        for i, row in enumerate(data):
            if not isinstance(row, dict):
                raise RecordError(f"{path}: record {i}: expected a JSON object, got {type(row).__name__}")
        return data
    if name.endswith(".parquet"):
        import pandas as pd

        try:
            frame = pd.read_parquet(path)
        except ImportError as e:  # pyarrow is optional: only hub parquet needs it
            raise RecordError(f"{path}: reading parquet needs pyarrow ({e}); pip install pyarrow") from None
        return frame.to_dict(orient="records")
    raise RecordError(f"{path}: unsupported file type (expected .json, .jsonl, .parquet, optionally .gz)")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
