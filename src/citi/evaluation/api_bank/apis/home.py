"""Smart-home scenes and timed switches (official: *_scene.py, *timed_switch.py).
Names compare case- and space-insensitively."""

from __future__ import annotations

import copy

from .base import ISO, API, norm_date, same_tail


def _clean_devices(devices):
    names = set()
    for d in devices:  # a string (the official list reading) fails on the first character
        if "name" not in d or "description" not in d:
            raise Exception("Invalid device format.")
        d["name"], d["description"] = d["name"].strip().lower(), d["description"].strip()
        if d["name"] in names:
            raise Exception("Device name cannot be duplicated.")
        names.add(d["name"])
    devices.sort(key=lambda d: d["name"])
    return devices


def _scene_name(name):
    name = name.strip().lower()
    if name == "":
        raise Exception("Scene name cannot be empty.")
    return name


class _Scene(API):
    database = "Scenes"

    def check(self, result, gold):
        return (result["input"]["name"].strip().lower() == gold["input"]["name"].strip().lower()
                and same_tail(result, gold))


class _SceneDevices(_Scene):
    def _devices_equal(self, result, gold):
        norm = lambda ds: sorted(({"name": d["name"].strip().lower(), "description": d["description"].strip()}
                                  for d in copy.deepcopy(ds)), key=lambda d: d["name"])
        return norm(result["input"]["devices"]) == norm(gold["input"]["devices"])


class AddScene(_SceneDevices):
    name = "AddScene"

    def run(self, name, devices):
        name, devices = _scene_name(name), _clean_devices(devices)
        if name in self.db:
            raise Exception("Scene name already exists.")
        self.db[name] = devices
        return "success"

    def check(self, result, gold):
        return (result["input"]["name"].strip().lower() == gold["input"]["name"].strip().lower()
                and self._devices_equal(result, gold)
                and not (gold["output"] is None and result["output"] is not None)
                and result["exception"] == gold["exception"])


class ModifyScene(_SceneDevices):
    name = "ModifyScene"

    def run(self, name, devices):
        name, devices = _scene_name(name), _clean_devices(devices)
        if name not in self.db:
            raise Exception("The scene does not exist.")
        self.db[name] = devices
        return "success"

    def check(self, result, gold):
        return super().check(result, gold) and self._devices_equal(result, gold)


class DeleteScene(_Scene):
    name = "DeleteScene"

    def run(self, name):
        name = _scene_name(name)
        if name not in self.db:
            raise Exception("The scene does not exist.")
        del self.db[name]
        return "success"


class QueryScene(_Scene):
    name = "QueryScene"

    def run(self, name):
        name = _scene_name(name)
        if name not in self.db:
            raise Exception("Scene not found.")
        return self.db[name]


class _Switch(API):
    database = "TimeSwitch"

    def check(self, result, gold):
        a, b = result["input"], gold["input"]
        return (a["name"].strip().lower() == b["name"].strip().lower()
                and norm_date(a["time"], ISO) == norm_date(b["time"], ISO)
                and a.get("on") == b.get("on") and same_tail(result, gold))


class TimedSwitch(_Switch):
    name = "TimedSwitch"

    def run(self, name, time, on):
        name = name.strip().lower()
        if name == "":
            raise Exception("Name cannot be empty.")
        time = norm_date(time, ISO)
        if isinstance(time, Exception):
            raise time
        slots = self.db.setdefault(name, [])
        for slot in slots:
            if slot["time"] == time:
                slot["on"] = on
                return "success"
        slots.append({"time": time, "on": on})
        return "success"


class CancelTimedSwitch(_Switch):
    name = "CancelTimedSwitch"

    def run(self, name, time):
        name = name.strip().lower()
        if name == "":
            raise Exception("name cannot be empty.")
        time = norm_date(time, ISO)
        if isinstance(time, Exception):
            raise time
        if name not in self.db:
            raise Exception("device name does not exist.")
        for i, slot in enumerate(self.db[name]):
            if slot["time"] == time:
                self.db[name].pop(i)
                return "success"
        raise Exception("time does not exist.")


APIS = [AddScene, ModifyScene, DeleteScene, QueryScene, TimedSwitch, CancelTimedSwitch]
