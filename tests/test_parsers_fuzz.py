"""Every parser of model output against hostile text: linear time, and no exception of its own.

A tiny model writes anything (a thousand newlines, unclosed brackets, a 5000-digit number),
and a parser that backtracks or recurses on it stalls or crashes a whole evaluation. First
the reported cases (each failed before the fix: minutes of regex backtracking, a
RecursionError or a ValueError), then a seeded fuzz of hostile strings through every parser,
then 1 MB hostile strings through each. Times are CPU time, not wall-clock time.
"""

from __future__ import annotations

import importlib
import importlib.util
import random
import re
import signal
import sys
import time
import types
from contextlib import contextmanager
from unittest import mock

import pytest

from citi.toolcalls import api_bank, syntax as toolcalls, taxonomy as tool_errors
from citi.evaluation import exact_match, judge, mt_bench
from citi.evaluation.toolalpaca import agent, call_accuracy, scoring, tools
from citi.synthetic.general import check_constraints

SEED = 20240611
N_FUZZ = 10_000
PER_STRING_S = 0.5  # generous: a linear parser takes milliseconds on these
MEGABYTE_S = 1.0


class OverTime(Exception):
    pass


@contextmanager
def cpu_limit(seconds: float):
    """Raise OverTime once the process has spent ``seconds`` more CPU (the regex engine checks
    signals too), so a regression fails in seconds instead of backtracking for hours."""
    def expire(*_):
        raise OverTime(f"over {seconds} s of CPU")

    previous = signal.signal(signal.SIGVTALRM, expire)
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, previous)


def timed(fn, text: str, seconds: float):
    """fn(text), failing past ``seconds`` of CPU."""
    start = time.process_time()
    with cpu_limit(seconds * 2):
        out = fn(text)
    spent = time.process_time() - start
    assert spent < seconds, f"{spent:.2f} s of CPU on {len(text)} chars"
    return out


# ---- the reported cases ----------------------------------------------------------------------

@pytest.mark.parametrize("text", ["Action:" + "\n" * 1007, "Action:" + " " * 4000, "Action:" * 150_000,
                                  "Action: x" + "\n" * 100_000 + " Action Input"],
                         ids=["1007 newlines", "4000 spaces", "150000 actions", "100000 newlines, no input"])
def test_toolalpaca_turn_with_long_whitespace_runs_is_linear(text):
    # before: 111 s for the 1007 newlines and 32 s for the 4000 spaces (cubic backtracking)
    assert timed(agent.parse_turn, text, 0.5) == text.strip()


def test_toolalpaca_turn_still_reads_a_call_across_blank_lines():
    turn = agent.parse_turn("Thought: t\nAction:  Get \n\n \n  Action  Input : {\"a\": 1}\n")
    assert turn[:2] == ("Get", '{"a": 1}') and turn[3] == "Thought: t\n"
    assert agent.parse_turn("Action: Get Action Input: {}") == "Action: Get Action Input: {}"  # no newline


def test_judge_verdict_after_a_long_run_of_colons_is_linear():
    # before: 2.4 s for 8000 colons (quadratic); 1 MB would take hours
    text = "Process Correctness" + ":" * 8000
    assert timed(judge.parse_verdicts, text, 0.2)["process"] == "Uncertain"
    assert timed(judge.parse_verdicts, text + " yes", 0.2)["process"] == "Yes"
    text = "**Final Response Correctness** no\nFinal Response Correctness：YES."
    assert judge.parse_verdicts(text)["response"] == "Yes"  # the first label has no colon: skipped


def test_toolalpaca_arguments_too_deep_are_rejected_not_a_recursion_error():
    # before: RecursionError
    assert tools.parse_arguments('{"a": ' + "[" * 1000 + "]" * 1000 + "}") is None
    assert tools.parse_arguments('{"a":' * 1000) is None
    deep = '{"a": ' + "[" * (toolcalls.JSON_MAX_DEPTH - 1) + "]" * (toolcalls.JSON_MAX_DEPTH - 1) + "}"
    assert tools.parse_arguments("x " + deep + " trailing")["a"]  # at the limit it still reads
    assert tools.parse_arguments('{"a": "[[[[{{", "b": [1]}') == {"a": "[[[[{{", "b": [1]}  # brackets in strings


