"""Per-turn tool training data, with TL-Training's MAE (mistaken-action exclusion).

Every assistant turn of a tool trajectory becomes its own example (the turns before it
are its context; the collator trains the last one), as TL-Training's mae.py splits
trajectories. With MAE on, an assistant turn whose tool feedback carries an error gets no
example: its loss is masked. ``on_error`` says what later turns see of it:

- ``mask`` (the paper): the wrong call and its error feedback stay in their context;
- ``drop``: both are removed from their context too (a clean history).

With MAE off (no detector) nothing is filtered: plain per-turn SFT data.

Two record shapes carry trajectories:

- explicit ones, with ``tool`` turns (API-Bank dialogues, ToolAlpaca's training data): the
  feedback of assistant turn i is turn i+1 when that is a tool turn;
- API-Bank's flattened prompts (and the generated tool data), where each record is already
  one step: the history is text in the user turn (``API-Request: [call]->result`` lines)
  and the target's own feedback appears only in the record of the next step. It is found
  there by matching the context: same system turn, and the next step's text before that
  line equals this step's text before its final instruction line.

Assistant turns not followed by tool feedback (replies to the user, the last call) are
kept; the paper's format has no such replies (every assistant turn there is a call).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from .. import paths
from ..errors import ConfigError
from ..records import with_train_on

# TL-Training's markers (code/mae/mae.py), matched after normalisation
PAPER_MARKERS = (
    "is not defined", "positional argument", "unexpected keyword", "'related_searches'", "ConnectionError",
    '"error":', "not supported", "Invalid API call", "Response error",
    "Object of type SerpResults is not JSON serializable", "400 Client Error", "'error'",
    "slice indices must be integers or None or have an __index__ method", "connection error",
)
_KEEP = re.compile(r"[^\u4e00-\u9fa5a-zA-Z0-9]")
_FLAT_CALL = re.compile(r"^(API-Request: \[.*?\])->(.*)$", re.M)
TURN_FILTERS = ("all", "mae")  # the {turns} wildcard: every turn, or MAE-filtered


def normalise(text: str) -> str:
    """The paper's matching form: letters, digits and CJK only, lower case (no spaces)."""
    return _KEEP.sub("", text).lower()


@dataclass(frozen=True)
class ErrorDetector:
    """Says whether tool feedback reports an error, and which rule said so."""

    markers: tuple[str, ...] = PAPER_MARKERS
    patterns: tuple[str, ...] = ()  # regexes on the raw feedback (e.g. API-Bank's exception field)
    normalise: bool = True
    _compiled: tuple = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self):
        try:
            object.__setattr__(self, "_compiled", tuple(re.compile(p, re.M) for p in self.patterns))
        except re.error as e:
            raise ConfigError(f"config key 'tl_training.mae.patterns': {e.pattern!r} is not a valid regex: "
                              f"{e}") from None
        bad = [m for m in self.markers if self.normalise and not normalise(m)]
        if bad:
            raise ConfigError(f"config key 'tl_training.mae.markers': {bad} normalise to nothing and would "
                              f"match all feedback")

    @classmethod
    def from_config(cls, mae: dict) -> "ErrorDetector":
        return cls(tuple(mae.get("markers", PAPER_MARKERS)), tuple(mae.get("patterns", ())), mae.get("normalise", True))

    def reason(self, feedback: str) -> str | None:
        """The first marker or pattern found in ``feedback``, or None when it reads as a success."""
        text = normalise(feedback) if self.normalise else feedback
        for marker in self.markers:
            if (normalise(marker) if self.normalise else marker) in text:
                return f"marker {marker!r}"
        for pattern in self._compiled:
            if pattern.search(feedback):
                return f"pattern {pattern.pattern!r}"
        return None


def _context_key(rec: dict, user_text: str) -> tuple[str, str]:
    system = rec["messages"][0]["content"] if rec["messages"][0]["role"] == "system" else ""
    return system, user_text


def _flat_feedback_index(records: list[dict]) -> dict[tuple[str, str], dict[str, str]]:
    """(system, text before a call line) -> {call text: its feedback}, over every flattened record."""
    index: dict[tuple[str, str], dict[str, str]] = {}
    for rec in records:
        if _is_flat(rec):
            text = _flat_user(rec)["content"]
            for m in _FLAT_CALL.finditer(text):
                index.setdefault(_context_key(rec, text[: m.start()]), {}).setdefault(m.group(1).strip(), m.group(2))
    return index


def _is_flat(rec: dict) -> bool:
    roles = [m["role"] for m in rec["messages"]]
    return "tool" not in roles and roles.count("assistant") == 1 and roles[-1] == "assistant" and "user" in roles


def _flat_user(rec: dict) -> dict:
    return [m for m in rec["messages"] if m["role"] == "user"][-1]


def _before_last_line(text: str) -> str:
    """The text before its last non-empty line (the flattened prompt's 'Generate ...' instruction)."""
    body = text.rstrip()
    cut = body.rfind("\n")
    return body[: cut + 1] if cut >= 0 else ""


