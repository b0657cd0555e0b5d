"""Look-up, utility and network APIs (official: calculator.py, get_today.py, query_stock.py,
query_history_today.py, wiki.py, document_qa.py, image_caption.py, speech_recognition.py,
send_email.py, play_music.py, book_hotel.py, dictionary.py, translate.py, search_engine.py).

Dictionary, Translate and SearchEngine need the network (or NLTK data) officially. Offline,
the official run gives: Dictionary a connection error (an exception, so never correct),
Translate a crash (it restores ALL_PROXY=None), SearchEngine a missing-punkt error. In
``official`` mode they behave that way (never correct). In ``corrected`` mode they answer from
the replies recorded in the test dialogues (``world.recorded``), so a right call passes.
"""

from __future__ import annotations

import datetime as dt
import re

from .base import API, same_tail


class OfflineError(Exception):
    """What the official evaluator meets offline; scored incorrect."""


class Calculator(API):
    """+ - * / and parentheses over integers, reduced left to right as the official one does."""
    name = "Calculator"

    def run(self, formula):
        formula = formula.replace(" ", "")
        ops = sum(formula.count(c) for c in "+-*/")
        if (not formula or any(c not in "0123456789+-*/()" for c in formula)
                or formula.count("(") != formula.count(")") or ops == 0 or ops + 1 == len(formula)):
            raise Exception("invalid formula")
        tokens = [float(t) if t[0].isdigit() else t for t in re.findall(r"\d+|\D", formula)]
        return self._reduce(tokens)

    def _reduce(self, xs: list):
        while "(" in xs:  # first '(' with the first ')': no real nesting, as officially
            a, b = xs.index("("), xs.index(")")
            xs[a:b + 1] = [self._reduce(xs[a + 1:b])]
        for group in ("*/", "+-"):
            while any(op in xs for op in group):
                i = min(xs.index(op) for op in group if op in xs)
                x, op, y = xs[i - 1], xs[i], xs[i + 1]
                xs[i - 1:i + 2] = [x * y if op == "*" else x / y if op == "/" else x + y if op == "+" else x - y]
        return xs[0]

    def check(self, result, gold):
        return (result["input"]["formula"].replace(" ", "") == gold["input"]["formula"].replace(" ", "")
                and same_tail(result, gold))


class GetToday(API):
    name = "GetToday"
    TODAY = "2023-03-31"  # the official API's fixed date

    def call(self, **kwargs):
        return {"api_name": self.name, "input": None, "output": self.TODAY, "exception": None}

    def check(self, result, gold):
        return result["output"] is not None and result["exception"] is None and result["input"] is None


class QueryStock(API):
    name, database = "QueryStock", "Stock"

    @staticmethod
    def _norm(stock_code, date):
        from .base import norm_date
        return stock_code.upper().strip() or None, norm_date(date)

    def run(self, stock_code, date):
        code, date = self._norm(stock_code, date)
        if code is None:
            raise Exception("The stock code cannot be empty.")
        if isinstance(date, Exception):
            raise date
        if code not in self.db:
            raise Exception("The stock code does not exist.")
        if date not in self.db[code]:
            raise Exception("The stock price of this date is not maintained.")
        return self.db[code][date]

    def check(self, result, gold):
        a, b = result["input"], gold["input"]
        return self._norm(a["stock_code"], a["date"]) == self._norm(b["stock_code"], b["date"]) and same_tail(result, gold)


class QueryHistoryToday(API):
    name, database = "QueryHistoryToday", "History"

    @staticmethod
    def _day(date):
        """'MM-DD' from 'YYYY-MM-DD' or 'MM-DD', else the parse error."""
        from .base import pad_year
        date = pad_year(date)
        for fmt in ("%Y-%m-%d", "%m-%d"):
            try:
                return dt.datetime.strptime(date, fmt).strftime("%m-%d")
            except Exception as e:  # noqa: BLE001
                err = e
        return err

    def run(self, date):
        day = self._day(date)
        if isinstance(day, ValueError):
            raise day
        if day not in self.db:
            raise Exception("The date is not in the database.")
        return [f"Title: {h['Title'].strip()}, Date: {h['Date'].strip()}, Description: {h['Description'].strip()}"
                for h in self.db[day]]

    def check(self, result, gold):
        return self._day(result["input"]["date"]) == self._day(gold["input"]["date"]) and same_tail(result, gold)


class Wiki(API):
    name, database = "Wiki", "Wiki"

    def run(self, keyword):
        keyword = keyword.replace("_", " ").strip().lower()
        if keyword not in self.db:
            raise Exception("Keyword not found.")
        return {"url": self.db[keyword]["url"], "summary": self.db[keyword]["summary"]}

    def check(self, result, gold):
        return result["api_name"] == gold["api_name"] and same_tail(result, gold)


class DocumentQA(API):
    name, database = "DocumentQA", "QuestionAnswering"

    def run(self, url, question):
        url, question = url.strip(), question.strip()
        if question == "":
            raise Exception("The question is empty.")
        if url not in self.db:
            raise Exception("The document of this url failed to be processed.")
        # the stored documents are lists of {question, answer}: officially a text is never
        # 'in' such a list, so every answer is this one
        if question not in self.db[url]:
            return "The question is too difficult to answer."
        return self.db[url][question]

    def check(self, result, gold):
        a, b = result["input"], gold["input"]
        return (a["url"].strip() == b["url"].strip() and a["question"].strip() == b["question"].strip()
                and same_tail(result, gold))


