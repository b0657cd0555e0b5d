"""Look-up APIs: units, word translation, recipes, contacts, library."""

from __future__ import annotations

import datetime as dt

from .base import API, ApiError, Ask, Param, fold, parse_date, pick, rand_date, say_date
from .world import DAYS, START

# unit -> (dimension, size in the dimension's base unit); temperature is handled apart
UNITS = {"millimeter": ("length", 0.001), "centimeter": ("length", 0.01), "meter": ("length", 1.0),
         "kilometer": ("length", 1000.0), "inch": ("length", 0.0254), "foot": ("length", 0.3048),
         "yard": ("length", 0.9144), "mile": ("length", 1609.344),
         "gram": ("mass", 1.0), "kilogram": ("mass", 1000.0), "ounce": ("mass", 28.349523125),
         "pound": ("mass", 453.59237), "milliliter": ("volume", 0.001), "liter": ("volume", 1.0),
         "cup": ("volume", 0.2365882365), "gallon": ("volume", 3.785411784),
         "celsius": ("temperature", None), "fahrenheit": ("temperature", None), "kelvin": ("temperature", None)}
ABBREV = {"mm": "millimeter", "cm": "centimeter", "m": "meter", "km": "kilometer", "in": "inch", "ft": "foot",
          "feet": "foot", "inches": "inch", "yd": "yard", "mi": "mile", "g": "gram", "kg": "kilogram", "oz": "ounce",
          "lb": "pound", "lbs": "pound", "ml": "milliliter", "l": "liter", "gal": "gallon", "metre": "meter",
          "litre": "liter", "°c": "celsius", "°f": "fahrenheit", "k": "kelvin"}
# English -> Spanish, French, German
WORDS = {"water": ("agua", "eau", "Wasser"), "bread": ("pan", "pain", "Brot"), "house": ("casa", "maison", "Haus"),
         "book": ("libro", "livre", "Buch"), "cat": ("gato", "chat", "Katze"), "dog": ("perro", "chien", "Hund"),
         "apple": ("manzana", "pomme", "Apfel"), "sun": ("sol", "soleil", "Sonne"), "moon": ("luna", "lune", "Mond"),
         "tree": ("árbol", "arbre", "Baum"), "friend": ("amigo", "ami", "Freund"), "school": ("escuela", "école", "Schule"),
         "red": ("rojo", "rouge", "rot"), "green": ("verde", "vert", "grün"), "milk": ("leche", "lait", "Milch"),
         "cheese": ("queso", "fromage", "Käse"), "window": ("ventana", "fenêtre", "Fenster"), "door": ("puerta", "porte", "Tür"),
         "mountain": ("montaña", "montagne", "Berg"), "city": ("ciudad", "ville", "Stadt"), "night": ("noche", "nuit", "Nacht"),
         "thank you": ("gracias", "merci", "danke"), "hello": ("hola", "bonjour", "hallo"), "fish": ("pescado", "poisson", "Fisch")}
LANGS = {"spanish": 0, "es": 0, "french": 1, "fr": 1, "german": 2, "de": 2}
RECIPES = {  # invented home recipes: name -> (minutes, ingredients)
    "Lemon herb rice": (25, ["rice", "lemon", "parsley"]), "Smoky bean chili": (50, ["bean", "tomato", "onion", "paprika"]),
    "Garlic butter mushrooms": (15, ["mushroom", "garlic", "butter"]), "Spinach and feta omelette": (12, ["egg", "spinach", "feta"]),
    "Honey roasted carrots": (40, ["carrot", "honey", "thyme"]), "Peanut noodle bowl": (20, ["noodle", "peanut", "cucumber", "lime"]),
    "Tomato basil soup": (35, ["tomato", "basil", "onion", "garlic"]), "Baked salmon with dill": (25, ["salmon", "dill", "lemon"]),
    "Chickpea coconut curry": (45, ["chickpea", "coconut", "tomato", "onion"]),
    "Apple oat crumble": (55, ["apple", "oat", "butter", "cinnamon"]), "Crispy potato wedges": (45, ["potato", "paprika", "garlic"]),
    "Cucumber yogurt dip": (10, ["cucumber", "yogurt", "mint", "garlic"]),
    "Mushroom risotto": (40, ["rice", "mushroom", "onion", "parmesan"]), "Banana pancakes": (20, ["banana", "egg", "flour"]),
    "Lentil and carrot stew": (60, ["lentil", "carrot", "onion", "cumin"]), "Egg fried rice": (20, ["rice", "egg", "pea", "onion"]),
}
CONTACTS = ["Elsie Marsh", "Tobias Wren", "Anika Ferreira", "Duncan Holloway", "Fatima Rahimi", "Gregor Lind", "Hana Sato",
            "Ivo Petrak", "Julia Brennan", "Kwame Mensah", "Lucia Romano", "Marcus Hale", "Elsie Barrow", "Tobias Crane"]
