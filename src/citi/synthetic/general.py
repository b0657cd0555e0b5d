"""Seeded general tasks with checkable answers: math, knowledge, instruction following.

All templates and facts are written for this project. Each generator returns
raw rows; ``write_general`` writes <out>/<task>/{train,test}.jsonl with the
test split drawn first and train kept disjoint from it.

Math solutions mark each step as <<expr=value>> (GSM8K's calculator
convention) and end with '#### <answer>', so a checker can recompute them.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from ..io import write_jsonl

NAMES = ["Ilse", "Tomas", "Priya", "Nadia", "Kofi", "Mara", "Ravi", "Soren", "Lena", "Omar", "Yuki", "Bram",
         "Elif", "Jonas", "Amara", "Felix", "Noor", "Pablo", "Greta", "Idris"]


# ---------------------------------------------------------------- math

def _step(expr: str, value: int) -> str:
    return f"{expr.replace('*', ' * ').replace('/', ' / ').replace('+', ' + ').replace('-', ' - ')} = <<{expr}={value}>>{value}"


def _bakery(r, n):
    a, b = r.randint(3, 12), r.randint(6, 24)
    c, d = r.randint(1, a * b // 3), r.randint(1, a * b // 3)
    t = a * b
    q = (f"{n} bakes {a} trays of rolls with {b} rolls on each tray. She sells {c} rolls in the morning "
         f"and gives {d} to a neighbour. How many rolls does she have left?")
    return q, [f"She bakes {_step(f'{a}*{b}', t)} rolls.",
               f"After selling and giving some away she has {_step(f'{t}-{c}-{d}', t - c - d)} rolls."], t - c - d


def _savings(r, n):
    a, b, c, d = r.randint(5, 40), r.randint(3, 20), r.randint(10, 60), r.randint(5, 50)
    t = a * b
    c = min(c, t - 1)
    q = (f"{n} saves {a} dollars every week for {b} weeks. Then {n} spends {c} dollars on a gift and gets "
         f"{d} dollars for a birthday. How many dollars does {n} have now?")
    return q, [f"Savings: {_step(f'{a}*{b}', t)} dollars.", f"Now: {_step(f'{t}-{c}+{d}', t - c + d)} dollars."], t - c + d


def _garden(r, n):
    a, b, c, d = r.randint(2, 15), r.randint(3, 20), r.randint(2, 15), r.randint(3, 20)
    x, y = a * b, c * d
    q = f"{n} plants {a} rows of {b} tulips and {c} rows of {d} daisies. How many flowers does {n} plant in total?"
    return q, [f"Tulips: {_step(f'{a}*{b}', x)}.", f"Daisies: {_step(f'{c}*{d}', y)}.",
               f"Total: {_step(f'{x}+{y}', x + y)} flowers."], x + y


def _bus(r, n):
    a = r.randint(20, 60)
    b = r.randint(1, a - 5)
    c = r.randint(1, 30)
    if (a - b + c) % 2:
        c += 1
    m = a - b + c
    q = (f"A bus leaves with {a} passengers. At the first stop {b} get off and {c} get on. At the second stop "
         f"half of the passengers get off. How many passengers are still on the bus?")
    return q, [f"After the first stop: {_step(f'{a}-{b}+{c}', m)}.", f"Half get off, leaving {_step(f'{m}/2', m // 2)}."], m // 2


def _shop(r, n):
    a, b, c, d = r.randint(2, 8), r.randint(2, 9), r.randint(2, 10), r.randint(1, 5)
    x, y = a * b, c * d
    e = ((x + y) // 10 + 1) * 10 + r.choice([0, 10, 40, 90])
    q = (f"{n} buys {a} notebooks at {b} dollars each and {c} pens at {d} dollars each, and pays with {e} dollars. "
         f"How much change does {n} get?")
    return q, [f"Notebooks: {_step(f'{a}*{b}', x)}.", f"Pens: {_step(f'{c}*{d}', y)}.",
               f"Total: {_step(f'{x}+{y}', x + y)}.", f"Change: {_step(f'{e}-{x + y}', e - x - y)} dollars."], e - x - y


def _reading(r, n):
    a, d = r.randint(8, 40), r.randint(3, 14)
    p = a * d + r.randint(10, 200)
    q = f"A book has {p} pages. {n} reads {a} pages a day for {d} days. How many pages are left to read?"
    return q, [f"Pages read: {_step(f'{a}*{d}', a * d)}.", f"Left: {_step(f'{p}-{a * d}', p - a * d)} pages."], p - a * d


def _marbles(r, n):
    c, b = r.randint(2, 9), r.randint(3, 15)
    a = c * r.randint(1, 10)
    t = a * b
    q = (f"{n} has {a} bags with {b} marbles in each bag and shares them equally among {c} friends. "
         f"How many marbles does each friend get?")
    return q, [f"Marbles: {_step(f'{a}*{b}', t)}.", f"Each friend: {_step(f'{t}/{c}', t // c)}."], t // c


def _trip(r, n):
    s, h, w = r.randint(10, 30), r.randint(2, 6), r.randint(1, 9)
    q = f"{n} cycles at {s} kilometres per hour for {h} hours and then walks {w} kilometres. How far does {n} travel in total?"
    return q, [f"Cycling: {_step(f'{s}*{h}', s * h)} km.", f"Total: {_step(f'{s * h}+{w}', s * h + w)} km."], s * h + w


def _ages(r, n):
    a, b = r.randint(3, 12), r.randint(2, 4)
    c = r.randint(1, a * b - 1)
    m = r.choice([x for x in NAMES if x != n])
    y, z = a * b, a * b - c
    q = (f"{n} is {a} years old. {n}'s aunt is {b} times as old as {n}, and {m} is {c} years younger than the aunt. "
         f"What is the sum of the three ages?")
    return q, [f"The aunt is {_step(f'{a}*{b}', y)}.", f"{m} is {_step(f'{y}-{c}', z)}.",
               f"Sum: {_step(f'{a}+{y}+{z}', a + y + z)}."], a + y + z


def _factory(r, n):
    a, h, d = r.randint(10, 60), r.randint(4, 12), r.randint(2, 7)
    t = a * h * d
    x = r.randint(1, t // 10)
    q = (f"A machine makes {a} bolts an hour. It runs {h} hours a day for {d} days, and {x} bolts fail inspection. "
         f"How many good bolts are made?")
    return q, [f"Per day: {_step(f'{a}*{h}', a * h)}.", f"In {d} days: {_step(f'{a * h}*{d}', t)}.",
               f"Good: {_step(f'{t}-{x}', t - x)}."], t - x


def _fruit(r, n):
    k = r.randint(2, 5)
    a = k * r.randint(10, 40)
    s = a // k
    b = r.randint(1, a - s - 1)
    q = f"A fruit stand has {a} apples. It sells 1/{k} of them in the morning and {b} more in the afternoon. How many apples are left?"
    return q, [f"Morning sales: {_step(f'{a}/{k}', s)}.", f"Left: {_step(f'{a}-{s}-{b}', a - s - b)} apples."], a - s - b


def _pizza(r, n):
    p, s = r.randint(2, 8), r.choice([6, 8, 10, 12])
    t = p * s
    g = r.randint(2, 9)
    e = r.randint(1, max(1, t // g))
    q = f"{n} orders {p} pizzas cut into {s} slices each. {g} people each eat {e} slices. How many slices are left over?"
    return q, [f"Slices: {_step(f'{p}*{s}', t)}.", f"Eaten: {_step(f'{g}*{e}', g * e)}.",
               f"Left: {_step(f'{t}-{g * e}', t - g * e)}."], t - g * e


MATH = [_bakery, _savings, _garden, _bus, _shop, _reading, _marbles, _trip, _ages, _factory, _fruit, _pizza]


def math_row(rng) -> dict:
    fn = rng.choice(MATH)
    question, steps, answer = fn(rng, rng.choice(NAMES))
    return {"question": question, "answer": " ".join(steps) + f"\n#### {answer}", "template": fn.__name__[1:],
            "final": str(answer)}


# ---------------------------------------------------------------- knowledge

ELEMENTS = [(1, "H", "Hydrogen"), (2, "He", "Helium"), (3, "Li", "Lithium"), (4, "Be", "Beryllium"), (5, "B", "Boron"),
            (6, "C", "Carbon"), (7, "N", "Nitrogen"), (8, "O", "Oxygen"), (9, "F", "Fluorine"), (10, "Ne", "Neon"),
            (11, "Na", "Sodium"), (12, "Mg", "Magnesium"), (13, "Al", "Aluminium"), (14, "Si", "Silicon"),
            (15, "P", "Phosphorus"), (16, "S", "Sulfur"), (17, "Cl", "Chlorine"), (18, "Ar", "Argon"),
            (19, "K", "Potassium"), (20, "Ca", "Calcium"), (22, "Ti", "Titanium"), (24, "Cr", "Chromium"),
            (25, "Mn", "Manganese"), (26, "Fe", "Iron"), (27, "Co", "Cobalt"), (28, "Ni", "Nickel"), (29, "Cu", "Copper"),
            (30, "Zn", "Zinc"), (35, "Br", "Bromine"), (36, "Kr", "Krypton"), (47, "Ag", "Silver"), (50, "Sn", "Tin"),
            (53, "I", "Iodine"), (54, "Xe", "Xenon"), (78, "Pt", "Platinum"), (79, "Au", "Gold"), (80, "Hg", "Mercury"),
            (82, "Pb", "Lead"), (92, "U", "Uranium")]
SPELLINGS = {"Aluminium": ["Aluminum"], "Sulfur": ["Sulphur"]}
CAPITALS = {"France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid", "Portugal": "Lisbon", "Japan": "Tokyo",
            "China": "Beijing", "India": "New Delhi", "Canada": "Ottawa", "Australia": "Canberra", "Brazil": "Brasília",
            "Argentina": "Buenos Aires", "Mexico": "Mexico City", "Egypt": "Cairo", "Kenya": "Nairobi", "Nigeria": "Abuja",
            "Russia": "Moscow", "Norway": "Oslo", "Sweden": "Stockholm", "Finland": "Helsinki", "Denmark": "Copenhagen",
            "Poland": "Warsaw", "Greece": "Athens", "Turkey": "Ankara", "Ireland": "Dublin", "Netherlands": "Amsterdam",
            "Belgium": "Brussels", "Austria": "Vienna", "Hungary": "Budapest", "Czech Republic": "Prague", "Peru": "Lima",
            "Chile": "Santiago", "Colombia": "Bogotá", "South Korea": "Seoul", "Thailand": "Bangkok", "Vietnam": "Hanoi",
            "Indonesia": "Jakarta", "Philippines": "Manila", "Iran": "Tehran", "Iraq": "Baghdad", "Saudi Arabia": "Riyadh",
            "Morocco": "Rabat", "Ethiopia": "Addis Ababa", "Ghana": "Accra", "New Zealand": "Wellington", "Cuba": "Havana",
            "Iceland": "Reykjavík", "Pakistan": "Islamabad", "Ukraine": "Kyiv", "Switzerland": "Bern"}
CITY_ALIASES = {"Brasília": ["Brasilia"], "Bogotá": ["Bogota"], "Reykjavík": ["Reykjavik"], "Kyiv": ["Kiev"], "Bern": ["Berne"]}
COUNTS = {"centimetres are in a metre": 100, "millimetres are in a centimetre": 10, "metres are in a kilometre": 1000,
          "grams are in a kilogram": 1000, "millilitres are in a litre": 1000, "seconds are in a minute": 60,
          "minutes are in an hour": 60, "hours are in a day": 24, "days are in a week": 7, "months are in a year": 12,
          "days are in a leap year": 366, "days are in a common (non-leap) year": 365, "inches are in a foot": 12,
          "feet are in a yard": 3, "ounces are in a pound": 16, "years are in a century": 100, "years are in a decade": 10,
          "years are in a millennium": 1000, "sides does a hexagon have": 6, "sides does a pentagon have": 5,
          "sides does an octagon have": 8, "sides does a triangle have": 3, "degrees are in a right angle": 90,
          "degrees are in a full circle": 360, "degrees do the angles of a triangle add up to": 180,
          "legs does a spider have": 8, "legs does an insect have": 6, "arms does an octopus have": 8,
          "players are on the field for one football (soccer) team": 11, "squares are on a chessboard": 64,
          "cards are in a standard deck without jokers": 52, "keys are on a standard piano": 88}
MONTH_DAYS = [("January", 31), ("February", 28), ("March", 31), ("April", 30), ("May", 31), ("June", 30), ("July", 31),
              ("August", 31), ("September", 30), ("October", 31), ("November", 30), ("December", 31)]
WEEK = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
PLANETS = ["Mercury", "Venus", "Earth", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune"]
OPPOSITES = {"hot": ["cold"], "big": ["small", "little"], "up": ["down"], "early": ["late"], "fast": ["slow"],
             "full": ["empty"], "happy": ["sad", "unhappy"], "wet": ["dry"], "thick": ["thin"], "rich": ["poor"],
             "loud": ["quiet", "soft"], "push": ["pull"], "inside": ["outside"], "always": ["never"], "buy": ["sell"],
             "remember": ["forget"], "strong": ["weak"], "heavy": ["light"], "win": ["lose"], "open": ["closed", "shut"],
             "above": ["below", "under"], "ancient": ["modern"], "arrive": ["depart", "leave"], "minimum": ["maximum"],
             "north": ["south"], "east": ["west"], "friend": ["enemy", "foe"], "question": ["answer"], "true": ["false"]}
YOUNG = {"cat": ["kitten"], "dog": ["puppy", "pup"], "cow": ["calf"], "horse": ["foal"], "sheep": ["lamb"], "goat": ["kid"],
         "frog": ["tadpole"], "bear": ["cub"], "duck": ["duckling"], "goose": ["gosling"], "kangaroo": ["joey"],
         "deer": ["fawn"], "swan": ["cygnet"], "owl": ["owlet"], "pig": ["piglet"], "hen": ["chick"]}
ROMAN = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"), (40, "XL"), (10, "X"),
         (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]


def roman(n: int) -> str:
    out = ""
    for v, s in ROMAN:
        while n >= v:
            out, n = out + s, n - v
    return out


def facts() -> list[tuple[str, list[str], str, list[str]]]:
    """Every fact as (key, question phrasings, answer, extra aliases); the key decides the split."""
    f = []
    add = lambda key, asks, answer, extra=(): f.append((key, list(asks), answer, list(extra)))
    for z, sym, name in ELEMENTS:
        low = name.lower()
        add(f"symbol:{name}", [f"What is the chemical symbol of {low}?", f"Which symbol stands for {low} in the periodic table?"], sym)
        add(f"element:{sym}", [f"Which chemical element has the symbol {sym}?", f"The symbol {sym} stands for which element?"],
            name, SPELLINGS.get(name, []))
        add(f"number:{name}", [f"What is the atomic number of {low}?", f"How many protons does an atom of {low} have?"], str(z))
    for country, city in CAPITALS.items():
        add(f"capital:{country}", [f"What is the capital of {country}?", f"Which city is the capital of {country}?"],
            city, CITY_ALIASES.get(city, []))
        add(f"country:{city}", [f"{city} is the capital of which country?", f"Which country has {city} as its capital?"], country)
    for what, n in COUNTS.items():
        add(f"count:{what}", [f"How many {what}?", f"Tell me how many {what}."], str(n))
    for i, (m, d) in enumerate(MONTH_DAYS):
        add(f"after:{m}", [f"Which month comes after {m}?", f"What month follows {m}?"], MONTH_DAYS[(i + 1) % 12][0])
        add(f"before:{m}", [f"Which month comes before {m}?", f"What month comes just before {m}?"], MONTH_DAYS[i - 1][0])
        add(f"days:{m}", [f"How many days does {m} have in a common year?", f"In a non-leap year, how many days are in {m}?"], str(d))
        add(f"monthno:{m}", [f"What number month of the year is {m}?", f"{m} is which month of the year, counting January as 1?"],
            str(i + 1))
    for i, d in enumerate(WEEK):
        add(f"dayafter:{d}", [f"Which day of the week comes after {d}?", f"What day follows {d}?"], WEEK[(i + 1) % 7])
        add(f"daybefore:{d}", [f"Which day of the week comes before {d}?", f"What day comes just before {d}?"], WEEK[i - 1])
    for i, p in enumerate(PLANETS):
        nth = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"][i]
        add(f"planet:{i}", [f"Which planet is {nth} from the Sun?", f"Counting outward from the Sun, which planet is {nth}?"], p)
        add(f"planetpos:{p}", [f"What position from the Sun is {p}?", f"Counting from the Sun, where is {p} in order (as a number)?"],
            str(i + 1), [nth])
    add("largest-planet", ["What is the largest planet in the Solar System?", "Which planet is the biggest?"], "Jupiter")
    add("red-planet", ["Which planet is called the Red Planet?", "What planet is known as the Red Planet?"], "Mars")
    for w, opp in OPPOSITES.items():
        add(f"opposite:{w}", [f"What is the opposite of '{w}'?", f"Give a word that means the opposite of '{w}'."], opp[0], opp[1:])
    for animal, young in YOUNG.items():
        add(f"young:{animal}", [f"What is a young {animal} called?", f"What do you call a baby {animal}?"], young[0], young[1:])
    for n in range(1, 101):
        add(f"roman:{n}", [f"How is {n} written in Roman numerals?", f"Write the number {n} as a Roman numeral."], roman(n))
    return f


def knowledge_row(fact, rng) -> dict:
    key, phrasings, answer, extra = fact
    aliases = list(dict.fromkeys([answer, *extra]))
    return {"question": rng.choice(phrasings), "answer": answer, "aliases": aliases, "fact": key}


# ---------------------------------------------------------------- instruction following

# topic -> comma-free sentences with no inner full stops, so sentence counts and no_commas hold by construction
TOPICS = {
    "keeping houseplants alive": ["Most houseplants die from too much water rather than too little.",
                                  "Check the soil with a finger before you water.",
                                  "Bright indirect light suits the majority of common plants.",
                                  "Turn the pot every week so the plant grows evenly.",
                                  "Wipe dust off broad leaves to help them breathe."],
    "learning to cook": ["Start with a few simple dishes and cook them often.", "Read the whole recipe before you turn on the stove.",
                         "A sharp knife is safer than a blunt one.", "Taste as you go and adjust the salt at the end.",
                         "Clean up while the food is in the oven."],
    "saving money": ["Write down everything you spend for one month.", "Pay yourself first by moving savings on payday.",
                     "Wait a day before any purchase you did not plan.", "Cook at home more often than you eat out.",
                     "Cancel subscriptions you no longer use."],
    "sleeping better": ["Go to bed and wake up at the same time every day.", "Keep the bedroom cool and dark.",
                        "Avoid screens for the last hour before bed.", "Skip coffee after the early afternoon.",
                        "A short walk in daylight helps set your body clock."],
    "starting to run": ["Begin with short runs mixed with walking breaks.", "Increase your weekly distance slowly.",
                        "Good shoes matter more than fancy clothes.", "Run at a pace where you could still talk.",
                        "Rest days let your legs get stronger."],
    "writing a clear email": ["Put the main request in the first line.", "Use a subject line that says what the email is about.",
                              "Keep paragraphs short and focused.", "Say clearly what you need and by when.",
                              "Read it once more before pressing send."],
    "studying for an exam": ["Spread your study over many short sessions.", "Test yourself instead of rereading notes.",
                             "Explain each topic out loud as if teaching a friend.", "Sleep well the night before the exam.",
                             "Start with the topics you find hardest."],
    "a trip to the seaside": ["Pack sunscreen and a hat even on cloudy days.", "Check the tide times before you walk on the beach.",
                              "Bring a bag to carry your rubbish home.", "Swim only where lifeguards are on duty.",
                              "Early mornings are the quietest time on the shore."],
    "caring for a bicycle": ["Keep the tyres pumped to the pressure on the sidewall.", "Clean and oil the chain every few weeks.",
                             "Check that both brakes work before every ride.", "Store the bike out of the rain.",
                             "Tighten loose bolts before they cause trouble."],
    "making new friends": ["Say yes to invitations even when you feel shy.", "Join a club built around something you enjoy.",
                           "Ask people questions and listen to the answers.", "Remember small details people tell you.",
                           "Friendship grows through many small moments together."],
    "reducing food waste": ["Plan meals before you go shopping.", "Store leftovers in clear boxes so you see them.",
                            "Freeze bread you will not finish in time.", "Use wilting vegetables in soups.",
                            "Check the fridge before buying more."],
    "working from home": ["Set up a fixed place that is only for work.", "Start and stop at regular times.",
                          "Take a real lunch break away from the desk.", "Open a window for fresh air.",
                          "Close the laptop at the end of the day."],
    "learning a new language": ["Practise a little every single day.", "Learn the most common words first.",
                                "Listen to simple podcasts on your commute.", "Speak out loud even when you make mistakes.",
                                "Label things around the house with their names."],
    "planting a vegetable garden": ["Pick a spot that gets at least six hours of sun.",
                                    "Start with easy crops like beans and lettuce.",
                                    "Water deeply but not every day.", "Add compost to feed the soil.",
                                    "Pull weeds while they are still small."],
    "staying focused": ["Work on one task at a time.", "Put your phone in another room.", "Break big jobs into small steps.",
                        "Take a short break every hour.", "Write down distracting thoughts and return to them later."],
    "hosting a dinner party": ["Choose dishes you have cooked before.", "Prepare as much as possible the day before.",
                               "Ask guests about allergies in advance.", "Set the table before anyone arrives.",
                               "Keep the music quiet enough for conversation."],
    "taking better photos": ["Hold the camera steady with both hands.", "Shoot with the light behind you.",
                             "Get closer to your subject than feels natural.", "Keep the horizon straight.",
                             "Take many shots and keep only the best."],
    "moving to a new home": ["Start packing rooms you use least.", "Label every box with its room and contents.",
                             "Keep a bag of essentials for the first night.", "Take photos of cables before unplugging them.",
                             "Update your address with banks and doctors."],
    "drinking enough water": ["Keep a bottle on your desk all day.", "Drink a glass of water with every meal.",
                              "Add a slice of lemon if plain water bores you.", "Pale yellow urine is a sign you drink enough.",
                              "Drink more on hot days and after exercise."],
    "reading more books": ["Carry a book with you everywhere.", "Read for ten minutes before bed.",
                           "Stop reading books you do not enjoy.", "Join a library to read for free.",
                           "Swap some phone time for a chapter."],
}
ASKS = ["Give me some advice on {t}.", "Write a short guide to {t}.", "What should a beginner know about {t}?",
        "Share a few tips for {t}.", "Explain how to get better at {t}."]
STARTS = ["Here is my advice:", "Quick answer:", "My suggestions:"]
ENDS = ["Hope this helps.", "Good luck with it.", "That is all for now."]
BANNED = ["very", "really", "amazing", "basically", "literally", "honestly", "awesome", "totally"]
STOP = {"there", "their", "about", "before", "every", "after", "while", "which", "would", "could", "other", "where",
        "rather", "little", "things", "often", "still", "more", "most", "than", "with", "your", "them", "they"}


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9]+(?:['-][A-Za-z0-9]+)*", text)


def _sentences(text: str) -> int:
    return len([s for s in re.split(r"[.!?]+", text) if s.strip()])


def check_constraints(response: str, constraints: list[dict]) -> dict:
    """{'passed': all ok, 'results': [ok per constraint]}; an unknown type raises ValueError."""
    text = response.strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    results = []
    for c in constraints:
        t = c["type"]
        if t == "bullets":
            ok = sum(ln.startswith(("- ", "* ")) for ln in lines) == c["n"]
        elif t == "sentences":
            ok = _sentences(text) == c["n"]
        elif t == "paragraphs":
            ok = len([p for p in re.split(r"\n\s*\n", text) if p.strip()]) == c["n"]
        elif t == "include":
            ok = re.search(rf"\b{re.escape(c['word'])}\b", text, re.IGNORECASE) is not None
        elif t == "exclude":
            ok = re.search(rf"\b{re.escape(c['word'])}\b", text, re.IGNORECASE) is None
        elif t == "lowercase":
            ok = text == text.lower()
        elif t == "uppercase":
            ok = text == text.upper()
        elif t == "max_words":
            ok = len(_words(text)) < c["n"]
        elif t == "starts_with":
            ok = text.startswith(c["text"])
        elif t == "ends_with":
            ok = text.endswith(c["text"])
        elif t == "no_commas":
            ok = "," not in text
        else:
            raise ValueError(f"unknown constraint type '{t}'")
        results.append(ok)
    return {"passed": all(results), "results": results}


def describe(c: dict) -> str:
    return {"bullets": "Answer in exactly {n} bullet points starting with '- '.", "sentences": "Use exactly {n} sentences.",
            "paragraphs": "Write exactly {n} paragraphs separated by a blank line.", "include": "Use the word '{word}' at least once.",
            "exclude": "Do not use the word '{word}'.", "lowercase": "Write everything in lowercase letters.",
            "uppercase": "Write your whole answer in capital letters.", "max_words": "Keep it under {n} words.",
            "starts_with": "Begin your answer with '{text}'.", "ends_with": "End your answer with the exact phrase '{text}'.",
            "no_commas": "Do not use any commas."}[c["type"]].format(**c)


def instruct_row(rng) -> dict:
    topic = rng.choice(sorted(TOPICS))
    shape = rng.choice(["bullets", "sentences", "paragraphs", "plain"])
    extra = rng.sample(["include", "exclude", "case", "max_words", "starts_with", "ends_with", "no_commas"], rng.randint(1, 3))
    if shape == "sentences" and "starts_with" in extra:
        extra.remove("starts_with")  # a leading phrase would change the sentence count
    if shape == "sentences" and "ends_with" in extra:
        extra.remove("ends_with")
    n = rng.randint(2, 5)
    sents = rng.sample(TOPICS[topic], n)
    cons = []
    if shape == "bullets":
        body = "\n".join("- " + s for s in sents)
        cons.append({"type": "bullets", "n": n})
    elif shape == "paragraphs":
        k = rng.randint(2, n)
        cut = sorted(rng.sample(range(1, n), k - 1))
        body = "\n\n".join(" ".join(sents[a:b]) for a, b in zip([0, *cut], [*cut, n]))
        cons.append({"type": "paragraphs", "n": k})
    else:
        body = " ".join(sents)
        if shape == "sentences":
            cons.append({"type": "sentences", "n": n})
    sep = "\n" if shape in ("bullets", "paragraphs") else " "  # a single newline never makes a new paragraph
    case = rng.choice(["lowercase", "uppercase"]) if "case" in extra else None
    recase = (lambda s: s.lower()) if case == "lowercase" else (lambda s: s.upper()) if case == "uppercase" else (lambda s: s)
    if "starts_with" in extra:
        start = recase(rng.choice(STARTS))
        body = start + sep + body
        cons.append({"type": "starts_with", "text": start})
    if "ends_with" in extra:
        end = recase(rng.choice(ENDS))
        body = body + sep + end
        cons.append({"type": "ends_with", "text": end})
    body = recase(body)
    if case:
        cons.append({"type": case})
    if "include" in extra:
        pool = sorted({w.lower() for w in _words(" ".join(sents)) if len(w) >= 5 and w.isalpha() and w.lower() not in STOP})
        cons.append({"type": "include", "word": rng.choice(pool)})
    if "exclude" in extra:
        cons.append({"type": "exclude", "word": rng.choice([w for w in BANNED if not re.search(rf"\b{w}\b", body, re.I)])})
    if "no_commas" in extra:
        cons.append({"type": "no_commas"})
    if "max_words" in extra:
        cons.append({"type": "max_words", "n": len(_words(body)) + rng.randint(3, 15)})
    instruction = rng.choice(ASKS).format(t=topic) + " " + " ".join(describe(c) for c in cons)
    assert check_constraints(body, cons)["passed"], (body, cons)
    return {"instruction": instruction, "response": body, "constraints": cons, "topic": topic}


# ---------------------------------------------------------------- splits

def _draw(make, n: int, exclude: set[str], key: str, what: str) -> list[dict]:
    out, seen = [], set(exclude)
    for _ in range(50 * n + 1000):
        if len(out) == n:
            return out
        row = make()
        if row[key] not in seen:
            seen.add(row[key])
            out.append(row)
    raise RuntimeError(f"could only draw {len(out)} distinct {what} rows of {n}")


def split_rows(task: str, seed: int, n_train: int, n_test: int) -> tuple[list[dict], list[dict]]:
    """(train, test) rows of one task; disjoint by question (math, instruct) or by fact (knowledge)."""
    r_test, r_train = random.Random(f"{seed}/{task}/test"), random.Random(f"{seed}/{task}/train")
    if task == "knowledge":
        pool = facts()
        random.Random(f"{seed}/knowledge/split").shuffle(pool)
        if n_test > len(pool) - 1:
            raise ValueError(f"knowledge: at most {len(pool) - 1} test facts exist, {n_test} asked")
        test = [knowledge_row(f, r_test) for f in pool[:n_test]]
        rest = pool[n_test:]
        # beyond the remaining facts, train repeats them in other phrasings (never a test fact)
        train = [knowledge_row(rest[i % len(rest)], r_train) for i in range(n_train)]
    else:
        make, key = {"math": (math_row, "question"), "instruct": (instruct_row, "instruction")}[task]
        test = _draw(lambda: make(r_test), n_test, set(), key, task)
        train = _draw(lambda: make(r_train), n_train, {r[key] for r in test}, key, task)
    for split, rows in (("train", train), ("test", test)):
        for i, row in enumerate(rows):
            row["id"] = f"{task}-{split}-{i:05d}"
    return train, test


def write_general(out: Path, task: str, seed: int, n_train: int, n_test: int) -> dict:
    train, test = split_rows(task, seed, n_train, n_test)
    write_jsonl(Path(out) / "train.jsonl", train)
    write_jsonl(Path(out) / "test.jsonl", test)
    return {"train": len(train), "test": len(test)}