class ImageCaption(API):
    name, database = "ImageCaption", "ImageCaptioning"

    def run(self, url):
        url = url.strip()
        if not url.endswith((".jpg", ".jpeg", ".png")):
            raise Exception("The url should end with .jpg, .jpeg or .png.")
        for item in self.db:
            if item["url"] == url:
                return item["caption"]
        raise Exception("The image of this url failed to be processed.")


class SpeechRecognition(API):
    name, database = "SpeechRecognition", "SpeechRecognition"

    def run(self, url):
        url = url.strip()
        if not url.endswith(".wav"):
            raise Exception("The url should end with .wav.")
        if url not in self.db:
            raise Exception("The audio of this url failed to be processed.")
        return self.db[url]


class SendEmail(API):
    name = "SendEmail"
    ADDRESS = re.compile(r"^[a-z0-9]+[._]?[a-z0-9]+[@]\w+[.]\w{2,3}$")

    def run(self, receiver, subject, content):
        if not self.ADDRESS.match(receiver.strip()):
            raise Exception("Email address of the receiver is invalid.")
        if subject.strip() == "":
            raise Exception("Subject cannot be empty.")
        if content.strip() == "":
            raise Exception("Content cannot be empty.")
        return "success"

    def check(self, result, gold):
        a, b = result["input"], gold["input"]
        return (a["receiver"].strip().lower() == b["receiver"].strip().lower()
                and a["subject"].strip() == b["subject"].strip() and a["content"].strip() == b["content"].strip()
                and same_tail(result, gold))


class PlayMusic(API):
    name = "PlayMusic"

    def run(self, music_name):
        music_name = music_name.lower().strip()
        if music_name == "":
            raise Exception("The music name cannot be empty.")
        return f"music://{music_name}"

    def check(self, result, gold):
        return result["output"] == gold["output"]


class BookHotel(API):
    name, database = "BookHotel", "Hotel"

    def run(self, hotel_name, check_in_time, check_out_time, room_count, adult_count, child_count):
        day = lambda s: dt.datetime.strptime(s, "%Y-%m-%d")
        start, end = day(check_in_time), day(check_out_time)
        order = {"hotel_name": hotel_name, "check_in_time": check_in_time, "check_out_time": check_out_time,
                 "room_count": room_count, "adult_count": adult_count, "child_count": child_count}
        if adult_count > 2 and room_count == 1:
            raise Exception("The number of adults is greater than 2. Two rooms are ordered.")
        for other in self.db.values():
            if other["hotel_name"] == hotel_name:
                a, b = day(other["check_in_time"]), day(other["check_out_time"])
                if a <= start < b or a < end <= b:
                    raise Exception("The room is not available.")
        order_id = str(len(self.db) + 1)
        self.db[order_id] = order
        return order_id


class _Recorded(API):
    """A network API: offline-official failure, or the recorded reply (corrected)."""
    offline_message = "offline"

    def run(self, **args):
        if self.world.mode == "official":
            raise OfflineError(self.offline_message)
        key = self.world.recorded_key(self.name, args)
        if key not in self.world.recorded:
            raise Exception("No recorded reply for this request (offline).")
        return self.world.recorded[key]


class Dictionary(_Recorded):
    name = "Dictionary"
    offline_message = "Failed."  # requests cannot connect; the official call reports an exception

    def run(self, keyword):
        return super().run(keyword=keyword)

    def check(self, result, gold):
        return result["api_name"] == self.name and same_tail(result, gold)


class Translate(_Recorded):
    name = "Translate"

    def run(self, src, src_lang=None, tgt_lang=None):
        if self.world.mode == "official":
            # restoring os.environ['ALL_PROXY'] = None raises TypeError: the official run crashes
            raise TypeError("str expected, not NoneType")
        args = {"src": src, **({"src_lang": src_lang} if src_lang is not None else {}),
                **({"tgt_lang": tgt_lang} if tgt_lang is not None else {})}
        return super().run(**args)

    def call(self, **kwargs):
        result = super().call(**kwargs)
        if self.world.mode == "official" and result["exception"]:
            raise TypeError(result["exception"])
        result["input"] = dict(kwargs)  # officially {'src': ..., **kwargs}: absent keys stay absent
        return result

    def check(self, result, gold):
        return (result["api_name"] == gold["api_name"] and result["input"]["src"] == gold["input"]["src"]
                and same_tail(result, gold))


class SearchEngine(_Recorded):
    name, database = "SearchEngine", "SearchEngine"
    offline_message = "Resource punkt not found."

    def run(self, keyword):
        return super().run(keyword=keyword)

    def check(self, result, gold):
        key = lambda x: x["title"] + x["abstract"]
        if result["api_name"] != gold["api_name"] or result["exception"] != gold["exception"]:
            return False
        a = sorted(result["output"], key=key, reverse=True) if result["output"] is not None else None
        b = sorted(gold["output"], key=key, reverse=True) if gold["output"] is not None else None
        return a == b


APIS = [Calculator, GetToday, QueryStock, QueryHistoryToday, Wiki, DocumentQA, ImageCaption, SpeechRecognition,
        SendEmail, PlayMusic, BookHotel, Dictionary, Translate, SearchEngine]
