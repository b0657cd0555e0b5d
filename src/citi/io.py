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
import re
import shutil
import tempfile
import zlib
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


# tempfile.mkdtemp's random part: 8 characters of this alphabet (tempfile._RandomNameSequence)
_TEMP_NAME = re.compile(r"[a-z0-9_]{8}")


def remove_stale_temps(target: str | os.PathLike) -> list[Path]:
    """Remove the temporaries ``atomic_path(target)`` left beside ``target`` when its process was killed
    (``.<name>.<8 random characters>.tmp``): only ``target``'s own, not another output's. Call it only
    where no other process writes ``target`` at the same time (a pipeline job's own output)."""
    target = Path(target)
    prefix, removed = f".{target.name}.", []
    if not target.parent.is_dir():
        return removed
    for entry in target.parent.iterdir():
        name = entry.name
        if (name.startswith(prefix) and name.endswith(".tmp") and _TEMP_NAME.fullmatch(name[len(prefix):-4])
                and entry.is_dir() and not entry.is_symlink()):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


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


def _open_bytes(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


@contextlib.contextmanager
def _gzip_errors(path: Path) -> Iterator[None]:
    """A damaged .gz fails mid-read with a bare zlib or EOF error that names no file: name it."""
    try:
        yield
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        if path.suffix != ".gz":
            raise
        raise RecordError(f"{path}: corrupt or truncated gzip file ({e}); delete it and fetch it again") from None


def _utf8_error(path: Path, lineno: int, offset: int, e: UnicodeDecodeError) -> RecordError:
    data = " of the uncompressed data" if path.suffix == ".gz" else ""
    return RecordError(f"{path}:{lineno}: invalid UTF-8 at byte offset {offset}{data} ({e.reason}, "
                       f"byte 0x{e.object[e.start]:02x}); save the file as UTF-8 or fetch it again")


# Strict UTF-8 decoding rejects encoded surrogates, so a lone one can only come from a JSON escape.
# A cheap test that lets well-formed pairs (emoji written by ensure_ascii) through: an escape that is
# not half of a pair, or one after an escaped backslash; ``_lone_escape`` then decides exactly.
_SURROGATE_HINT = re.compile(r"\\(?:u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
                             r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2}\\)u[dD][c-fC-F]|\\u[dD][89abAB])")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPE = re.compile(r"(\\+)u([dD][89a-fA-F][0-9a-fA-F]{2})")
_LOW_ESCAPE = re.compile(r"\\u[dD][c-fC-F][0-9a-fA-F]{2}")
ID_KEYS = ("id", "task_id", "question_id", "idx")  # how raw datasets name their records


def _surrogate_at(obj: Any, where: tuple = ()) -> tuple | None:
    """The key path of the first string (or key) in ``obj`` holding a lone surrogate, else None."""
    if isinstance(obj, str):
        return where if _SURROGATE.search(obj) else None
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(key, str) and _SURROGATE.search(key):
                return (*where, key)
            found = _surrogate_at(value, (*where, key))
            if found is not None:
                return found
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            found = _surrogate_at(value, (*where, i))
            if found is not None:
                return found
    return None


def _field_name(parts: tuple) -> str:
    text = ""
    for p in parts:
        text += f"[{p}]" if isinstance(p, int) else f".{p}" if text else str(p)
    return text


def _record_label(rec: Any, index: int) -> str:
    if isinstance(rec, dict):
        for key in ID_KEYS:
            if isinstance(rec.get(key), (str, int)) and not isinstance(rec.get(key), bool):
                return f"record {index} ({key} {rec[key]!r})"
    return f"record {index}"


def _lone_escape(text: str) -> tuple[int, str] | None:
    """(line, escape) of the first escape in JSON ``text`` that decodes to a lone surrogate."""
    skip = -1
    for m in _ESCAPE.finditer(text):
        if m.start() < skip or len(m.group(1)) % 2 == 0:  # a pair's low half, or an escaped backslash
            continue
        at = m.end() - 6
        if int(m.group(2), 16) < 0xDC00 and _LOW_ESCAPE.match(text, m.end()):
            skip = m.end() + 6
            continue
        return text.count("\n", 0, at) + 1, text[at:m.end()]
    return None


def _surrogate_error(path: Path, lineno: int, rec: Any, index: int, parts: tuple, escape: str) -> RecordError:
    field = f"field '{_field_name(parts)}'" if parts else "a string"
    return RecordError(f"{path}:{lineno}: {_record_label(rec, index)}: {field} holds a lone surrogate ({escape}), "
                       f"which is not valid Unicode and cannot be written as UTF-8; fix the escape or drop the record")


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Read a JSONL (or .jsonl.gz) file of objects; a bad line names file and line."""
    path = Path(path)
    out = []
    offset = 0
    with _gzip_errors(path), _open_bytes(path) as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise _utf8_error(path, lineno, offset + e.start, e) from None
            offset += len(raw)
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise RecordError(f"{path}:{lineno}: broken JSON line ({e.msg} at column {e.colno})") from None
            if not isinstance(obj, dict):
                raise RecordError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            if _SURROGATE_HINT.search(line) and (found := _lone_escape(line)):  # escaped pairs (emoji) are fine
                raise _surrogate_error(path, lineno, obj, len(out), _surrogate_at(obj) or (), found[1])
            out.append(obj)
    return out


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON (or .json.gz) file; a syntax error names file, line and column."""
    path = Path(path)
    with _gzip_errors(path), _open_bytes(path) as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _utf8_error(path, data.count(b"\n", 0, e.start) + 1, e.start, e) from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise RecordError(f"{path}:{e.lineno}: broken JSON ({e.msg} at column {e.colno})") from None
    if _SURROGATE_HINT.search(text) and (found := _lone_escape(text)):  # escaped pairs (emoji) are fine
        parts = _surrogate_at(obj) or ()
        # the record: the element of the first list on the way down (a list of records, or {"data": [...]})
        at = next((i for i, p in enumerate(parts) if isinstance(p, int)), None)
        rec, index, inner = obj, 0, parts
        if at is not None:
            for p in parts[: at + 1]:
                rec = rec[p]
            index, inner = parts[at], parts[at + 1:]
        raise _surrogate_error(path, found[0], rec, index, inner, found[1])
    return obj


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
        except Exception as e:  # pyarrow's ArrowInvalid and OSError name no file
            raise RecordError(f"{path}: corrupt or truncated parquet file ({type(e).__name__}: "
                              f"{' '.join(str(e).split())[:200]}); delete it and fetch it again") from None
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