BOOKS = {"B101": ("The Salt Road", "Irene Calloway"), "B102": ("Lanterns Over Veyra", "Tomas Adebayo"),
         "B103": ("A Short History of Clocks", "Martin Oyelaran"), "B104": ("The Gardener of Hollowmere", "Irene Calloway"),
         "B105": ("Counting Stars in Cindral", "Wen Zhao"), "B106": ("Bread and Stone", "Lotte Verhoeven"),
         "B107": ("The Quiet Machine", "Samuel Achterberg"), "B108": ("Rivers Without Maps", "Wen Zhao"),
         "B109": ("Notes From a Lighthouse", "Greta Olsen"), "B110": ("The Copper Kettle Mysteries", "Martin Oyelaran"),
         "B111": ("Winter in Dunmarrow", "Lotte Verhoeven"), "B112": ("How Bridges Stand", "Samuel Achterberg"),
         "B113": ("The Last Ferry to Ostrin", "Greta Olsen"), "B114": ("Small Gardens and Big Harvests", "Tomas Adebayo")}
ON_LOAN = {"B103", "B107", "B111"}
LOAN_DAYS = 21


def databases() -> dict:
    contacts = [{"name": n, "phone": f"+1 555 01{i:02d}", "email": n.lower().replace(" ", ".") + "@example.org"}
                for i, n in enumerate(CONTACTS)]
    library = {k: {"title": t, "author": a, "available": k not in ON_LOAN} for k, (t, a) in BOOKS.items()}
    return {"Units": {k: list(v) for k, v in UNITS.items()}, "Dictionary": {k: list(v) for k, v in WORDS.items()},
            "Recipe": {k: {"minutes": m, "ingredients": i} for k, (m, i) in RECIPES.items()},
            "Contact": contacts, "Library": library}


def unit(name: str) -> str:
    s = fold(name).removeprefix("degrees ").removeprefix("degree ")
    s = ABBREV.get(s, s)
    if s not in UNITS and s.endswith("s"):
        s = s[:-1]
    return s


def singular(word: str) -> str:
    w = fold(word)
    return w[:-2] if w.endswith("oes") else w[:-1] if w.endswith("s") and not w.endswith("ss") else w


class ConvertUnits(API):
    name = "ConvertUnits"
    description = "Converts a measurement between units of length, mass, volume or temperature (e.g. miles to kilometers)."
    inputs = {"value": Param("float", "The number to convert."), "from_unit": Param("str", "The unit of the value."),
              "to_unit": Param("str", "The unit to convert to.")}
    outputs = {"value": Param("float", "The converted value, rounded to 4 decimals.")}
    keywords = ["unit conversion measurement", "convert units length weight", "convert temperature units"]
    folded = {"from_unit", "to_unit"}

    def normalize(self, args):
        return {**args, "from_unit": unit(args["from_unit"]), "to_unit": unit(args["to_unit"])}

    def run(self, value, from_unit, to_unit):
        for u in (from_unit, to_unit):
            if u not in UNITS:
                raise ApiError(f"Unknown unit '{u}'.")
        (da, fa), (db, fb) = UNITS[from_unit], UNITS[to_unit]
        if da != db:
            raise ApiError(f"Cannot convert {da} to {db}.")
        if da == "temperature":
            c = {"celsius": value, "fahrenheit": (value - 32) * 5 / 9, "kelvin": value - 273.15}[from_unit]
            out = {"celsius": c, "fahrenheit": c * 9 / 5 + 32, "kelvin": c + 273.15}[to_unit]
        else:
            out = value * fa / fb
        return {"value": round(out, 4)}

    def ask(self, rng, user):
        dim = rng.choice(["length", "mass", "volume", "temperature"])
        a, b = rng.sample(sorted(u for u, (d, _) in UNITS.items() if d == dim), 2)
        below_zero = [rng.randrange(-40, 0)] if dim == "temperature" else []
        v = rng.choice([rng.randrange(1, 500), round(rng.uniform(0.1, 100), 1)] + below_zero)
        plural = lambda u: u if u in ("celsius", "fahrenheit", "kelvin") else {"inch": "inches", "foot": "feet"}.get(u, u + "s")
        say = pick(rng, ["How many {b} is {v} {a}?", "Convert {v} {a} to {b}.", "What is {v} {a} in {b}?"],
                   v=v, a=plural(a), b=plural(b))
        return Ask({"value": str(v), "from_unit": a, "to_unit": b}, say,
                   lambda r: pick(rng, ["{v} {a} is {x} {b}.", "That's {x} {b}."],
                                  v=v, a=plural(a), b=plural(b), x=r["output"]["value"]))


