"""Travel APIs: weather, time zones, flights, hotel bookings."""

from __future__ import annotations

import datetime as dt
import random
import zlib

from .base import API, ApiError, Ask, Param, fold, parse_date, parse_time, pick, rand_date, say_clock, say_date
from .world import CITIES, DAYS, START, USERS, day

CONDITIONS = ["sunny", "partly cloudy", "overcast", "light rain", "heavy rain", "windy", "foggy", "thunderstorms"]
HOTELS = {  # name -> (city, price per night in USD, max guests)
    "Harbourlight Hotel": ("Port Ellery", 140, 4), "The Quiet Owl": ("Port Ellery", 95, 2),
    "The Copper Kettle Inn": ("Dunmarrow", 88, 3), "Old Mill Rooms": ("Dunmarrow", 110, 4),
    "Seaglass Lodge": ("Kestrel Bay", 175, 4), "Kestrel Cliffs Resort": ("Kestrel Bay", 260, 6),
    "Alder House": ("Alderwick", 120, 3), "Sunvale Grand": ("Sunvale", 310, 4),
    "Marrowgate Palms": ("Marrowgate", 99, 4), "Brightwater Tower Hotel": ("Brightwater", 205, 3),
    "Cindral Courtyard Inn": ("Cindral", 76, 2), "Hollowmere Fireside Lodge": ("Hollowmere", 134, 5),
    "Veyra Lantern Hotel": ("Veyra", 158, 4), "Ostrin Pines Motel": ("Ostrin", 64, 3),
    "Tallowby Bayview": ("Tallowby", 189, 4),
}


def _weather() -> dict:
    rng = random.Random("weather")
    table = {}
    for city, (_, high) in CITIES.items():
        table[city] = {}
        for i in range(DAYS):
            h = high + rng.randint(-4, 4) + i // 15  # a little warmer into June
            table[city][day(i).isoformat()] = {"condition": rng.choice(CONDITIONS), "high_c": h, "low_c": h - rng.randint(5, 11)}
    return table


def _flights() -> dict:
    rng = random.Random("flights")
    pairs = [(a, b) for a in CITIES for b in CITIES if a != b]
    routes = {}
    for a, b in sorted(rng.sample(pairs, 40)):
        routes[f"{a}|{b}"] = sorted(
            ({"flight": f"{a[:1]}{b[:1]}{rng.randrange(100, 1000)}",
              "depart": f"{rng.randrange(6, 22):02d}:{rng.choice([0, 15, 30, 45]):02d}",
              "duration_min": rng.randrange(50, 600, 5), "price_usd": rng.randrange(60, 900),
              "weekdays": sorted(rng.sample(range(7), rng.randint(2, 7)))} for _ in range(rng.randint(1, 3))),
            key=lambda f: f["depart"])
    return routes


WEATHER, FLIGHTS = _weather(), _flights()  # read-only, so shared by every manager


def databases() -> dict:
    rng = random.Random("bookings")
    bookings = {}
    for user, _, _ in USERS:
        hotel, d = rng.choice(sorted(HOTELS)), rand_date(rng, START, DAYS - 7)
        bookings[f"BK-{rng.randrange(1000, 10000)}"] = {
            "user": user, "hotel": hotel, "check_in": d.isoformat(),
            "check_out": (d + dt.timedelta(days=rng.randint(1, 5))).isoformat(), "guests": rng.randint(1, 2)}
    hotels = {k: dict(zip(("city", "price_per_night", "max_guests"), v)) for k, v in HOTELS.items()}
    return {"Weather": WEATHER, "Flights": FLIGHTS, "Hotel": hotels, "Booking": bookings}


def city_of(name: str) -> str:
    for c in CITIES:
        if fold(c) == fold(name):
            return c
    raise ApiError(f"Unknown city '{name}'.")