def test_toolalpaca_arguments_with_a_huge_integer_are_rejected_not_a_value_error():
    # before: ValueError (Exceeds the limit (4300 digits) for integer string conversion)
    assert tools.parse_arguments('{"n": ' + "1" * 4301 + "}") is None
    assert tools.parse_arguments('{"n": ' + "1" * 4300 + "}") == {"n": int("1" * 4300)}


def test_api_bank_call_with_a_huge_integer_is_rejected_not_a_value_error():
    # before: ValueError, though the docstring promises None for anything not understood
    assert toolcalls.parse_call("[Add(a=1, n=" + "9" * 4301 + ")]") is None
    assert toolcalls.parse_call("[Add(a=1, n=" + "9" * 4301 + ")] [Add(a=2)]") == ("Add", {"a": 2})
    assert toolcalls.parse_call("[Add(n=" + "9" * 4300 + ")]") == ("Add", {"n": int("9" * 4300)})


def test_api_bank_corrected_reading_of_a_huge_integer_fails_that_reading_only():
    assert api_bank.parse_corrected("[f(n=" + "9" * 4301 + ")]") is None
    # a quoted list is read as a literal first; a number too long for int() leaves it a string,
    # as any other failed literal does (before: the ValueError dropped the whole call)
    huge = "[" + "9" * 4301 + "]"
    assert api_bank.parse_corrected(f"[f(k=['{huge}'])]") == ("f", {"k": [huge]})


def test_api_bank_official_reading_of_a_long_key_without_a_value_is_linear():
    # found in the sweep: each start inside the word run rescanned the run and the blanks
    # after it (17.6 s for 40,000 + 40,000 characters; about an hour for 1 MB)
    assert timed(api_bank.official_args, "a" * 500_000 + "=" + " " * 500_000 + ")", 0.5) == {}


def test_api_bank_official_reading_of_many_quoted_values_is_linear():
    # found in the sweep: each value looked for the next quote of the absent kind up to the
    # end (5.2 s on the longest output read, 2 MB; 0.6 s now)
    text = "[f(" + "k='x', " * ((api_bank.MAX_CHARS - 5) // 7) + ")]"
    assert timed(api_bank.parse_official, text, 2.0) == ("f", {"k": "x"})


def test_tool_error_reading_of_hostile_action_inputs_is_a_format_error():
    gold = {"api_name": "f", "parameters": {}}
    for text in ('Action: f\nAction Input: {"a": ' + "[" * 5000, 'Action: f\nAction Input: {"a": ' + "7" * 5000 + "}",
                 'f\n{"a": ' + "{" * 5000):
        assert tool_errors.diagnose(text, gold, ["f"]).category == "format_error"


# ---- the same readings as before, on ordinary text ---------------------------------------------

OLD_ACTION = re.compile(r"Action\s*:\s*(.*?)\s*\n\s*Action\s*Input\s*:\s*(.*)", re.S)


def _old_verdict(label: str, text: str) -> str | None:
    m = re.search(rf"{label}\W*?[:：]\W*(yes|no|uncertain)\b", text, re.I)
    return m.group(1).capitalize() if m else None


def test_linear_readings_agree_with_the_old_regexes_on_short_text():
    rng = random.Random(SEED)
    words = ["Action", ":", "：", " Input", "\n", " ", "\t", "x", "Process Correctness", "yes", "NO", "**", "."]
    for _ in range(3000):
        text = "".join(rng.choice(words) for _ in range(rng.randint(0, 12)))
        old = OLD_ACTION.search(text)
        new = agent.find_action(text)
        assert (new is None) == (old is None), text
        if old:
            assert new == (old.start(), old.group(1).strip(), old.group(2).strip()), text
        assert judge._verdict("Process Correctness", text) == _old_verdict("Process Correctness", text), text


# ---- every parser --------------------------------------------------------------------------------

def _opencompass_answers():
    """short_answer and normalise_answer. Their module imports OpenCompass, which only its own
    environment has; elsewhere stand-ins take its imports' place while the module loads (the
    two functions use only the stdlib), and sys.modules is restored after."""
    name = "citi.evaluation.opencompass.plugins"
    if importlib.util.find_spec("opencompass") is not None:
        plugins = importlib.import_module(name)
        return plugins.short_answer, plugins.normalise_answer
    importlib.import_module("citi.evaluation.sandbox")  # real, and kept: only the stand-ins go
    registry = types.SimpleNamespace(register_module=lambda: (lambda cls: cls))
    names = {"datasets": {"Dataset": object}, "opencompass": {}, "opencompass.datasets": {},
             "opencompass.datasets.base": {"BaseDataset": object},
             "opencompass.datasets.mbpp": {"MBPPEvaluator": object}, "opencompass.openicl": {},
             "opencompass.openicl.icl_evaluator": {"BaseEvaluator": object},
             "opencompass.registry": {"ICL_EVALUATORS": registry, "LOAD_DATASET": registry},
             "opencompass.utils": {"code_execution": None}}
    with mock.patch.dict(sys.modules, {n: types.SimpleNamespace(**attrs) for n, attrs in names.items()}):
        sys.modules.pop(name, None)
        plugins = importlib.import_module(name)
    return plugins.short_answer, plugins.normalise_answer


SHORT_ANSWER, NORMALISE_ANSWER = _opencompass_answers()
GOLD = {"api_name": "GetWeather", "parameters": {"city": "Paris", "days": 3}}
TOOLS = {"GetWeather": ["city", "days"], "f": None}
API = {"Function_Description": {"GetWeather": 'Get it. Parameters: {"city": "Required. string"}'},
       "Function_Projection": {"GetWeather": ["/weather", "GET"]}}
CONSTRAINTS = [{"type": t, "n": 2, "word": "very", "text": "Here"} for t in
               ("bullets", "sentences", "paragraphs", "include", "exclude", "lowercase", "uppercase",
                "max_words", "starts_with", "ends_with", "no_commas")]
RECORD = {"id": "r", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "Paris"}]}

