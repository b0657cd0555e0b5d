"""Judge client against a real loopback OpenAI-compatible server; verdict parsing."""

from __future__ import annotations

import json

import pytest

from citi.evaluation.judge import ChatClient, Endpoint, parse_verdicts
from citi.evaluation.loopback import LoopbackServer


@pytest.mark.parametrize("reply, process, response, malformed", [
    ("## Analysis\nfine\n## Results\nProcess Correctness: Yes\nFinal Response Correctness: No", "Yes", "No", False),
    ("## Results\n**Process Correctness:** yes.\n**Final Response Correctness**: UNCERTAIN", "Yes", "Uncertain", False),
    # only the text after '## Results' counts, as in the official evaluation
    ("Process Correctness: No\n## Results\nProcess Correctness: Yes\nFinal Response Correctness: Yes", "Yes", "Yes", False),
    ("The process looks right to me.", "Uncertain", "Uncertain", True),
    ("## Results\nProcess Correctness: Yes", "Yes", "Uncertain", True),
    ("## Results\nProcess Correctness: Maybe\nFinal Response Correctness: Yes", "Uncertain", "Yes", True),
])
def test_verdicts_are_parsed_robustly_and_malformed_replies_flagged(reply, process, response, malformed):
    v = parse_verdicts(reply)
    assert (v["process"], v["response"], v["malformed"], v["failed"]) == (process, response, malformed, False)


def test_a_failed_request_is_uncertain_not_a_crash():
    assert parse_verdicts(None) == {"process": "Uncertain", "response": "Uncertain", "malformed": False, "failed": True}


def test_client_retries_a_flaky_server_then_gives_up_without_crashing(tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"fail_first": 2, "rules": [{"match": "ping", "reply": "pong"}], "default": "?"}))
    with LoopbackServer(script=script) as server:
        client = ChatClient(Endpoint(server.base_url, "judge", backoff=0.05, max_retries=3))
        assert client.complete([{"role": "user", "content": "ping"}]) == "pong"
        assert client.stats == {"requests": 1, "retries": 2, "failed": 0}
        impatient = ChatClient(Endpoint(server.base_url, "judge", backoff=0.05, max_retries=0))
        assert impatient.complete([{"role": "user", "content": "other"}]) == "?"
        url = server.base_url
    # the server is gone: connection errors are retried, then counted as a failure
    gone = ChatClient(Endpoint(url, "judge", backoff=0.01, max_retries=2, timeout=2))
    assert gone.complete([{"role": "user", "content": "ping"}]) is None
    assert gone.stats == {"requests": 1, "retries": 2, "failed": 1}


@pytest.mark.slow
def test_loopback_serves_a_model_folder_through_its_chat_template(tiny_model_dir):
    with LoopbackServer(model=tiny_model_dir, max_tokens=8) as server:
        client = ChatClient(Endpoint(server.base_url, "tiny", max_tokens=8))
        first = client.complete([{"role": "user", "content": "hello"}])
        assert isinstance(first, str) and client.stats["failed"] == 0
        assert client.complete([{"role": "user", "content": "hello"}]) == first  # greedy: deterministic


def test_the_api_key_is_sent_from_the_named_variable_but_never_exposed(monkeypatch):
    monkeypatch.setenv("CITI_TEST_JUDGE_KEY", "sk-test-123")
    endpoint = Endpoint.from_config({"model": "m", "api_key_env": "CITI_TEST_JUDGE_KEY"}, "evaluation.judge",
                                    base_url="http://127.0.0.1:9/v1")
    assert ChatClient(endpoint)._headers()["Authorization"] == "Bearer sk-test-123"
    assert "sk-test-123" not in json.dumps(endpoint.public())
