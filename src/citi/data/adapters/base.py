"""The adapter interface and registry."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import ClassVar

from ...errors import RecordError, SourceError

ADAPTERS: dict[str, type["Adapter"]] = {}


def register(cls: type["Adapter"]) -> type["Adapter"]:
    if cls.name in ADAPTERS:
        raise ValueError(f"adapter name '{cls.name}' registered twice")
    ADAPTERS[cls.name] = cls
    return cls


class Adapter:
    """Turns the files of one dataset into records (see ``citi.records``).

    ``path`` passed to ``load`` is what the source resolved to: a folder laid
    out as the dataset's repository (GitHub or hub), or a single file, which
    is then used for whichever split is asked.
    """

    name: ClassVar[str]
    task: ClassVar[str]
    # split -> candidate file patterns relative to the dataset folder, tried in order
    split_files: ClassVar[dict[str, list[str]]] = {}
    # hub snapshot filter; None downloads the whole repo
    hub_patterns: ClassVar[list[str] | None] = None
    # False where the source is software that ships the data (an environment), not a file Snakemake should watch
    source_is_data: ClassVar[bool] = True

    @property
    def splits(self) -> list[str]:
        return list(self.split_files)

    def load(self, path: Path, split: str, **options) -> list[dict]:
        """Return the records of ``split``. Subclasses implement ``convert``."""
        files = self.files_for(path, split)
        return self.convert(files, split, **options)

    def convert(self, files: list[Path], split: str, **options) -> list[dict]:
        raise NotImplementedError

    def files_for(self, path: Path, split: str) -> list[Path]:
        """The raw files of ``split`` under ``path`` (or ``path`` itself if a file)."""
        if split not in self.split_files:
            raise RecordError(f"adapter '{self.name}' has no split '{split}'; known: {', '.join(self.split_files)}")
        path = Path(path)
        if path.is_file():
            return [path]
        for pattern in self.split_files[split]:
            hits = sorted(Path(p) for p in glob.glob(str(path / pattern), recursive=True))
            if hits:
                return hits
        raise SourceError(f"adapter '{self.name}': no file for split '{split}' under {path} "
                          f"(looked for {', '.join(self.split_files[split])})")


def field(row: dict, key: str, where: str, typ: type | tuple = str):
    """Fetch a required field of a raw row, naming file, record and field on error."""
    if key not in row:
        raise RecordError(f"{where}: missing field '{key}'")
    value = row[key]
    if not isinstance(value, typ):
        want = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
        raise RecordError(f"{where}: field '{key}' should be {want}, got {type(value).__name__}")
    return value
