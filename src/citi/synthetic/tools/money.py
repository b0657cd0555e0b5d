"""Numbers APIs: currency conversion (fixed mock rates), stock prices, calculator."""

from __future__ import annotations

import random

from ..calc import CalcError, as_number, evaluate
from .base import API, ApiError, Ask, Param, parse_date, pick, rand_date, say_date
from .world import DAYS, START, day

# units per 1 USD; fixed mock values, not market data
RATES = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "JPY": 156.0, "CAD": 1.37, "AUD": 1.51,
         "CHF": 0.91, "INR": 83.4, "MXN": 17.0, "SEK": 10.7}
CURRENCY_WORDS = {"USD": "US dollars", "EUR": "euros", "GBP": "British pounds", "JPY": "Japanese yen",
                  "CAD": "Canadian dollars", "AUD": "Australian dollars", "CHF": "Swiss francs",
                  "INR": "Indian rupees", "MXN": "Mexican pesos", "SEK": "Swedish kronor"}
# invented companies
TICKERS = {"ZEPH": ("Zephyr Wind Systems", 42.0), "KITE": ("Kite Logistics", 118.0), "MOSS": ("Mossbank Foods", 23.5),
           "TRNQ": ("Tranquil Health", 301.0), "HALO": ("Halo Optics", 76.0), "BRKN": ("Braken Mining", 9.8),
           "LUMA": ("Lumaworks Software", 455.0), "PIKE": ("Pike & Ferry Shipping", 61.2)}


def _prices() -> dict:
    rng = random.Random("stocks")
    table = {}
    for sym, (_, p) in TICKERS.items():
        table[sym] = {}
        for i in range(DAYS):
            if day(i).weekday() < 5:  # markets close at weekends
                p = round(max(1.0, p * (1 + rng.gauss(0, 0.02))), 2)
                table[sym][day(i).isoformat()] = p
    return table


PRICES = _prices()


def databases() -> dict:
    return {"Currency": RATES, "Stock": PRICES}


class ConvertCurrency(API):
    name = "ConvertCurrency"
    description = "Converts an amount of money from one currency to another with fixed exchange rates (currency codes like USD, EUR)."
    inputs = {"amount": Param("float", "The amount to convert."),
              "from_currency": Param("str", "Three-letter code of the source currency."),
              "to_currency": Param("str", "Three-letter code of the target currency.")}
    outputs = {"amount": Param("float", "The converted amount, rounded to cents.")}
    keywords = ["currency exchange convert", "convert money currency", "exchange rate"]
    folded = {"from_currency", "to_currency"}

    def run(self, amount, from_currency, to_currency):
        a, b = from_currency.strip().upper(), to_currency.strip().upper()
        for c in (a, b):
            if c not in RATES:
                raise ApiError(f"Unknown currency '{c}'.")
        if amount < 0:
            raise ApiError("The amount must not be negative.")
        return {"amount": round(amount / RATES[a] * RATES[b], 2)}

    def ask(self, rng, user):
        a, b = rng.sample(sorted(RATES), 2)
        amount = rng.choice([rng.randrange(5, 2000), rng.randrange(5, 500) * 10, round(rng.uniform(1, 300), 2)])
        name = lambda c: rng.choice([c, CURRENCY_WORDS[c]])
        say = pick(rng, ["How much is {n} {a} in {b}?", "Convert {n} {a} to {b}, please.",
                         "I have {n} {a}. What's that in {b}?"], n=amount, a=name(a), b=name(b))
        return Ask({"amount": str(amount), "from_currency": a, "to_currency": b}, say,
                   lambda r: pick(rng, ["{n} {a} is {x:.2f} {b}.", "That comes to {x:.2f} {b}."],
                                  n=amount, a=a, b=b, x=r["output"]["amount"]))


class GetStockPrice(API):
    name = "GetStockPrice"
    description = "Returns the closing share price of a company by stock ticker symbol on a trading date."
    inputs = {"symbol": Param("str", "The ticker symbol, like ZEPH."), "date": Param("str", "The trading date. Format: YYYY-MM-DD")}
    outputs = {"quote": Param("dict", "symbol, date and close (closing price in USD)")}
    keywords = ["stock price", "share price ticker", "stock market closing"]
    folded = {"symbol"}

    def run(self, symbol, date):
        sym, d = symbol.strip().upper(), parse_date(date)
        if sym not in PRICES:
            raise ApiError(f"Unknown ticker '{symbol}'.")
        if d.isoformat() not in PRICES[sym]:
            raise ApiError("No trading on that date.")
        return {"symbol": sym, "date": d.isoformat(), "close": PRICES[sym][d.isoformat()]}

    def ask(self, rng, user):
        sym = rng.choice(sorted(TICKERS))
        d = rand_date(rng, START, DAYS)
        while d.weekday() >= 5:
            d = rand_date(rng, START, DAYS)
        when, company = say_date(d, rng), TICKERS[sym][0]
        say = pick(rng, ["What did {s} close at on {d}?", "How much was a {c} share ({s}) on {d}?",
                         "Look up the {s} stock price for {d}."], s=sym, c=company, d=when)
        return Ask({"symbol": sym, "date": d.isoformat()}, say,
                   lambda r: pick(rng, ["{s} closed at {p:.2f} USD on {d}.", "On {d} a {c} share closed at {p:.2f} USD."],
                                  s=sym, c=company, d=when, p=r["output"]["close"]))


class Calculator(API):
    name = "Calculator"
    description = "Evaluates (computes) an arithmetic math formula with + - * / and parentheses and returns the result."
    inputs = {"formula": Param("str", "The formula, like (3+4)*2.")}
    outputs = {"result": Param("float", "The value of the formula.")}
    keywords = ["calculator arithmetic", "calculate formula", "compute math formula"]
    spaceless = {"formula"}

    def run(self, formula):
        try:
            return {"result": as_number(evaluate(formula))}
        except CalcError as e:
            raise ApiError(f"Bad formula: {e}.") from None

    def ask(self, rng, user):
        n = lambda: rng.choice([rng.randrange(2, 100), rng.randrange(100, 5000), round(rng.uniform(0.5, 99), 1)])
        op = lambda: rng.choice("+-*/")
        shapes = [lambda: f"{n()}{op()}{n()}", lambda: f"({n()}{op()}{n()}){op()}{n()}", lambda: f"{n()}{op()}{n()}{op()}{n()}"]
        formula = rng.choice(shapes)()
        while True:  # avoid division by zero and unwieldy decimals
            try:
                value = as_number(evaluate(formula))
                break
            except CalcError:
                formula = rng.choice(shapes)()
        shown = formula
        if rng.random() < 0.5:
            shown = formula.replace("*", " × ").replace("/", " ÷ ").replace("+", " + ").replace("-", " - ")
        say = pick(rng, ["What is {f}?", "Can you calculate {f} for me?", "Please work out {f}."], f=shown)
        return Ask({"formula": formula}, say,
                   lambda r: pick(rng, ["The result is {v}.", "{f} = {v}"], v=r["output"]["result"], f=formula))


APIS = [ConvertCurrency, GetStockPrice, Calculator]
