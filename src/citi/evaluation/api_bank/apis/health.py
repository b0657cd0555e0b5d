"""Doctor appointments and health records (official: *_registration.py, *_health_data.py,
emergency_knowledge.py, symptom_search.py). Dates are normalised before comparison."""

from __future__ import annotations

import datetime as dt
import random

from .base import ISO, API, norm_date, pad_year, same_tail


class _Appointments(API):
    database = "Appointments"


class AppointmentRegistration(_Appointments):
    name = "AppointmentRegistration"

    def run(self, patient_name, date, doctor_name):
        patient_name, doctor_name = patient_name.strip(), doctor_name.strip()
        if patient_name == "" or doctor_name == "":
            raise Exception("Patient name or doctor name cannot be empty.")
        date = norm_date(date)
        if isinstance(date, Exception):
            raise date
        for item in self.db.values():
            if item["patient_name"] == patient_name and norm_date(item["date"]) == date:
                if item["doctor_name"] == doctor_name:
                    raise Exception("This appointment has already been registered.")
                raise Exception("This patient has already been registered in this day.")
        new_id = str(random.randint(10000000, 99999999))
        while new_id in self.db:
            new_id = str(random.randint(10000000, 99999999))
        self.db[new_id] = {"patient_name": patient_name, "date": date, "doctor_name": doctor_name}
        return new_id

    def check(self, result, gold):
        a, b = result["input"], gold["input"]
        return (a["patient_name"].strip() == b["patient_name"].strip()
                and norm_date(a["date"]) == norm_date(b["date"])
                and a["doctor_name"].strip() == b["doctor_name"].strip()
                and not (gold["output"] is None and result["output"] is not None)
                and result["exception"] == gold["exception"])


class QueryRegistration(_Appointments):
    name = "QueryRegistration"

    def run(self, patient_name, date):
        patient_name, date = patient_name.strip(), norm_date(date)
        if isinstance(date, Exception):
            raise date
        found = {k: v for k, v in self.db.items() if v["patient_name"] == patient_name and norm_date(v["date"]) == date}
        if not found:
            raise Exception("No appointments found.")
        return found

    def check(self, result, gold):
        a, b = result["input"], gold["input"]
        return (a["patient_name"].strip() == b["patient_name"].strip()
                and norm_date(a["date"]) == norm_date(b["date"]) and same_tail(result, gold))


class ModifyRegistration(_Appointments):
    name = "ModifyRegistration"

    def run(self, appointment_id, new_appointment_date=None, new_appointment_doctor=None):
        appointment_id = appointment_id.strip()
        if appointment_id not in self.db:
            raise Exception("The appointment ID does not exist.")
        date, doctor = new_appointment_date, new_appointment_doctor
        if date is not None:
            date = norm_date(date)
        if doctor is not None:
            doctor = doctor.strip()
            if doctor == "":
                raise Exception("Fail because the doctor name is empty.")
        if isinstance(date, Exception):
            raise date
        item = self.db[appointment_id]
        if date is None and doctor is None:
            raise Exception("Fail because no modification is made.")
        if date is not None and doctor is not None and date == item["date"] and doctor == item["doctor_name"]:
            raise Exception("Fail because no modification is made.")
        if date is not None and date == item["date"]:
            raise Exception("Fail because date is not changed.")
        if doctor is not None and doctor == item["doctor_name"]:
            raise Exception("Fail because doctor is not changed.")
        if date is not None:
            item["date"] = date
        if doctor is not None:
            item["doctor_name"] = doctor
        return "success"

    def check(self, result, gold):
        a, b = result["input"], gold["input"]

        def norm(x):
            d, doc = x["new_appointment_date"], x["new_appointment_doctor"]
            return (str(x["appointment_id"]).strip(), None if d is None else norm_date(d),
                    None if doc is None else doc.strip())
        return norm(a) == norm(b) and same_tail(result, gold)


class CancelRegistration(_Appointments):
    name = "CancelRegistration"

    def run(self, appointment_id):
        appointment_id = appointment_id.strip()
        if appointment_id not in self.db:
            raise Exception("The appointment ID is incorrect.")
        del self.db[appointment_id]
        return "success"

    def check(self, result, gold):
        return (result["input"]["appointment_id"].strip() == gold["input"]["appointment_id"].strip()
                and same_tail(result, gold))