class GetWeather(API):
    name = "GetWeather"
    description = "Gives the weather forecast (condition, high and low temperature in Celsius) for a city on a date."
    inputs = {"city": Param("str", "The city name."), "date": Param("str", "The date. Format: YYYY-MM-DD")}
    outputs = {"forecast": Param("dict", "city, date, condition, high_c, low_c")}
    keywords = ["weather forecast", "weather city date", "forecast temperature rain"]
    folded = {"city"}

    def run(self, city, date):
        c, d = city_of(city), parse_date(date).isoformat()
        row = self.tm.db["Weather"][c].get(d)
        if row is None:
            raise ApiError("No forecast for that date.")
        return {"city": c, "date": d, **row}

    def ask(self, rng, user):
        city, d = rng.choice(sorted(CITIES)), rand_date(rng, START, DAYS)
        day_ = say_date(d, rng)
        say = pick(rng, ["What will the weather be like in {c} on {d}?", "Is it going to rain in {c} on {d}?",
                         "Give me the forecast for {c}, {d}.", "I'm visiting {c} on {d}. How's the weather looking?"], c=city, d=day_)
        partial = (f"Can you check the weather in {city} for me?", "Sure, for which date?", f"For {day_}.")
        return Ask({"city": city, "date": d.isoformat()}, say, lambda r: pick(
            rng, ["On {d} {c} expects {w} with a high of {h}°C and a low of {l}°C.",
                  "The forecast for {c} on {d}: {w}, between {l}°C and {h}°C."],
            c=city, d=day_, w=r["output"]["condition"], h=r["output"]["high_c"], l=r["output"]["low_c"]), partial)


class ConvertTimeZone(API):
    name = "ConvertTimeZone"
    description = "Converts a local clock time in one city to the local time in another city (time zone conversion)."
    inputs = {"time": Param("str", "Local time in the first city. Format: YYYY-MM-DD HH:MM"),
              "from_city": Param("str", "The city the time is given in."), "to_city": Param("str", "The city to convert to.")}
    outputs = {"time": Param("str", "Local time in the second city. Format: YYYY-MM-DD HH:MM")}
    keywords = ["time zone convert", "local time in city", "timezone difference clock"]
    folded = {"from_city", "to_city"}

    def run(self, time, from_city, to_city):
        t, a, b = parse_time(time), city_of(from_city), city_of(to_city)
        shift = dt.timedelta(hours=CITIES[b][0] - CITIES[a][0])
        return {"time": (t + shift).strftime("%Y-%m-%d %H:%M")}

    def ask(self, rng, user):
        a, b = rng.sample(sorted(CITIES), 2)
        d, h, m = rand_date(rng, START, DAYS), rng.randrange(24), rng.choice([0, 15, 30, 45])
        when = f"{say_clock(h, m, rng)} on {say_date(d, rng)}"
        say = pick(rng, ["If it's {w} in {a}, what time is it in {b}?", "Convert {w} {a} time to {b} time.",
                         "I have a call at {w} in {a}. What time is that in {b}?"], w=when, a=a, b=b)
        return Ask({"time": f"{d} {h:02d}:{m:02d}", "from_city": a, "to_city": b}, say,
                   lambda r: pick(rng, ["That is {t} in {b}.", "In {b} it will be {t}."], t=r["output"]["time"], b=b))


class SearchFlights(API):
    name = "SearchFlights"
    description = ("Searches scheduled flights (plane trips) between two cities on a date, "
                   "with departure time, duration and ticket price.")
    inputs = {"origin": Param("str", "Departure city."), "destination": Param("str", "Arrival city."),
              "date": Param("str", "Travel date. Format: YYYY-MM-DD")}
    outputs = {"flights": Param("list", "Flights that day: flight, depart, duration_min, price_usd.")}
    keywords = ["search flights", "flight between cities", "flights plane tickets"]
    folded = {"origin", "destination"}

    def run(self, origin, destination, date):
        a, b, d = city_of(origin), city_of(destination), parse_date(date)
        return [{k: f[k] for k in ("flight", "depart", "duration_min", "price_usd")}
                for f in self.tm.db["Flights"].get(f"{a}|{b}", []) if d.weekday() in f["weekdays"]]

    def ask(self, rng, user):
        a, b = rng.choice(sorted(FLIGHTS)).split("|")
        d = rand_date(rng, START, DAYS)
        day_ = say_date(d, rng)
        say = pick(rng, ["Are there flights from {a} to {b} on {d}?", "Find me a flight from {a} to {b} on {d}.",
                         "I need to fly {a} to {b} on {d}. What are my options?"], a=a, b=b, d=day_)
        partial = (f"I want to fly from {a} to {b}.", "When would you like to travel?", f"On {day_}.")

        def reply(r):
            if not r["output"]:
                return f"Sorry, there are no flights from {a} to {b} on {day_}."
            opts = "; ".join(f"{f['flight']} at {f['depart']} for {f['price_usd']} USD" for f in r["output"])
            return pick(rng, ["I found these flights: {o}.", "Options from {a} to {b}: {o}."], o=opts, a=a, b=b)
        return Ask({"origin": a, "destination": b, "date": d.isoformat()}, say, reply, partial)


