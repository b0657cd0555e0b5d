"""ToolSearcher: keyword retrieval of an API description, with no model.

The official API-Bank ToolSearcher ranks by sentence-embedding similarity; a
token-overlap score is deterministic and offline. Name words weigh more than
description words, and rare words (inverse document frequency) more than
common ones, so 'add reminder' finds AddReminder, not QueryReminders.
"""

from __future__ import annotations

import math
import re

from .base import API, ApiError, Param

STOP = {"a", "an", "the", "of", "to", "for", "in", "on", "by", "and", "or", "with", "my", "me", "i", "is", "it",
        "at", "from", "as", "be", "this", "that", "what", "can", "like", "e", "g", "api", "given", "one", "other",
        "need", "give", "return", "get", "look", "up", "some", "any", "s"}
NAME_WEIGHT = 3


def stem(w: str) -> str:
    return w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w


def tokens(text: str) -> set[str]:
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)  # split CamelCase names
    return {stem(w) for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOP}


def rank(keywords: str, descs: list[dict]) -> list[tuple[float, str]]:
    """(score, name) for every description, best first; ties go to the name order."""
    docs = [(d["name"], tokens(d["name"]), tokens(d["name"] + " " + d["description"])) for d in descs]
    df = {}
    for _, _, body in docs:
        for t in body:
            df[t] = df.get(t, 0) + 1
    q = tokens(keywords)
    scored = [(sum((NAME_WEIGHT if t in name else 1) * math.log(1 + len(docs) / df[t]) for t in q if t in body), n)
              for n, name, body in docs]
    return sorted(scored, key=lambda x: (-x[0], x[1]))


class ToolSearcher(API):
    name = "ToolSearcher"
    description = "Searches the tool library for the API that best matches some keywords and returns its description."
    inputs = {"keywords": Param("str", "Words describing the wanted tool.")}
    outputs = {"best_match": Param("dict", "The description of the best matching API.")}

    def run(self, keywords):
        descs = {d["name"]: d for d in self.tm.descriptions() if d["name"] != self.name}
        best, name = rank(keywords, list(descs.values()))[0]
        if best == 0:
            raise ApiError("No tool matches those keywords.")
        return descs[name]

    def check(self, result, gold):
        # any keywords that retrieve the right API are right (as in API-Bank)
        return result.get("output") == gold.get("output") and result.get("exception") == gold.get("exception")