def _instant(s: str):
    try:
        return dt.datetime.strptime(pad_year(s), ISO)
    except Exception as e:  # noqa: BLE001
        return e


class QueryHealthData(API):
    name, database = "QueryHealthData", "HealthData"

    @staticmethod
    def _norm(user_id, start_time, end_time):
        user_id = user_id.upper().strip() or None
        return user_id, _instant(start_time), _instant(end_time)

    def run(self, user_id, start_time, end_time):
        user_id, start, end = self._norm(user_id, start_time, end_time)
        if user_id is None:
            raise Exception("The user id cannot be empty.")
        if isinstance(start, Exception) and isinstance(end, Exception):
            raise Exception(f"{start}; {end}")
        for x in (start, end):
            if isinstance(x, Exception):
                raise x
        if start > end:
            raise Exception("The start time cannot be later than the end time.")
        if user_id not in self.db:
            raise Exception("The user id does not exist.")
        rows = [r for r in self.db[user_id] if start <= dt.datetime.strptime(r["time"], ISO) <= end]
        if not rows:
            raise Exception("There is no health data in the given time span.")
        return rows

    def check(self, result, gold):
        a, b = result["input"], gold["input"]
        na = self._norm(a["user_id"], a["start_time"], a["end_time"])
        nb = self._norm(b["user_id"], b["start_time"], b["end_time"])
        return na == nb and same_tail(result, gold)


class RecordHealthData(API):
    name, database = "RecordHealthData", "HealthData"

    def run(self, user_id, time, health_data=None):
        user_id = user_id.upper().strip() or None
        if user_id is None:
            raise Exception("The user id cannot be empty.")
        time = norm_date(time, ISO)
        if isinstance(time, Exception):
            raise time
        if health_data is None or len(health_data) == 0:
            raise Exception("The health data cannot be empty.")
        seen = set()
        for item in health_data:  # a string (the official list reading) iterates characters
            if "name" not in item:
                raise Exception("The health data has invalid format.")
            if item["name"] in seen:
                raise Exception("The health data cannot contain duplicate items.")
            seen.add(item["name"])
        rows = self.db.setdefault(user_id, [])
        target = next((r for r in reversed(rows) if r["time"] == time), None)
        if target is None:
            target = {"time": time}
            rows.append(target)
        for item in health_data:
            target[item["name"]] = item["value"]
        return "success"

    def check(self, result, gold):
        # the health data list itself is not compared, only user, time and outcome
        a, b = result["input"], gold["input"]
        return (str(a["user_id"]).upper().strip() == b["user_id"].upper().strip()
                and norm_date(a["time"], ISO) == norm_date(b["time"], ISO) and same_tail(result, gold))


class EmergencyKnowledge(API):
    name, database = "EmergencyKnowledge", "Symptom"

    @staticmethod
    def _norm(symptom):
        symptom = symptom.strip()
        if symptom == "":
            # officially an Exception object then .lower(): an AttributeError, in run and in check
            raise AttributeError("'Exception' object has no attribute 'lower'")
        return symptom.lower()

    def run(self, symptom):
        symptom = self._norm(symptom)
        if symptom not in self.db:
            raise Exception("The symptom does not exist.")
        return [{"name": x["name"], "aid": x["aid"]} for x in self.db[symptom]]

    def check(self, result, gold):
        return self._norm(result["input"]["symptom"]) == self._norm(gold["input"]["symptom"]) and same_tail(result, gold)


class SymptomSearch(API):
    name, database = "SymptomSearch", "Symptom"

    @staticmethod
    def _norm(symptom):
        symptom = symptom.strip().lower()
        if symptom == "":
            raise Exception("The symptom cannot be empty.")
        return symptom

    def run(self, symptom):
        symptom = self._norm(symptom)
        if symptom not in self.db:
            raise Exception("The symptom does not exist.")
        return [{"name": x["name"], "description": x["description"]} for x in self.db[symptom]]

    def check(self, result, gold):
        return self._norm(result["input"]["symptom"]) == self._norm(gold["input"]["symptom"]) and same_tail(result, gold)


APIS = [AppointmentRegistration, QueryRegistration, ModifyRegistration, CancelRegistration, QueryHealthData,
        RecordHealthData, EmergencyKnowledge, SymptomSearch]