class BookHotel(API):
    name = "BookHotel"
    description = "Books a hotel room for the signed-in user between check-in and check-out dates for a number of guests."
    inputs = {"token": Param("str", "The user's sign-in token from GetUserToken."), "hotel": Param("str", "The hotel name."),
              "check_in": Param("str", "Check-in date. Format: YYYY-MM-DD"),
              "check_out": Param("str", "Check-out date. Format: YYYY-MM-DD"), "guests": Param("int", "Number of guests.")}
    outputs = {"booking": Param("dict", "booking_id and total_usd")}
    keywords = ["book hotel room", "hotel reservation", "reserve a room stay"]
    needs_token = True
    folded = {"hotel"}

    def run(self, token, hotel, check_in, check_out, guests):
        user = self.user_of(token)
        name = next((h for h in self.tm.db["Hotel"] if fold(h) == fold(hotel)), None)
        if name is None:
            raise ApiError(f"Unknown hotel '{hotel}'.")
        a, b, info = parse_date(check_in), parse_date(check_out), self.tm.db["Hotel"][name]
        if b <= a:
            raise ApiError("Check-out must be after check-in.")
        if not 1 <= guests <= info["max_guests"]:
            raise ApiError(f"This room takes 1 to {info['max_guests']} guests.")
        # an id from the request itself, so the same booking gets the same id on any manager
        key = f"{user}|{name}|{a}|{b}|{guests}"
        bid = f"BK-{zlib.crc32(key.encode()) % 90000 + 10000}"
        self.tm.db["Booking"][bid] = {"user": user, "hotel": name, "check_in": a.isoformat(), "check_out": b.isoformat(),
                                      "guests": guests}
        return {"booking_id": bid, "total_usd": info["price_per_night"] * (b - a).days}

    def ask(self, rng, user):
        hotel = rng.choice(sorted(HOTELS))
        city, _, cap = HOTELS[hotel]
        a = rand_date(rng, START, DAYS - 7)
        b, g = a + dt.timedelta(days=rng.randint(1, 6)), rng.randint(1, cap)
        da, db = say_date(a, rng), say_date(b, rng)
        params = {"token": user["token"], "hotel": hotel, "check_in": a.isoformat(), "check_out": b.isoformat(), "guests": str(g)}
        guests = "just me" if g == 1 else f"{g} guests"
        say = pick(rng, ["Book a room at {h} in {c} from {a} to {b} for {g}.",
                         "I'd like to stay at {h} ({c}), checking in {a} and out {b}, {g}.",
                         "Please reserve {h} from {a} until {b}; {g}."], h=hotel, c=city, a=da, b=db, g=guests)
        partial = (f"Can you book {hotel} from {da} to {db}?", "Happy to. How many guests?", f"{g}." if g > 1 else "Just one.")
        return Ask(params, say, lambda r: pick(
            rng, ["Booked! Your booking id is {i} and the stay costs {t} USD.", "You're all set at {h}: booking {i}, total {t} USD."],
            i=r["output"]["booking_id"], t=r["output"]["total_usd"], h=hotel), partial)


class CancelBooking(API):
    name = "CancelBooking"
    description = "Cancels one of the signed-in user's hotel bookings by booking id."
    inputs = {"token": Param("str", "The user's sign-in token from GetUserToken."),
              "booking_id": Param("str", "The booking id, like BK-1234.")}
    outputs = {"status": Param("str", "success or an error")}
    keywords = ["cancel hotel booking", "cancel reservation booking id"]
    needs_token = True

    def run(self, token, booking_id):
        user, book = self.user_of(token), self.tm.db["Booking"].get(booking_id.strip().upper())
        if book is None or book["user"] != user:
            raise ApiError("No booking with that id on this account.")
        del self.tm.db["Booking"][booking_id.strip().upper()]
        return "success"

    def ask(self, rng, user):
        bid, book = next((k, v) for k, v in sorted(self.tm.db["Booking"].items()) if v["user"] == user["username"])
        say = pick(rng, ["Please cancel my hotel booking {i}.", "I can't make the trip. Cancel booking {i} at {h}, please.",
                         "Cancel reservation {i}."], i=bid, h=book["hotel"])
        return Ask({"token": user["token"], "booking_id": bid}, say,
                   lambda r: pick(rng, ["Booking {i} is cancelled.", "Your stay at {h} ({i}) has been cancelled."],
                                  i=bid, h=book["hotel"]))


APIS = [GetWeather, ConvertTimeZone, SearchFlights, BookHotel, CancelBooking]
