"""Account-bound APIs: sign-in token, balance, reminders, to-do list."""

from __future__ import annotations

import datetime as dt
import random

from .base import API, ApiError, Ask, Param, parse_date, parse_time, pick, rand_date, say_clock, say_date
from .world import DAYS, START, USERS, accounts

REMINDERS = ["water the plants", "call the dentist", "renew the parking permit", "pick up the dry cleaning",
             "send the invoice to Garrow Ltd", "book a table for Friday", "return the library books",
             "pay the electricity bill", "feed the cat next door", "charge the camera batteries",
             "buy a birthday card for Elsie", "take the bins out", "check the tyre pressure",
             "stretch for ten minutes", "move the car for street cleaning", "defrost the freezer",
             "email the landlord about the boiler", "collect the parcel from the post office",
             "practise the piano scales", "order more printer ink"]
TASKS = ["clean the garage", "fix the squeaky door", "sort the tax receipts", "plan the summer trip",
         "repaint the fence", "write thank-you notes", "back up the laptop", "donate old clothes",
         "replace the smoke alarm battery", "update the CV", "organise the spice rack", "repot the fern",
         "learn ten Spanish words", "wash the car", "hang the new shelves", "read the lease renewal",
         "assemble the bookcase", "unsubscribe from old newsletters", "descale the kettle", "mend the torn jacket"]


def databases() -> dict:
    rng = random.Random("account-db")
    reminders, todos = {}, {}
    for user, _, _ in USERS:
        reminders[user] = sorted(
            ({"content": c, "time": f"{rand_date(rng, START, DAYS)} {rng.randrange(7, 21):02d}:{rng.choice([0, 30]):02d}"}
             for c in rng.sample(REMINDERS, 3)), key=lambda r: r["time"])
        todos[user] = [{"task": t, "due_date": rand_date(rng, START, DAYS).isoformat()} for t in rng.sample(TASKS, 3)]
    return {"Account": accounts(), "Reminder": reminders, "Todo": todos}


TOKEN = Param("str", "The user's sign-in token from GetUserToken.")


class GetUserToken(API):
    name = "GetUserToken"
    description = "Signs a user in with username and password and returns the access token other account APIs need."
    inputs = {"username": Param("str", "The account username."), "password": Param("str", "The account password.")}
    outputs = {"token": Param("str", "The access token.")}
    keywords = ["user token", "sign in account token", "login token", "get access token"]

    def run(self, username, password):
        acc = self.tm.db["Account"].get(username)
        if acc is None:
            raise ApiError("No account with that username.")
        if acc["password"] != password:
            raise ApiError("Wrong password.")
        return {"token": acc["token"]}


class QueryBalance(API):
    name = "QueryBalance"
    description = "Returns the current bank account balance of the signed-in user."
    inputs = {"token": TOKEN}
    outputs = {"balance": Param("float", "The balance in USD.")}
    keywords = ["bank balance", "account balance money", "check balance"]
    needs_token = True

    def run(self, token):
        return {"balance": self.tm.db["Account"][self.user_of(token)]["balance"]}

    def ask(self, rng, user):
        say = pick(rng, ["How much money do I have in my bank account?", "Can you check my account balance?",
                         "What's my current balance?", "I'd like to know my bank balance, please."])
        return Ask({"token": user["token"]}, say, lambda r: pick(
            rng, ["Your balance is {b} USD.", "You currently have {b} USD in your account.",
                  "The account holds {b} USD right now."], b=f"{r['output']['balance']:.2f}"))


class AddReminder(API):
    name = "AddReminder"
    description = "Sets (creates) a new reminder with a content text and a time for the signed-in user."
    inputs = {"token": TOKEN, "content": Param("str", "What to be reminded of."),
              "time": Param("str", "When to remind. Format: YYYY-MM-DD HH:MM")}
    outputs = {"status": Param("str", "success or an error")}
    keywords = ["add reminder", "set a reminder", "create reminder", "new reminder"]
    needs_token = True
    loose = {"content"}

    def run(self, token, content, time):
        user, when = self.user_of(token), parse_time(time)
        if not content.strip():
            raise ApiError("The reminder content is empty.")
        self.tm.db["Reminder"][user].append({"content": content, "time": when.strftime("%Y-%m-%d %H:%M")})
        self.tm.db["Reminder"][user].sort(key=lambda r: r["time"])
        return "success"

    def ask(self, rng, user):
        content = rng.choice(REMINDERS)
        d, h, m = rand_date(rng, START, DAYS), rng.randrange(6, 22), rng.choice([0, 15, 30, 45])
        when = f"{say_date(d, rng)} at {say_clock(h, m, rng)}"
        params = {"token": user["token"], "content": content[0].upper() + content[1:], "time": f"{d} {h:02d}:{m:02d}"}
        say = pick(rng, ["Remind me to {c} on {w}.", "Please set a reminder to {c} on {w}.",
                         "Could you add a reminder for {w}? I need to {c}."], c=content, w=when)
        partial = (pick(rng, ["Can you set a reminder for me? I need to {c}.",
                              "I keep forgetting to {c}. Set a reminder?"], c=content),
                   pick(rng, ["Sure. When should I remind you?", "Of course. What day and time?"]), f"On {when}.")
        return Ask(params, say, lambda r: pick(rng, ["Done. I'll remind you to {c} on {w}.", "Your reminder to {c} is set for {w}."],
                                               c=content, w=when), partial)


