"""Calendar arithmetic APIs: weekday of a date, days between two dates."""

from __future__ import annotations

import datetime as dt

from .base import API, Ask, Param, parse_date, pick, rand_date, say_date

YEAR_START = dt.date(2024, 1, 1)
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def databases() -> dict:
    return {}


class GetWeekday(API):
    name = "GetWeekday"
    description = "Tells which day of the week (Monday to Sunday) a calendar date falls on."
    inputs = {"date": Param("str", "The date. Format: YYYY-MM-DD")}
    outputs = {"weekday": Param("str", "The day of the week.")}
    keywords = ["weekday of a date", "weekday calendar date", "which weekday"]

    def run(self, date):
        return {"weekday": WEEKDAYS[parse_date(date).weekday()]}

    def ask(self, rng, user):
        d = rand_date(rng, YEAR_START, 366)
        when = say_date(d, rng)
        say = pick(rng, ["What day of the week is {d}?", "Which weekday does {d} fall on?", "Is {d} a weekend day?"], d=when)
        return Ask({"date": d.isoformat()}, say,
                   lambda r: pick(rng, ["{d} is a {w}.", "It falls on a {w}."], d=when, w=r["output"]["weekday"]))


class DaysBetween(API):
    name = "DaysBetween"
    description = "Counts the number of days from a start date to an end date on the calendar (negative if the end is earlier)."
    inputs = {"start_date": Param("str", "The first date. Format: YYYY-MM-DD"),
              "end_date": Param("str", "The second date. Format: YYYY-MM-DD")}
    outputs = {"days": Param("int", "Days from start_date to end_date.")}
    keywords = ["days between dates", "count days until date", "how many days calendar"]

    def run(self, start_date, end_date):
        return {"days": (parse_date(end_date) - parse_date(start_date)).days}

    def ask(self, rng, user):
        a, b = sorted([rand_date(rng, YEAR_START, 366), rand_date(rng, YEAR_START, 366)])
        sa, sb = say_date(a, rng), say_date(b, rng)
        say = pick(rng, ["How many days are there from {a} to {b}?", "Count the days between {a} and {b}.",
                         "If today is {a}, how many days until {b}?"], a=sa, b=sb)
        return Ask({"start_date": a.isoformat(), "end_date": b.isoformat()}, say,
                   lambda r: pick(rng, ["There are {n} days from {a} to {b}.", "That's {n} days."], n=r["output"]["days"], a=sa, b=sb))


APIS = [GetWeekday, DaysBetween]
