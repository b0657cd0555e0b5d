"""Seeded tool-use dialogues in the API-Bank folder layout.

Layout written under ``out`` (as the real dataset, so the api_bank adapter reads it):

    lv1-lv2-samples/level-1-given-desc/<Apis>-level-1-<k>.jsonl   test dialogues
    lv1-lv2-samples/level-2-toolsearcher/<Apis>-level-2-<k>.jsonl
    test-data/level-{1,2}-{api,response}.json                     flattened test samples
    training-data/lv{1,2}-{api,response}-train.json               flattened train samples
    train-samples/<level dir>/*.jsonl                             the train dialogues
    init_database/<Database>.json, apis.json

Every API turn's result comes from running the mock API; a dialogue is kept
only if each of its calls gives the same result on a fresh ToolManager as in
the dialogue's own replay, so per-sample evaluation and replay agree.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from ..io import dumps_record, write_json, write_jsonl
from ..toolcalls.syntax import format_call, parse_call
from .tools import ALL, CATALOGUE, ToolManager
from .tools.world import USERS

LEVEL_DIRS = {1: "level-1-given-desc", 2: "level-2-toolsearcher"}
MULTI_REQUEST = 0.3  # share of dialogues with a second request
PARTIAL = 0.4  # share of requests that leave a detail to a follow-up question

API_INSTRUCTION = (
    "\nWrite the API call the assistant should make next in the conversation, in the form "
    "[ApiName(key1='value1', key2='value2', ...)].\nAssume the current year is 2024.\n"
    "Input:\nUser: the user's message\nAI: the assistant's message\n\n"
    "Expected output:\nAPI-Request: [ApiName(key1='value1', key2='value2', ...)]\n\nAPI descriptions:\n")
RESPONSE_INSTRUCTION = (
    "\nWrite the assistant's next message from the conversation and the results of its API calls.\n"
    "Assume the current year is 2024.\n"
    "Input:\nUser: the user's message\nAI: the assistant's message\n"
    "API-Request: [ApiName(key1='value1', key2='value2', ...)]->result\n\n"
    "Expected output:\nAI: the assistant's message\n\nAPI descriptions:\n")

SEARCH_LINES = ["Let me look for a tool that can do that.", "I'll search for a suitable tool.",
                "One moment while I find the right tool."]
FOUND_LINES = ["I found a tool for this.", "That tool will do.", "Got it, calling it now."]
CRED_ASKS = ["I need to sign you in first. What are your username and password?",
             "To do that I need your account. Could you give me your username and password?",
             "Sure. Please tell me your username and password so I can sign in."]
CRED_SAYS = ["My username is {u} and the password is {p}.", "Username: {u}, password: {p}.", "It's {u}, password {p}."]
WAIT_LINES = ["One moment.", "Let me check.", "Sure, working on it.", "On it."]
AGAIN = ["Thanks! ", "Great. ", "One more thing: ", "Also, "]


def render(turn: dict) -> str:
    if turn["role"] == "API":
        res = turn["result"]
        shown = res["output"] if res["exception"] is None else f"Exception: {res['exception']}"
        return f"API-Request: {format_call(turn['api_name'], turn['param_dict'])}->{shown}"
    return f"{turn['role']}: {turn['text']}"


def dialogue(rng, level: int) -> list[dict] | None:
    """One dialogue, or None when its calls depend on earlier ones (the caller redraws)."""
    plan, tm = ToolManager(), ToolManager()  # requests are drawn from the pristine world
    u, p, _ = rng.choice(USERS)
    user = {"username": u, "password": p, "token": plan.db["Account"][u]["token"]}
    names = rng.sample([c.name for c in CATALOGUE if c.name != "GetUserToken"], 2 if rng.random() < MULTI_REQUEST else 1)
    turns, token, searched = [], False, set()
    say = lambda role, text: turns.append({"role": role, "text": text})

    def api(name, params):
        turns.append({"role": "API", "api_name": name, "param_dict": params, "result": tm.call(name, params)})

    def search(name):
        api("ToolSearcher", {"keywords": rng.choice(ALL[name].keywords)})
        searched.add(name)

    for k, name in enumerate(names):
        ask = plan.apis[name].ask(rng, user)
        partial = ask.partial is not None and rng.random() < PARTIAL
        opener = ask.partial[0] if partial else ask.say
        say("User", (rng.choice(AGAIN) if k else "") + opener)
        if partial:
            say("AI", ask.partial[1])
            say("User", ask.partial[2])
        if level == 2:
            say("AI", rng.choice(SEARCH_LINES))
            search(name)
        if ALL[name].needs_token and not token:
            say("AI", rng.choice(CRED_ASKS))
            say("User", rng.choice(CRED_SAYS).format(u=u, p=p))
            if level == 2 and "GetUserToken" not in searched:
                say("AI", "Let me find the sign-in tool.")
                search("GetUserToken")
            api("GetUserToken", {"username": u, "password": p})
            token = True
        elif rng.random() < 0.5:
            say("AI", rng.choice(FOUND_LINES if level == 2 else WAIT_LINES))
        api(name, ask.params)
        say("AI", ask.reply(turns[-1]["result"]))
    # canonical key order everywhere, so text rendered here equals text rendered from the files
    turns = json.loads(dumps_record(turns))
    for t in turns:
        if t["role"] == "API":
            fresh = ToolManager().call(t["api_name"], t["param_dict"])
            if t["result"]["exception"] is not None or fresh != t["result"]:
                return None
    return turns


def file_name(turns: list[dict], level: int, counts: dict) -> str:
    names = list(dict.fromkeys(t["api_name"] for t in turns if t["role"] == "API" and t["api_name"] != "ToolSearcher"))
    stem = "-".join(names) + f"-level-{level}"
    counts[stem] = counts.get(stem, 0) + 1
    return f"{stem}-{counts[stem]}.jsonl"


def dialogues(rng, n: int, exclude: set[str] = frozenset()) -> list[tuple[int, str, list[dict]]]:
    """``n`` distinct dialogues (alternating levels 1 and 2), none equal to one in ``exclude``."""
    out, seen, counts = [], set(exclude), {}
    for _ in range(100 * n + 1000):
        if len(out) == n:
            break
        level = 1 + len(out) % 2
        turns = dialogue(rng, level)
        key = dumps_record(turns) if turns else None
        if key is None or key in seen:
            continue
        seen.add(key)
        out.append((level, file_name(turns, level, counts), turns))
    if len(out) < n:
        raise RuntimeError(f"could only draw {len(out)} distinct dialogues of {n}")
    return out


def samples(turns: list[dict], level: int) -> list[dict]:
    """API-Bank's flattening: per API turn i, (history before i -> turn i), (history through i -> turn i+1)."""
    used = list(dict.fromkeys(t["api_name"] for t in turns if t["role"] == "API"))
    out = []
    for i, t in enumerate(turns):
        if t["role"] != "API":
            continue
        for hist, gold in ((turns[:i], turns[i]), (turns[:i + 1], turns[i + 1])):
            is_api = gold["role"] == "API"
            shown = ["ToolSearcher"] if level == 2 and is_api else used
            descs = "\n".join(json.dumps(ALL[n].describe(), ensure_ascii=False, sort_keys=True) for n in shown)
            history = "".join(render(h) + "\n" for h in hist)
            out.append({
                "id": len(out), "kind": "api" if is_api else "response",
                "instruction": (API_INSTRUCTION if is_api else RESPONSE_INSTRUCTION) + descs,
                "input": history + ("Generate API Request:\n" if is_api else "Generate AI Response:\n"),
                "expected_output": "API-Request: " + format_call(gold["api_name"], gold["param_dict"]) if is_api else gold["text"],
            })
    return out