@dataclass
class TurnReport:
    trajectories: int = 0
    assistant_turns: int = 0
    examples: int = 0
    with_feedback: int = 0
    feedback_from_next_step: int = 0  # flattened records whose feedback was found in another record
    masked: list[dict] = field(default_factory=list)
    context_lines_dropped: int = 0

    def summary(self, detector: ErrorDetector | None, on_error: str) -> dict:
        reasons = Counter(m["reason"] for m in self.masked)
        return {
            "mae": detector is not None, "on_error": on_error,
            "detector": None if detector is None else {"markers": list(detector.markers),
                                                       "patterns": list(detector.patterns),
                                                       "normalise": detector.normalise},
            "trajectories": self.trajectories, "assistant_turns": self.assistant_turns,
            "examples": self.examples, "turns_with_feedback": self.with_feedback,
            "feedback_from_next_step": self.feedback_from_next_step,
            "masked": len(self.masked), "masked_by_reason": dict(reasons.most_common()),
            "masked_turns": self.masked, "context_lines_dropped": self.context_lines_dropped,
        }


def split_turns(records: list[dict], detector: ErrorDetector | None, on_error: str = "mask") -> tuple[list[dict], dict]:
    """(per-turn examples, manifest summary) of tool ``records``; no detector: MAE off."""
    if on_error not in ("mask", "drop"):
        raise ConfigError(f"config key 'tl_training.mae.on_error': {on_error!r}; expected mask or drop")
    report, out = TurnReport(), []
    index = _flat_feedback_index(records)
    for rec in records:
        report.trajectories += 1
        if _is_flat(rec):
            out += _split_flat(rec, detector, on_error, index, report)
        else:
            out += _split_explicit(rec, detector, on_error, report)
    report.examples = len(out)
    return out, report.summary(detector, on_error)


def _example(rec: dict, messages: list[dict], turn: int, turns: int) -> dict:
    meta = {**rec.get("meta", {}), "trajectory": rec["id"], "turn": turn}
    rid = rec["id"] if turns == 1 else f"{rec['id']}/turn{turn}"
    # a per-turn example trains its own (last) turn only, whatever the trajectory's train_on:
    # the turns in its context are other examples' targets, or masked by MAE
    return with_train_on({**rec, "id": rid, "messages": messages, "meta": meta}, "last")


def _split_explicit(rec: dict, detector, on_error: str, report: TurnReport) -> list[dict]:
    msgs = rec["messages"]
    turns = sum(m["role"] == "assistant" for m in msgs)
    context, out, turn, skip_feedback = [], [], 0, False
    for i, msg in enumerate(msgs):
        if msg["role"] != "assistant":
            if not skip_feedback:
                context.append(msg)
            skip_feedback = False
            continue
        turn += 1
        report.assistant_turns += 1
        feedback = msgs[i + 1] if i + 1 < len(msgs) and msgs[i + 1]["role"] == "tool" else None
        report.with_feedback += feedback is not None
        reason = detector.reason(feedback["content"]) if detector is not None and feedback is not None else None
        if reason is None:
            out.append(_example(rec, [*context, msg], turn, turns))
            context.append(msg)
            continue
        report.masked.append({"id": rec["id"], "turn": turn, "reason": reason})
        if on_error == "mask":
            context.append(msg)
        else:
            skip_feedback = True  # the error feedback leaves the context with its call
    return out


def _split_flat(rec: dict, detector, on_error: str, index: dict, report: TurnReport) -> list[dict]:
    report.assistant_turns += 1
    user = _flat_user(rec)
    target = rec["messages"][-1]["content"].strip()
    feedback = index.get(_context_key(rec, _before_last_line(user["content"])), {}).get(target)
    report.with_feedback += feedback is not None
    report.feedback_from_next_step += feedback is not None
    reason = detector.reason(feedback) if detector is not None and feedback is not None else None
    if reason is not None:
        report.masked.append({"id": rec["id"], "turn": 1, "reason": reason})
        return []
    if detector is not None and on_error == "drop":
        rec = _drop_failed_lines(rec, user, detector, report)
    return [_example(rec, rec["messages"], 1, 1)]


def _drop_failed_lines(rec: dict, user: dict, detector: ErrorDetector, report: TurnReport) -> dict:
    """The record without history lines whose call failed (call and feedback share the line)."""
    kept = []
    for line in user["content"].split("\n"):
        m = _FLAT_CALL.match(line)
        if m and detector.reason(m.group(2)) is not None:
            report.context_lines_dropped += 1
            continue
        kept.append(line)
    text = "\n".join(kept)
    if text == user["content"]:
        return rec
    return {**rec, "messages": [({**m, "content": text} if m is user else m) for m in rec["messages"]]}


def build_tool_turns(records: list[dict], mae: dict | None) -> tuple[list[dict], dict]:
    """The {turns} output: ``mae`` is the config's tl_training.mae section (MAE on) or None (off)."""
    if mae is None:
        return split_turns(records, None)
    return split_turns(records, ErrorDetector.from_config(mae), mae.get("on_error", "mask"))


def mixture_tool_file(config: dict, spec: dict) -> str:
    """The tool data a mixture reads: the sampled split, or its per-turn form (``tool_turns``)."""
    ref = config["tasks"]["tool"]
    turns = spec.get("tool_turns")
    if turns is None:
        return paths.DATA.format(**ref)
    if turns not in TURN_FILTERS:
        raise ConfigError(f"config key 'mixtures.*.tool_turns': {turns!r}; expected one of {', '.join(TURN_FILTERS)}")
    return paths.TOOL_TURNS.format(**ref, turns=turns)
