"""The litserve application behind ``loopback.LoopbackServer`` (runs in the server process).

The API classes live at module level: litserve starts its workers with spawn, which pickles them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import litserve as ls
from fastapi import HTTPException

from .loopback import HOST


def last_user_text(request) -> str:
    for msg in reversed(request.messages):
        if msg.role == "user":
            return msg.content if isinstance(msg.content, str) else json.dumps(msg.model_dump()["content"])
    return ""


class ScriptedAPI(ls.LitAPI):
    """Deterministic replies from a JSON script; the first ``fail_first`` requests get 503."""

    def __init__(self, script: str, **kwargs):
        super().__init__(**kwargs)
        self.script_path = script

    def setup(self, device):
        self.script = json.loads(Path(self.script_path).read_text(encoding="utf-8"))
        self.requests = 0

    def predict(self, request):
        self.requests += 1
        if self.requests <= int(self.script.get("fail_first", 0)):
            raise HTTPException(status_code=503, detail="scripted failure")
        text = last_user_text(request)
        yield next((r["reply"] for r in self.script.get("rules", []) if r["match"] in text),
                   self.script.get("default", ""))


class ModelAPI(ls.LitAPI):
    """A model folder, greedy, through its chat template (temperature is ignored: greedy only)."""

    def __init__(self, model: str, max_tokens: int, **kwargs):
        super().__init__(**kwargs)
        self.model_path, self.max_tokens = model, max_tokens

    def setup(self, device):
        from ..generation import Engine

        self.engine = Engine.from_folder(self.model_path, device="cpu" if device == "cpu" else device)

    def predict(self, request):
        from ..generation import GenerationSettings

        messages = [{"role": m.role, "content": m.content if isinstance(m.content, str) else ""}
                    for m in request.messages]
        prompt = self.engine.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        stop = request.stop if isinstance(request.stop, list) else [request.stop] if request.stop else []
        limit = request.max_completion_tokens or request.max_tokens or self.max_tokens
        settings = GenerationSettings(max_new_tokens=limit, batch_size=1, stop=tuple(stop))
        yield self.engine.generate([prompt], settings)[0].text


def serve(model: str | None, script: str | None, port: int, max_tokens: int = 256) -> None:
    api = ScriptedAPI(script, spec=ls.OpenAISpec()) if script else ModelAPI(model, max_tokens, spec=ls.OpenAISpec())
    accelerator = "cuda" if model and os.environ.get("CITI_LOOPBACK_CUDA") == "1" else "cpu"
    server = ls.LitServer(api, accelerator=accelerator, devices=1, timeout=600)
    server.run(host=HOST, port=port, generate_client_file=False, log_level="warning")
