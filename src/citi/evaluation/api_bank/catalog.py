"""What an evaluation needs from the data folder, read at run time: API descriptions
(for ToolSearcher and parameter types), the level-3 ground truth, and recorded replies.

Descriptions come from the prompts of the test files (each holds the JSON description of the
APIs it offers, as the official ToolManager prints them) and, for level 3, from the
ToolSearcher results in ``level-3.json``. Three official level-1/2 APIs (AddScene,
ModifyScene, CheckToken) are never shown in the data, so they are executable but not
retrievable by ToolSearcher here.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from ...errors import SourceError
from ...io import read_jsonl

# parameter types of the APIs the data never describes (behaviour, not text)
UNDESCRIBED_TYPES = {"AddScene": {"name": "str", "devices": "list"}, "ModifyScene": {"name": "str", "devices": "list"},
                     "CheckToken": {"token": "str"}}
NETWORK_APIS = ("Dictionary", "Translate", "SearchEngine")
DIALOGUE_DIRS = {1: "level-1-given-desc", 2: "level-2-toolsearcher"}


def _descriptions_in(text: str):
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") and '"input_parameters"' in line:
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if isinstance(d, dict) and isinstance(d.get("name"), str):
                yield {k: d[k] for k in ("name", "description", "input_parameters", "output_parameters") if k in d}


def _load_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceError(f"{path}: missing (API-Bank test data)") from None
    except ValueError as e:
        raise SourceError(f"{path}: not JSON ({e})") from None


class Catalog:
    def __init__(self, root: Path, level: int):
        self.root, self.level = Path(root), 3 if level == 3 else 12
        self.described: dict[str, dict] = {}
        self.recorded: dict = {}
        self.gold3: list[dict] = []
        if self.level == 3:
            self._load_level3()
        else:
            self._load_level12()

    def _load_level12(self):
        for name in ("level-1-api", "level-1-response", "level-2-api", "level-2-response"):
            path = self.root / "test-data" / f"{name}.json"
            if path.exists():
                for row in _load_json(path):
                    for d in _descriptions_in(row.get("instruction", "")):
                        self.described.setdefault(d["name"], d)
        self.described.pop("ToolSearcher", None)
        for level, folder in DIALOGUE_DIRS.items():
            for path in sorted((self.root / "lv1-lv2-samples" / folder).glob("*.jsonl")):
                for turn in read_jsonl(path):
                    if turn.get("role") == "API" and turn.get("api_name") in NETWORK_APIS:
                        from .apis.lv3 import canonical
                        self.recorded[(turn["api_name"], canonical(turn["param_dict"]))] = turn["result"]["output"]

    def _load_level3(self):
        from .apis.lv3 import canonical
        path = self.root / "test-data" / "level-3.json"
        self.gold3 = _load_json(path)
        for i, sample in enumerate(self.gold3):
            for j, api in enumerate(sample.get("apis", [])):
                try:
                    result = api["output"]
                    if api["api_name"] == "ToolSearcher":
                        out = result["output"]
                        for d in out if isinstance(out, list) else [out]:
                            if isinstance(d, dict) and "name" in d:
                                self.described.setdefault(d["name"], d)
                    else:
                        self.recorded[(api["api_name"], canonical(result["input"]))] = result
                except (KeyError, TypeError) as e:
                    raise SourceError(f"{path}: sample {i} api {j}: malformed record ({e})") from None

    def types(self, name: str) -> dict[str, str] | None:
        if name in self.described:
            return {k: v.get("type", "str") for k, v in self.described[name]["input_parameters"].items()}
        return UNDESCRIBED_TYPES.get(name) if self.level != 3 else None


@lru_cache(maxsize=8)
def catalog(root: str, level: int) -> Catalog:
    return Catalog(Path(root), level)