class QueryReminders(API):
    name = "QueryReminders"
    description = "Lists (shows) the signed-in user's reminders on a given date."
    inputs = {"token": TOKEN, "date": Param("str", "The date. Format: YYYY-MM-DD")}
    outputs = {"reminders": Param("list", "The reminders of that day, earliest first.")}
    keywords = ["list reminders", "query reminders date", "show my reminders"]
    needs_token = True

    def run(self, token, date):
        user, d = self.user_of(token), parse_date(date).isoformat()
        return [r for r in self.tm.db["Reminder"][user] if r["time"].startswith(d)]

    def ask(self, rng, user):
        own = self.tm.db["Reminder"][user["username"]]
        d = dt.date.fromisoformat(rng.choice(own)["time"][:10]) if rng.random() < 0.8 else rand_date(rng, START, DAYS)
        day = say_date(d, rng)
        say = pick(rng, ["What reminders do I have on {d}?", "Show me my reminders for {d}.",
                         "Do I have anything to remember on {d}?"], d=day)

        def reply(r):
            if not r["output"]:
                return f"You have no reminders on {day}."
            items = "; ".join(f"{x['content']} at {x['time'][11:]}" for x in r["output"])
            return pick(rng, ["On {d} you have: {i}.", "Here are your reminders for {d}: {i}."], d=day, i=items)
        return Ask({"token": user["token"], "date": d.isoformat()}, say, reply)


class AddTodo(API):
    name = "AddTodo"
    description = "Adds a new task with a due date to the signed-in user's to-do list."
    inputs = {"token": TOKEN, "task": Param("str", "The task to do."),
              "due_date": Param("str", "The due date. Format: YYYY-MM-DD")}
    outputs = {"status": Param("str", "success or an error")}
    keywords = ["add todo task", "new task to-do list", "todo list add"]
    needs_token = True
    loose = {"task"}

    def run(self, token, task, due_date):
        user, due = self.user_of(token), parse_date(due_date)
        todos = self.tm.db["Todo"][user]
        if any(t["task"].casefold() == task.casefold() for t in todos):
            raise ApiError("That task is already on the list.")
        todos.append({"task": task, "due_date": due.isoformat()})
        return "success"

    def ask(self, rng, user):
        own = {t["task"] for t in self.tm.db["Todo"][user["username"]]}
        task = rng.choice([t for t in TASKS if t not in own])
        d = rand_date(rng, START, DAYS)
        when = say_date(d, rng)
        say = pick(rng, ["Add '{t}' to my to-do list, due {w}.", "Put {t} on my todo list for {w}.",
                         "I need to {t} by {w}. Can you add it to my tasks?"], t=task, w=when)
        partial = (f"Please add {task} to my to-do list.", "Sure. When is it due?", f"By {when}.")
        return Ask({"token": user["token"], "task": task, "due_date": d.isoformat()}, say,
                   lambda r: pick(rng, ["Added '{t}' to your list, due {w}.", "'{t}' is now on your to-do list for {w}."],
                                  t=task, w=when), partial)


class CompleteTodo(API):
    name = "CompleteTodo"
    description = "Marks a task on the signed-in user's to-do list as done or finished and removes it."
    inputs = {"token": TOKEN, "task": Param("str", "The task, as written on the list.")}
    outputs = {"status": Param("str", "success or an error")}
    keywords = ["complete todo task", "mark task done", "finished task to-do list"]
    needs_token = True

    def run(self, token, task):
        todos = self.tm.db["Todo"][self.user_of(token)]
        for i, t in enumerate(todos):
            if t["task"].casefold() == task.strip().casefold():
                del todos[i]
                return "success"
        raise ApiError("No open task with that name.")

    def ask(self, rng, user):
        task = rng.choice(self.tm.db["Todo"][user["username"]])["task"]
        say = pick(rng, ["I finished the task '{t}'. Please tick it off.", "Mark {t} as done on my to-do list.",
                         "You can remove {t} from my tasks; it's done."], t=task)
        return Ask({"token": user["token"], "task": task}, say,
                   lambda r: pick(rng, ["Nice work! '{t}' is marked as done.", "I've crossed '{t}' off your list."], t=task))


APIS = [GetUserToken, QueryBalance, AddReminder, QueryReminders, AddTodo, CompleteTodo]
