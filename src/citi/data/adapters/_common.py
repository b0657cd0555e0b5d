"""Small helpers shared by several adapters (no adapter lives here)."""

from __future__ import annotations

from pathlib import Path

from ...io import read_table


def plain(value):
    """Parquet rows carry numpy arrays and scalars; records want plain JSON types."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return plain(value.tolist())
    return value


def read_rows(path: Path) -> list[dict]:
    """``read_table``, with parquet values turned into plain Python."""
    rows = read_table(path)
    return [plain(r) for r in rows] if path.name.endswith(".parquet") else rows


def with_input(instruction: str, extra: str) -> str:
    """Alpaca-style prompt: the optional input goes below the instruction."""
    return f"{instruction}\n\n{extra}" if extra.strip() else instruction


def native_id(path: Path, i: int, n_files: int) -> str:
    """Row index when a split is one file; otherwise qualify it by the file."""
    return str(i) if n_files == 1 else f"{path.stem}-{i}"