class TranslateWord(API):
    name = "TranslateWord"
    description = "Translates an English word into Spanish, French or German using a small dictionary."
    inputs = {"word": Param("str", "The English word."), "language": Param("str", "Spanish, French or German.")}
    outputs = {"translation": Param("str", "The translated word.")}
    keywords = ["translate word language", "translation dictionary", "english word in french spanish german"]
    folded = {"word", "language"}

    def run(self, word, language):
        lang = LANGS.get(fold(language))
        if lang is None:
            raise ApiError(f"Unsupported language '{language}'.")
        entry = WORDS.get(fold(word))
        if entry is None:
            raise ApiError(f"'{word}' is not in the dictionary.")
        return {"translation": entry[lang]}

    def ask(self, rng, user):
        word, lang = rng.choice(sorted(WORDS)), rng.choice(["Spanish", "French", "German"])
        say = pick(rng, ["How do you say '{w}' in {l}?", "Translate the word {w} into {l}.", "What's the {l} word for {w}?"],
                   w=word, l=lang)
        partial = (f"Can you translate '{word}' for me?", "Into which language?", f"{lang}, please.")
        return Ask({"word": word, "language": lang}, say, lambda r: pick(
            rng, ["In {l}, '{w}' is '{t}'.", "The {l} word is '{t}'."], l=lang, w=word, t=r["output"]["translation"]), partial)


class FindRecipes(API):
    name = "FindRecipes"
    description = "Finds recipes to cook that use an ingredient and take at most a given number of minutes."
    inputs = {"ingredient": Param("str", "An ingredient, like tomato."), "max_minutes": Param("int", "The most cooking time allowed.")}
    outputs = {"recipes": Param("list", "Matching recipes with name and minutes, quickest first.")}
    keywords = ["find recipes ingredient", "cooking recipe idea", "recipe to cook"]
    folded = {"ingredient"}

    def run(self, ingredient, max_minutes):
        ing = singular(ingredient)
        hits = [(r["minutes"], n) for n, r in self.tm.db["Recipe"].items()
                if ing in r["ingredients"] and r["minutes"] <= max_minutes]
        return [{"name": n, "minutes": m} for m, n in sorted(hits)]

    def ask(self, rng, user):
        ing = rng.choice(sorted({i for _, ings in RECIPES.values() for i in ings}))
        mins = rng.choice([15, 20, 30, 45, 60, 90])
        say = pick(rng, ["What can I cook with {i} in under {m} minutes?", "Find me a recipe with {i} that takes at most {m} minutes.",
                         "I have some {i} and {m} minutes. Any recipe ideas?"], i=ing, m=mins)

        def reply(r):
            if not r["output"]:
                return f"I couldn't find a recipe with {ing} that fits in {mins} minutes."
            return "You could make " + ", ".join(f"{x['name']} ({x['minutes']} min)" for x in r["output"]) + "."
        return Ask({"ingredient": ing, "max_minutes": str(mins)}, say, reply)


