"""The invented world the mock APIs share: cities, accounts, people.

Everything here is made up for this project. Tables are built from fixed
lists or a fixed seed, so every ToolManager starts from the same state.
"""

from __future__ import annotations

import datetime as dt
import random
import string

START = dt.date(2024, 5, 1)  # the tables cover May and June 2024
DAYS = 61

# city -> (UTC offset in hours, typical high in Celsius)
CITIES = {
    "Port Ellery": (0, 17), "Dunmarrow": (1, 14), "Kestrel Bay": (-5, 22), "Alderwick": (2, 19),
    "Sunvale": (-8, 27), "Marrowgate": (5.5, 31), "Brightwater": (9, 21), "Cindral": (-3, 25),
    "Hollowmere": (3, 12), "Veyra": (8, 29), "Ostrin": (-6, 16), "Tallowby": (10, 23),
}

USERS = [  # (username, password, balance)
    ("mira_okafor", "tealkettle42", 1520.75), ("jon.vasquez", "riverstone9", 310.0),
    ("priya88", "moonlit-path", 8842.1), ("t.lindqvist", "copperfern", 47.5),
    ("nadia_k", "quietharbor7", 2999.99), ("bram.dekker", "oakshelf55", 120.3),
    ("yuki_s", "paperlantern3", 6400.0), ("omar.h", "saltmarsh21", 75.25),
    ("lena_w", "brightgale8", 1033.6), ("kofi.a", "emberfield4", 560.0),
]


def _token(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(18))


def accounts() -> dict:
    rng = random.Random("accounts")
    return {u: {"password": p, "token": _token(rng), "balance": b} for u, p, b in USERS}


def day(i: int) -> dt.date:
    return START + dt.timedelta(days=i)