def write_api_bank(out: Path, seed: int, n_train: int, n_test: int) -> dict:
    """Write the whole folder; returns counts. The test split is drawn first and train avoids it."""
    out = Path(out)
    test = dialogues(random.Random(f"{seed}/tools/test"), n_test)
    train = dialogues(random.Random(f"{seed}/tools/train"), n_train, exclude={dumps_record(t) for _, _, t in test})
    assert not {dumps_record(t) for _, _, t in test} & {dumps_record(t) for _, _, t in train}
    counts = {"train_dialogues": len(train), "test_dialogues": len(test)}

    for folder, split in (("lv1-lv2-samples", test), ("train-samples", train)):
        for level, name, turns in split:
            write_jsonl(out / folder / LEVEL_DIRS[level] / name, turns)

    for level in (1, 2):
        flat = [(name, s) for lv, name, turns in test if lv == level for s in samples(turns, level)]
        for kind in ("api", "response"):
            # API-Bank's flattening states a call that follows another call twice (as the gold after the
            # first call's result and as its own sample): identical items would count twice in n
            rows, seen = [], set()
            for name, s in flat:
                key = (s["instruction"], s["input"], s["expected_output"])
                if s["kind"] == kind and key not in seen:
                    seen.add(key)
                    rows.append({"file": name, "id": s["id"], "instruction": s["instruction"], "input": s["input"],
                                 "expected_output": s["expected_output"]})
            write_json(out / "test-data" / f"level-{level}-{kind}.json", rows)
            counts[f"test_level_{level}_{kind}"] = len(rows)
        rows = {"api": {}, "response": {}}
        for lv, _, turns in train:
            for s in samples(turns, level) if lv == level else []:
                target = s["expected_output"] if s["kind"] == "api" else "AI: " + s["expected_output"]
                row = {"instruction": s["instruction"], "input": s["input"], "output": target}
                rows[s["kind"]].setdefault(dumps_record(row), row)  # the flattening repeats some samples
        for kind, got in rows.items():
            write_json(out / "training-data" / f"lv{level}-{kind}-train.json", list(got.values()))
            counts[f"train_level_{level}_{kind}"] = len(got)

    for name, db in ToolManager().db.items():
        write_json(out / "init_database" / f"{name}.json", db)
    write_json(out / "apis.json", [cls.describe() for cls in ALL.values()])
    return counts