class SearchContacts(API):
    name = "SearchContacts"
    description = ("Looks up people (lookup) in the address book by first name, last name or full name "
                   "and returns phone number and email.")
    inputs = {"name": Param("str", "The name to look up.")}
    outputs = {"contacts": Param("list", "Matching contacts: name, phone, email.")}
    keywords = ["contact phone number email", "address book lookup", "search contacts name"]
    folded = {"name"}

    def run(self, name):
        q = fold(name)
        if not q:
            raise ApiError("The name is empty.")
        return [c for c in self.tm.db["Contact"] if q == fold(c["name"]) or q in fold(c["name"]).split()]

    def ask(self, rng, user):
        full = rng.choice(CONTACTS)
        q = rng.choice([full, full.split()[0], full.split()[1]])
        say = pick(rng, ["What's {n}'s phone number?", "Find {n} in my contacts.", "How can I reach {n}? I need their email."], n=q)
        return Ask({"name": q}, say, lambda r: " ".join(
            f"{c['name']}: phone {c['phone']}, email {c['email']}." for c in r["output"]) or f"No contact named {q}.")


class SearchBooks(API):
    name = "SearchBooks"
    description = "Searches the library catalogue by a word from the title or the author name and shows availability."
    inputs = {"keyword": Param("str", "A word or phrase from the title or author.")}
    outputs = {"books": Param("list", "Matching books: book_id, title, author, available.")}
    keywords = ["library book search", "find book title author", "library catalogue"]
    folded = {"keyword"}

    def run(self, keyword):
        q = fold(keyword)
        if not q:
            raise ApiError("The keyword is empty.")
        return [{"book_id": k, **b} for k, b in sorted(self.tm.db["Library"].items())
                if q in fold(b["title"]) or q in fold(b["author"])]

    def ask(self, rng, user):
        title, author = BOOKS[rng.choice(sorted(BOOKS))]
        q = rng.choice([w for w in title.split() if len(w) > 4] + [author.split()[1], author])
        say = pick(rng, ["Does the library have anything by or about '{q}'?", "Search the library for {q}.",
                         "I'm looking for a book: {q}. Can you check the catalogue?"], q=q)

        def reply(r):
            items = [f"{b['title']} by {b['author']} ({b['book_id']}, {'available' if b['available'] else 'on loan'})"
                     for b in r["output"]]
            return "I found: " + "; ".join(items) + "." if items else f"Nothing matches '{q}'."
        return Ask({"keyword": q}, say, reply)


class BorrowBook(API):
    name = "BorrowBook"
    description = ("Borrows (checks out on loan) an available library book by book id for the signed-in user from a date; "
                   "returns the due date.")
    inputs = {"token": Param("str", "The user's sign-in token from GetUserToken."), "book_id": Param("str", "The book id, like B101."),
              "date": Param("str", "The borrowing date. Format: YYYY-MM-DD")}
    outputs = {"due_date": Param("str", "When the book must be returned.")}
    keywords = ["borrow library book", "check out book loan"]
    needs_token = True

    def run(self, token, book_id, date):
        self.user_of(token)
        book, d = self.tm.db["Library"].get(book_id.strip().upper()), parse_date(date)
        if book is None:
            raise ApiError(f"No book with id '{book_id}'.")
        if not book["available"]:
            raise ApiError("That book is already on loan.")
        book["available"] = False
        return {"due_date": (d + dt.timedelta(days=LOAN_DAYS)).isoformat()}

    def ask(self, rng, user):
        bid = rng.choice(sorted(set(BOOKS) - ON_LOAN))
        d = rand_date(rng, START, DAYS)
        when = say_date(d, rng)
        say = pick(rng, ["I'd like to borrow {t} ({i}) from {d}.", "Please check out book {i} for me on {d}.",
                         "Can I borrow {i}, {t}? I'll pick it up on {d}."], t=BOOKS[bid][0], i=bid, d=when)
        return Ask({"token": user["token"], "book_id": bid, "date": d.isoformat()}, say,
                   lambda r: pick(rng, ["{t} is yours. Please return it by {u}.", "Done, the loan is due back on {u}."],
                                  t=BOOKS[bid][0], u=r["output"]["due_date"]))


APIS = [ConvertUnits, TranslateWord, FindRecipes, SearchContacts, SearchBooks, BorrowBook]
