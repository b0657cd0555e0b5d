"""Level-3 APIs (official: ``lv3_apis/``).

Their official databases are literals inside the code, which we do not copy. The level-3
ground truth (``test-data/level-3.json``) records every call's input and result, so the
look-up APIs answer from those records, loaded at run time; an unrecorded input fails as
the official dict look-up does (KeyError: incorrect). APIs whose checkers relax a field, or
that compute their answer, are implemented: AddMeeting and EmailReminder (content ignored),
Calculator, TaxCalculator. AddMeeting keeps its meetings in the world, so state carries
across the 245 steps of one evaluation.
"""

from __future__ import annotations

import json

from .base import API, same_tail, strict_time, word_jaccard
from .info import Calculator


def canonical(args: dict) -> str:
    return json.dumps(args, sort_keys=True, ensure_ascii=False, default=str)


class Recorded(API):
    """A look-up API answering from the recorded results of the level-3 ground truth."""

    def call(self, **kwargs):
        key = (self.name, canonical(kwargs))
        if key not in self.world.recorded:
            raise KeyError(f"{self.name}: no record for {kwargs}")  # the official dict look-up
        rec = self.world.recorded[key]
        return {"api_name": self.name, "input": dict(kwargs), "output": rec["output"], "exception": rec["exception"]}


class HotelAvailability(Recorded):
    name = "HotelAvailability"

    def check(self, result, gold):
        a, b = result["input"], gold["input"]
        return (all(a[k] == b[k] for k in ("destination", "check_in_date", "check_out_date"))
                and result["output"]["hotels"] == gold["output"]["hotels"])


class UserMoviePreferences(Recorded):
    name = "UserMoviePreferences"

    def check(self, result, gold):
        return result["input"] == gold["input"]


class AddMeeting(API):
    name = "AddMeeting"

    def run(self, meeting_topic, start_time, end_time, location, attendees):
        strict_time(start_time)
        strict_time(end_time)
        if meeting_topic.strip() == "":
            raise Exception("Meeting Topic should not be null")
        self.world.state.setdefault("meetings", []).append(
            {"meeting_topic": meeting_topic, "start_time": start_time, "end_time": end_time,
             "location": location, "attendees": attendees})
        return "success"

    def check(self, result, gold):
        a, b = dict(result["input"]), dict(gold["input"])
        ok = word_jaccard(a.pop("meeting_topic"), b.pop("meeting_topic")) > 0.5
        return ok and a == b and same_tail(result, gold)


class EmailReminder(API):
    name = "EmailReminder"

    def run(self, content, time, location, recipient):
        strict_time(time)
        if content.strip() == "":
            raise Exception("Content should not be empty")
        return "success"

    def check(self, result, gold):
        a, b = dict(result["input"]), dict(gold["input"])
        a.pop("content"), b.pop("content")
        return a == b and same_tail(result, gold)


class TaxCalculator(API):
    name = "TaxCalculator"
    BRACKETS = ((float("inf"), 0.4), (5000, 0.3), (3000, 0.2), (1000, 0.1), (0, 0.0))

    def run(self, salary):
        rate = next(r for threshold, r in self.BRACKETS if salary >= threshold)  # StopIteration if < 0
        return {"salary_after_tax": salary - salary * rate}

    def check(self, result, gold):
        return (result["input"]["salary"] == gold["input"]["salary"]
                and result["output"]["salary_after_tax"] == gold["output"]["salary_after_tax"]
                and result["exception"] == gold["exception"])


def recorded_class(api_name: str) -> type[API]:
    return type(api_name, (Recorded,), {"name": api_name})


COMPUTED = [AddMeeting, EmailReminder, TaxCalculator, Calculator, HotelAvailability, UserMoviePreferences]
