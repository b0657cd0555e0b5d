"""Resolve a configured data source to a local file or folder.

Source strings (``datasets.<name>.source`` in the config):

- ``hub:<org>/<name>``        a Hugging Face dataset repo, at ``revision``
- ``https://...``             a single file, downloaded once into the cache
- ``https://.../{a,b/c}``     a folder of several files (e.g. GitHub raw): each one fetched once,
                              keeping its relative path, and the cache folder returned
- ``pypi:<module>/<path>``    a data file shipped inside an installed package
- ``generated:<kind>``        the project's own generated data (results/raw/embedded/<kind>)
- ``env:<name>``              one of the project's environments that ships its data (``env:bfcl``:
                              ``.venv-bfcl`` at the repo root, or ``$CITI_BFCL_PYTHON``), from any directory
- anything else               a local file or folder; ``$VARS`` are expanded

Hub and URL access is optional: an unreachable hub names the source and says
how to point the config at a local copy instead.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import SourceError
from .. import paths
from ..io import atomic_path

EMBEDDED_ROOT = Path(paths.EMBEDDED_ROOT)
REPO_ROOT = Path(__file__).resolve().parents[3]  # where ./bootstrap.sh makes the .venv-<name> environments
DOWNLOAD_CACHE = Path(paths.DOWNLOADS)


@dataclass(frozen=True)
class Resolved:
    path: Path
    kind: str  # hub | url | pypi | generated | local
    revision: str | None = None  # the hub commit actually used, when known


def source_kind(source: str) -> str:
    for prefix in ("hub", "pypi", "generated", "env"):
        if source.startswith(prefix + ":"):
            return prefix
    if source.startswith(("http://", "https://")):
        return "url"
    return "local"


def local_path(source: str) -> Path:
    """A local source as a path: ~ and $VARS expanded, relative to the working directory."""
    return Path(os.path.expandvars(os.path.expanduser(source)))


def local_hint(owner: str) -> str:
    return (f"If you have a local copy, set {owner}.source to its path "
            f"(a file or folder, e.g. ../shared/data/<name>).")


def resolve(source: str, revision: str | None = None, owner: str = "source",
            allow_patterns: list[str] | None = None) -> Resolved:
    """Return the local path for ``source``; ``owner`` names the config key in errors."""
    kind = source_kind(source)
    if kind == "hub":
        return _resolve_hub(source[4:], revision, owner, allow_patterns)
    if kind == "url":
        folder = URL_FOLDER.match(source)
        if folder:
            return Resolved(_download_folder(folder["base"], folder["files"].split(","), owner), "url")
        return Resolved(_download(source, owner), "url")
    if kind == "pypi":
        return Resolved(_resolve_pypi(source[5:], owner), "pypi")
    if kind == "generated":
        path = EMBEDDED_ROOT / source[len("generated:"):]
        if not path.exists():
            raise SourceError(f"{owner}: generated data '{source}' is missing at {path}; "
                              f"build it with `snakemake {path}`")
        return Resolved(path, "generated")
    if kind == "env":
        return Resolved(_resolve_env(source[len("env:"):], owner), "env")
    path = local_path(source)
    if not path.exists():
        raise SourceError(f"{owner}: local source '{source}' does not exist (looked at {path.resolve()}). "
                          f"Point {owner}.source at the file or folder, or use hub:<org>/<name> with a revision.")
    return Resolved(path, "local")


def _resolve_env(name: str, owner: str) -> Path:
    """``env:<name>``: one of the project's own environments, wherever Snakemake runs: the interpreter in
    ``$CITI_<NAME>_PYTHON``, else the repository's ``.venv-<name>`` (made by ./bootstrap.sh)."""
    variable = f"CITI_{name.upper()}_PYTHON"
    if os.environ.get(variable):
        python = Path(os.environ[variable])
        if not python.exists():
            raise SourceError(f"{owner}: ${variable} is {python}, which does not exist")
        # the environment's folder (the data it ships lie beside bin/, not in it)
        return python.parent.parent if python.parent.name == "bin" else python
    folder = REPO_ROOT / f".venv-{name}"
    if not folder.is_dir():
        raise SourceError(f"{owner}: environment 'env:{name}' is missing at {folder}; ./bootstrap.sh makes it, "
                          f"or set ${variable} to its interpreter")
    return folder


def _resolve_hub(repo_id: str, revision: str | None, owner: str, allow_patterns) -> Resolved:
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(repo_id=repo_id, repo_type="dataset", revision=revision,
                                   allow_patterns=allow_patterns)
    except Exception as e:  # network, auth, missing revision: all end the same way for the user
        raise SourceError(f"{owner}: cannot fetch hub dataset '{repo_id}' (revision {revision or 'main'}): "
                          f"{type(e).__name__}: {e}. {local_hint(owner)}") from None
    folder = Path(folder)
    # Snapshot folders are named by the commit they hold.
    return Resolved(folder, "hub", folder.name if folder.parent.name == "snapshots" else revision)


URL_FOLDER = re.compile(r"^(?P<base>https?://\S+/)\{(?P<files>[^{}/][^{}]*)\}$")


def _download_folder(base: str, files: list[str], owner: str) -> Path:
    """Fetch ``base + f`` for each relative path f into one cache folder (its layout kept)."""
    folder = DOWNLOAD_CACHE / hashlib.sha256((base + ",".join(files)).encode()).hexdigest()[:16]
    for rel in (f.strip() for f in files):
        if not rel or rel.startswith("/") or ".." in rel.split("/"):
            raise SourceError(f"{owner}: '{rel}' in '{base}{{...}}' is not a relative path inside the folder")
        _download(base + rel, owner, folder / rel)
    return folder


def _download(url: str, owner: str, target: Path | None = None) -> Path:
    name = url.rstrip("/").rsplit("/", 1)[-1].split("?")[0] or "download"
    target = target or DOWNLOAD_CACHE / hashlib.sha256(url.encode()).hexdigest()[:16] / name
    if target.exists():
        return target
    try:
        with atomic_path(target) as tmp, urllib.request.urlopen(url, timeout=60) as r, open(tmp, "wb") as f:
            while block := r.read(1 << 20):
                f.write(block)
    except Exception as e:
        raise SourceError(f"{owner}: cannot download '{url}': {type(e).__name__}: {e}. {local_hint(owner)}") from None
    return target


def _resolve_pypi(spec: str, owner: str) -> Path:
    module, _, rel = spec.partition("/")
    found = importlib.util.find_spec(module)  # finds the package without importing it
    if found is None or not found.submodule_search_locations:
        raise SourceError(f"{owner}: package '{module}' is not installed (source pypi:{spec}); "
                          f"pip install it, or {local_hint(owner)}")
    path = Path(list(found.submodule_search_locations)[0]) / rel
    if not path.exists():
        raise SourceError(f"{owner}: '{rel}' is not inside the installed package '{module}' ({path})")
    return path
