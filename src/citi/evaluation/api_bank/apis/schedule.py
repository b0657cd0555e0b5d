"""Agenda, alarm, reminder and meeting APIs (official: add_/delete_/modify_/query_*.py).

They share one database per kind inside a tool world, as the official ToolManager passes
the same init_database dict to every API of that kind. The error texts say 'meeting' in
the agenda deletes and 'agenda' in the alarm modify, as the official ones do.
"""

from __future__ import annotations

from .base import API, delete_check, same_tail, strict_time, word_jaccard


def _next_id(db: dict) -> str:
    return str(max(int(k) for k in db) + 1) if db else "0"


# ---- agenda ---------------------------------------------------------------------------------
class _Agenda(API):
    database = "Agenda"

    def check(self, result, gold):
        a, b = result["input"], gold["input"]
        return (word_jaccard(a["content"], b["content"]) > 0.5 and a["time"] == b["time"]
                and a["location"] == b["location"] and same_tail(result, gold))

    def _find(self, token, content, time):
        username = self.user(token)
        for key, item in self.db.items():
            if item["username"] == username and (item["content"] == content or item["time"] == time):
                return key, username
        return None, username


class AddAgenda(_Agenda):
    name = "AddAgenda"

    def run(self, token, content, time, location):
        strict_time(time)
        if content.strip() == "":
            raise Exception("Content should not be null")
        key = len(self.db) + 1
        self.db[key] = {"username": self.user(token), "content": content, "time": time, "location": location}
        return "success"


class DeleteAgenda(_Agenda):
    name = "DeleteAgenda"
    check = staticmethod(delete_check)

    def run(self, token, content, time, location):
        if time:
            strict_time(time)
        key, _ = self._find(token, content, time)
        if key is not None:
            del self.db[key]
        elif content:
            raise Exception(f"You have no meeting about {content}")
        elif time:
            raise Exception(f"You have no meeting at time : {time}")
        return "success"


class QueryAgenda(_Agenda):
    name = "QueryAgenda"

    def run(self, token, content, time, location):
        if time:
            strict_time(time)
        key, _ = self._find(token, content, time)
        if key is not None:
            return self.db[key]
        if content:
            raise Exception(f"You have no agenda about {content}")
        if time:
            raise Exception(f"You have no agenda at time : {time}")
        raise Exception("Error")


class ModifyAgenda(_Agenda):
    name = "ModifyAgenda"

    def run(self, token, content, time, location):
        if time:
            strict_time(time)
        key, username = self._find(token, content, time)
        if key is not None:
            self.db[key] = {"username": username, "content": content, "time": time, "location": location}
            return "success"
        if content:
            raise Exception(f"You have no agenda about {content}")
        if time:
            raise Exception(f"You have no agenda at time : {time}")
        return Exception("Error")  # returned, not raised, officially: an output no gold equals


# ---- alarm ----------------------------------------------------------------------------------
class _Alarm(API):
    database = "Alarm"

    def _find(self, token, time):
        username = self.user(token)
        for key, item in self.db.items():
            if item["username"] == username and item["time"] == time:
                return key, username
        return None, username


class AddAlarm(_Alarm):
    name = "AddAlarm"

    def run(self, token, time):
        strict_time(time)
        self.db[len(self.db) + 1] = {"username": self.user(token), "time": time}
        return "success"


class DeleteAlarm(_Alarm):
    name = "DeleteAlarm"

    def run(self, token, time):
        strict_time(time)
        key, _ = self._find(token, time)
        if key is None:
            raise Exception(f"You have no alarm clock at time : {time}")
        del self.db[key]
        return "success"


class QueryAlarm(_Alarm):
    name = "QueryAlarm"

    def run(self, token, time):
        strict_time(time)
        key, _ = self._find(token, time)
        if key is None:
            raise Exception(f"You have no alarm clock at time : {time}")
        return self.db[key]


class ModifyAlarm(_Alarm):
    name = "ModifyAlarm"

    def run(self, token, from_time, to_time):
        strict_time(from_time)
        strict_time(to_time)
        key, username = self._find(token, from_time)
        if key is None:
            raise Exception(f"You have no agenda at time : {from_time}")
        self.db[key] = {"username": username, "time": to_time}
        return "success"


# ---- reminder -------------------------------------------------------------------------------
class _Reminder(API):
    database = "Reminder"

    def check(self, result, gold):
        return (word_jaccard(result["input"]["content"], gold["input"]["content"], lower=True) > 0.5
                and result["input"]["time"] == gold["input"]["time"] and same_tail(result, gold))

    def _find(self, token, content, time):
        strict_time(time)
        if content.strip() == "":
            raise Exception("Content should not be null")
        username = self.user(token)
        for key, item in self.db.items():
            if item["username"] == username and (item["content"] == content or item["time"] == time):
                return key, username
        return None, username

    def _missing(self, content, time):
        return Exception(f"You have no reminder about {content} or at time : {time}")


