"""OpenAI-compatible chat client for judges and API simulators, and the verdict parser.

The endpoint comes from config (``evaluation.judge`` / ``evaluation.simulator``): base_url,
model, temperature, timeout, retries, and the NAME of the environment variable holding
the API key (the key itself never enters config, logs or results). Transient failures
(connection errors, timeouts, HTTP 429 and 5xx) are retried with exponential backoff; a
request that still fails returns None and is counted, so a run never crashes on the judge.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from ..errors import ConfigError

log = logging.getLogger(__name__)

VERDICTS = ("Yes", "No", "Uncertain")
TRANSIENT_HTTP = {408, 429, 500, 502, 503, 504}


@dataclass
class Endpoint:
    base_url: str
    model: str
    temperature: float = 0.0
    timeout: float = 60.0
    max_retries: int = 4
    backoff: float = 1.0
    max_tokens: int | None = None
    api_key_env: str | None = None

    @classmethod
    def from_config(cls, spec: dict, owner: str, base_url: str | None = None) -> "Endpoint":
        url = base_url or spec.get("base_url")
        if not url or url == "loopback":
            raise ConfigError(f"{owner}.base_url: no endpoint URL (a 'loopback' endpoint must be started first)")
        keys = {k: spec[k] for k in ("model", "temperature", "timeout", "max_retries", "backoff",
                                     "max_tokens", "api_key_env") if spec.get(k) is not None}
        if "model" not in keys:
            raise ConfigError(f"{owner}.model: required")
        return cls(base_url=url.rstrip("/"), **keys)

    def public(self) -> dict:
        """What may be written to results: everything but secrets (only the env var's name)."""
        return {"base_url": self.base_url, "model": self.model, "temperature": self.temperature,
                "max_tokens": self.max_tokens, "api_key_env": self.api_key_env}


@dataclass
class ChatClient:
    endpoint: Endpoint
    stats: dict = field(default_factory=lambda: {"requests": 0, "retries": 0, "failed": 0})

    def _headers(self) -> dict:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.endpoint.api_key_env) if self.endpoint.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def complete(self, messages: list[dict]) -> str | None:
        """The reply text, or None once retries are spent (logged, counted in ``stats``)."""
        body = {"model": self.endpoint.model, "messages": messages, "temperature": self.endpoint.temperature}
        if self.endpoint.max_tokens:
            body["max_tokens"] = self.endpoint.max_tokens
        data = json.dumps(body).encode("utf-8")
        self.stats["requests"] += 1
        for attempt in range(self.endpoint.max_retries + 1):
            if attempt:
                self.stats["retries"] += 1
                time.sleep(self.endpoint.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(f"{self.endpoint.base_url}/chat/completions", data=data,
                                             headers=self._headers(), method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.endpoint.timeout) as r:
                    reply = json.loads(r.read().decode("utf-8"))
                content = reply["choices"][0]["message"]["content"]
                return content if isinstance(content, str) else ""
            except urllib.error.HTTPError as e:
                reason = f"HTTP {e.code}"
                if e.code not in TRANSIENT_HTTP:
                    break
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
                reason = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
            except (ValueError, KeyError, IndexError, TypeError) as e:  # not an OpenAI reply
                reason = f"malformed response ({type(e).__name__})"
                break
            log.info("%s: attempt %d failed (%s)", self.endpoint.base_url, attempt + 1, reason)
        self.stats["failed"] += 1
        log.warning("%s: request failed after %d attempt(s): %s", self.endpoint.base_url, attempt + 1, reason)
        return None


def _verdict(label: str, text: str) -> str | None:
    # tolerate markdown (**Process Correctness:** Yes), case and trailing punctuation: the
    # label, non-word characters holding a colon, the verdict. The colon is looked for outside
    # the regex: "\W*?[:：]\W*" backtracks quadratically on a long run of colons.
    for m in re.finditer(rf"{label}(\W*)(yes|no|uncertain)\b", text, re.I):
        if ":" in m.group(1) or "：" in m.group(1):
            return m.group(2).capitalize()
    return None


def parse_verdicts(text: str | None) -> dict:
    """Process and final-response verdicts from a judge reply.

    Like the official evaluation, only the text after '## Results' is read when that heading
    is present. A missing verdict is counted as malformed and scored Uncertain (never Yes).
    """
    if text is None:
        return {"process": "Uncertain", "response": "Uncertain", "malformed": False, "failed": True}
    tail = text.split("## Results", 1)[-1]
    process, response = _verdict("Process Correctness", tail), _verdict("Final Response Correctness", tail)
    return {"process": process or "Uncertain", "response": response or "Uncertain",
            "malformed": process is None or response is None, "failed": False}
