"""Executing the agent's API calls: live HTTP, LLM-simulated, or offline (no execution).

``live`` calls the documented endpoint (OpenAPI ``servers`` + ``Function_Projection``) with
a timeout. Keys come from environment variables named in config
(``evaluation.toolalpaca.credentials: {API name: {query parameter: ENV_VAR}}``) and are
added to the request by us, never shown to the model; every observation and log line is
redacted of their values.
"""

from __future__ import annotations

import json
import logging
import os
import re
import urllib.error
import urllib.parse
import urllib.request

from ...toolcalls.syntax import json_object
from ..judge import ChatClient

log = logging.getLogger(__name__)

MODES = ("live", "simulated", "offline")
REDACTED = "***"


def parse_arguments(text: str) -> dict | None:
    """The Action Input's JSON object (leading text allowed, trailing text ignored), or None.

    Model output: too deep a nesting or too long an integer is None too, never an exception.
    """
    start = text.find("{")
    if start < 0:
        return {} if not text.strip() else None
    return json_object(text[start:])


class Executor:
    def __init__(self, mode: str, options: dict, simulator: ChatClient | None = None):
        self.mode, self.options, self.simulator = mode, options, simulator
        self.secrets = {api: {param: os.environ.get(env, "") for param, env in params.items()}
                        for api, params in (options.get("credentials") or {}).items()}

    def redact(self, text: str) -> str:
        for params in self.secrets.values():
            for value in params.values():
                if value:
                    text = text.replace(value, REDACTED)
        return text

    def __call__(self, api: dict, function: str, action_input: str) -> str:
        limit = self.options.get("max_observation_chars", 2000)
        if self.mode == "offline":
            return self.options.get("offline_observation", "")
        if function not in (api.get("Function_Projection") or {}):
            return f"Error: {function} is not a function of this API. Valid functions: " + \
                ", ".join(api.get("Function_Projection") or {})
        args = parse_arguments(action_input)
        if args is None:
            return "Error: the Action Input is not a valid JSON object."
        text = self._live(api, function, args) if self.mode == "live" else self._simulate(api, function, args)
        text = self.redact(text)
        return text if len(text) <= limit else text[:limit] + " ...(truncated)"

    def _live(self, api: dict, function: str, args: dict) -> str:
        path, method = api["Function_Projection"][function][:2]
        method = method.upper()
        try:
            doc = json.loads(api["Documentation"]) if isinstance(api["Documentation"], str) else api["Documentation"]
            server = doc["servers"][0]["url"].rstrip("/")
            declared = {p["name"]: p.get("in") for p in doc["paths"][path][method.lower()].get("parameters", [])
                        if isinstance(p, dict) and "name" in p}
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            server, declared = "", {}
        if not server:
            return "Error: the API documentation names no server URL."
        args = dict(args)
        for name in re.findall(r"{(\w+)}", path):
            path = path.replace("{" + name + "}", urllib.parse.quote(str(args.pop(name, "")), safe=""))
        headers = {k: str(args.pop(k)) for k in [k for k, where in declared.items() if where == "header"] if k in args}
        body_method = method in ("POST", "PUT", "PATCH")
        query = {k: v for k, v in args.items() if declared.get(k) == "query" or not body_method}
        body = {k: v for k, v in args.items() if k not in query}
        query.update({k: v for k, v in self.secrets.get(api.get("Name"), {}).items() if v})
        url = server + path + ("?" + urllib.parse.urlencode(query, doseq=True) if query else "")
        data = json.dumps(body).encode() if body else None
        if data:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        log.info("live call %s %s", method, server + path)  # no query string: it may hold a key
        timeout = self.options.get("http_timeout", 15)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as r:
                return r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return f"Status code {e.code}. {e.read().decode('utf-8', 'replace')}"
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            return f"Error: the request failed ({type(e).__name__}: {getattr(e, 'reason', e)})"

    def _simulate(self, api: dict, function: str, args: dict) -> str:
        prompt = (f"You are simulating the REST API \"{api.get('Name')}\". Its documentation:\n\n"
                  f"{api.get('NLDocumentation', '')}\n\nA client calls the function {function} with the "
                  f"parameters {json.dumps(args, ensure_ascii=False)}. Reply with only the response the real "
                  f"API would return (status and body), plausible and consistent with the documentation.")
        reply = self.simulator.complete([{"role": "user", "content": prompt}]) if self.simulator else None
        return reply if reply is not None else "Error: the API simulator did not answer."