# name -> fn(text); each returns its documented "no reading" value on bad text, never raises
PARSERS = {
    "toolalpaca.parse_turn": agent.parse_turn,
    "toolalpaca.parse_arguments": tools.parse_arguments,
    "toolalpaca.procedure_match": lambda t: scoring.procedure_match(
        API, [{"Action": "GetWeather", "Action_Input": '{"city": "Paris"}'}], [[["GetWeather", t], "obs"]]),
    "toolalpaca.first_call": lambda t: call_accuracy.first_call(
        API, [{"Action": "GetWeather", "Action_Input": t}], [[["GetWeather", t, t], "obs"]]),
    "judge.parse_verdicts": judge.parse_verdicts,
    "toolcalls.parse_call": toolcalls.parse_call,
    "toolcalls.json_object": toolcalls.json_object,
    "api_bank.parse_official": api_bank.parse_official,
    "api_bank.parse_corrected": api_bank.parse_corrected,
    "api_bank.corrected_args": api_bank.corrected_args,
    "tool_errors.diagnose": lambda t: tool_errors.diagnose(t, GOLD, TOOLS),
    "tool_errors.same_value": lambda t: tool_errors.same_value([1, {"a": "b"}], t),
    "mt_bench.parse_rating": mt_bench.parse_rating,
    "opencompass.short_answer": lambda t: NORMALISE_ANSWER(SHORT_ANSWER(t)),
    "opencompass.normalise_answer": lambda t: NORMALISE_ANSWER(t),
    "synthetic.check_constraints": lambda t: check_constraints(t, CONSTRAINTS),
    "exact_match.score": lambda t: exact_match.score([RECORD], {"r": t}),
}

KEYWORDS = ["Action", "Action:", "Action Input:", "Input", "Thought:", "Response:", "Final Answer:", "Observation:",
            "## Results", "Process Correctness", "Final Response Correctness", ":", "：", "yes", "No", "Uncertain",
            "**", "API-Request:", "[GetWeather(", "[f(", ")]", "->", "f(", "GetWeather\n", "city=", "days=",
            "k=", "'", '"', "\\", "\\'", '\\"', ",", "=", "[", "]", "{", "}", "(", ")", '{"a": ', '"city": ',
            "True", "None", "null", "1", "-3", "10.5", "1e999", "NaN", "Rating: ", "[[", "]]", "/10", "/ 10",
            "The answer is", "A:", "answer:", "- ", "* ", ".", "!", "?", "\n", "\n\n", " ", "\t", "\r", "\x00",
            "\ud800", "\udfff", "\ufeff", "\u2028", "é", "文"]