class AddReminder(_Reminder):
    name = "AddReminder"

    def run(self, token, content, time):
        strict_time(time)
        if content.strip() == "":
            raise Exception("Content should not be null")
        key = _next_id(self.db)
        self.db[key] = {"username": self.user(token), "content": content, "time": time}
        return "success"


class DeleteReminder(_Reminder):
    name = "DeleteReminder"
    check = staticmethod(delete_check)

    def run(self, token, content, time):
        key, _ = self._find(token, content, time)
        if key is None:
            raise self._missing(content, time)
        del self.db[key]
        return "success"


class QueryReminder(_Reminder):
    name = "QueryReminder"

    def run(self, token, content, time):
        key, _ = self._find(token, content, time)
        if key is None:
            raise self._missing(content, time)
        return self.db[key]


class ModifyReminder(_Reminder):
    name = "ModifyReminder"

    def run(self, token, content, time):
        key, _ = self._find(token, content, time)
        if key is None:
            raise self._missing(content, time)
        self.db[key]["content"], self.db[key]["time"] = content, time
        return "success"


# ---- meeting --------------------------------------------------------------------------------
class _Meeting(API):
    database = "Meeting"

    def check(self, result, gold):
        # topic by word overlap, every other input exactly (the list included)
        a, b = dict(result["input"]), dict(gold["input"])
        ok = word_jaccard(a.pop("meeting_topic"), b.pop("meeting_topic")) > 0.5
        return ok and a == b and same_tail(result, gold)

    def _find(self, token, meeting_topic, start_time, end_time):
        if start_time:
            strict_time(start_time)
        if end_time:
            strict_time(end_time)
        if meeting_topic.strip() == "" and not start_time:
            raise Exception("Meeting Topic and start_time should not be null both")
        username = self.user(token)
        for key, item in self.db.items():
            if item["username"] == username and (item["meeting_topic"] == meeting_topic
                                                 or item["start_time"] == start_time):
                return key
        return None

    def _missing(self, meeting_topic, start_time):
        if meeting_topic:
            return Exception(f"You have no meeting about {meeting_topic}")
        return Exception(f"You have no meeting at time : {start_time}") if start_time else None


class AddMeeting(_Meeting):
    name = "AddMeeting"

    def run(self, token, meeting_topic, start_time, end_time, location, attendees):
        strict_time(start_time)
        strict_time(end_time)
        if meeting_topic.strip() == "":
            raise Exception("Meeting Topic should not be null")
        key = _next_id(self.db)
        self.db[key] = {"username": self.user(token), "meeting_topic": meeting_topic, "start_time": start_time,
                        "end_time": end_time, "location": location, "attendees": attendees}
        return "success"


class DeleteMeeting(_Meeting):
    name = "DeleteMeeting"
    check = staticmethod(delete_check)  # meetings have no 'time' input: a success always fails

    def run(self, token, meeting_topic, start_time, end_time, location, attendees):
        key = self._find(token, meeting_topic, start_time, end_time)
        if key is not None:
            del self.db[key]
        elif (err := self._missing(meeting_topic, start_time)) is not None:
            raise err
        return "success"


class ModifyMeeting(_Meeting):
    name = "ModifyMeeting"

    def run(self, token, meeting_topic, start_time, end_time, location, attendees):
        key = self._find(token, meeting_topic, start_time, end_time)
        if key is None:
            if (err := self._missing(meeting_topic, start_time)) is not None:
                raise err
            return "success"
        if meeting_topic:
            self.db[key]["meeting_topic"] = meeting_topic
        if start_time:
            self.db[key]["start_time"], self.db[key]["end_time"] = start_time, end_time
        return "success"


class QueryMeeting(_Meeting):
    name = "QueryMeeting"

    def run(self, token, meeting_topic, start_time, end_time, location, attendees):
        key = self._find(token, meeting_topic, start_time, end_time)
        if key is not None:
            return self.db[key]
        if (err := self._missing(meeting_topic, start_time)) is not None:
            raise err
        return Exception("Error")


APIS = [AddAgenda, DeleteAgenda, QueryAgenda, ModifyAgenda, AddAlarm, DeleteAlarm, QueryAlarm, ModifyAlarm,
        AddReminder, DeleteReminder, QueryReminder, ModifyReminder, AddMeeting, DeleteMeeting, ModifyMeeting,
        QueryMeeting]