RUN_CHARS = "\n :[]{}()'\"\\,=\t：*-#/."


def hostile(rng: random.Random) -> str:
    """One hostile string: a run, deep nesting, a huge number, bad unicode or a keyword mix."""
    kind = rng.randrange(6)
    if kind == 0:  # a long run of one or two characters after a keyword
        run = "".join(rng.choice(RUN_CHARS) for _ in range(rng.randint(1, 2))) * rng.randint(100, 2000)
        return rng.choice(KEYWORDS) + run + rng.choice(["", *KEYWORDS])
    if kind == 1:  # deep nesting, closed or not
        opener = rng.choice(["[", "{", "(", '{"a": ', "[f(k=", "'[", '{"a": [', "f(", "[[", "{'a': "])
        depth = rng.randint(50, 3000)
        return rng.choice(["", "[f(k=", "Action: f\nAction Input: ", "f\n"]) + opener * depth + \
            rng.choice(["", "]" * depth, "}" * depth, ")]"])
    if kind == 2:  # a huge integer in a value's place
        number = rng.choice("123456789") + "".join(rng.choices("0123456789", k=rng.randint(4000, 6000)))
        template = rng.choice(['{"n": %s}', "[f(n=%s)]", "[[%s]]", "Rating: %s", "%s/10", "f(n=%s)",
                               "Action: f\nAction Input: {\"n\": %s}", "[f(n=[%s])]", "x=%s", "-%s"])
        return template % number
    if kind == 3:  # invalid unicode: lone surrogates, controls, noncharacters among keywords
        chars = [chr(rng.choice([rng.randint(0xD800, 0xDFFF), rng.randint(0, 0x1F), 0xFFFE, 0xFFFF,
                                 rng.randint(0x80, 0x10FFFF)])) for _ in range(rng.randint(1, 200))]
        return "".join(c if rng.random() < 0.7 else rng.choice(KEYWORDS) for c in chars)
    if kind == 4:  # a random mix of the parsers' own keywords
        return "".join(rng.choice(KEYWORDS) for _ in range(rng.randint(1, 300)))
    unit = "".join(rng.choice(KEYWORDS) for _ in range(rng.randint(1, 4)))  # one unit many times
    return unit * rng.randint(50, 1000)


def megabytes() -> list[str]:
    """1 MB strings: one unit repeated, bare or inside a call (so the argument scanners see it)."""
    def fill(unit, size):
        return (unit * (size // len(unit) + 1))[:size]

    megabyte = 1 << 20
    units = ["\n", " ", ":", "Action:", "Action: x\n \n", "Process Correctness:", "[", '{"a": [', "[f(k='",
             "'\\", "9", "a=", "[[1 ", "f(", "\ud800"]
    wrapped = ["a=", "k='", "k='x', ", "k=[", "a=1,", " ", "\\'", "'[", '{"a": ', "9"]
    return ([fill(u, megabyte) for u in units] + [f"[f({fill(u, megabyte - 5)})]" for u in wrapped]
            + ["Action: f\nAction Input: " + fill(u, megabyte - 26) for u in ('{"a": [', '"\\', "9")])


@pytest.mark.parametrize("name", PARSERS)
def test_megabyte_of_hostile_text_under_a_second(name):
    for text in megabytes():
        timed(PARSERS[name], text, MEGABYTE_S)


def test_fuzz_every_parser():
    rng = random.Random(SEED)
    for n in range(N_FUZZ):
        text = hostile(rng)
        # one timer a string, not a call: setting one costs more than most calls
        with cpu_limit(2 * PER_STRING_S * len(PARSERS)):
            for name, parse in PARSERS.items():
                start = time.process_time()
                try:
                    parse(text)
                except Exception as e:  # noqa: BLE001 - any escape is a failure: name the parser and string
                    raise AssertionError(f"{name} raised on hostile string {n} ({text[:80]!r}, {len(text)} chars): "
                                         f"{type(e).__name__}: {e}") from e
                spent = time.process_time() - start
                assert spent < PER_STRING_S, f"{name}: {spent:.2f} s on hostile string {n} ({text[:80]!r})"
