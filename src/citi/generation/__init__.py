"""Batched greedy generation shared by every benchmark (see ``engine``)."""

from .engine import Engine, GenerationSettings, prompt_messages, render_prompt, run_predictions

__all__ = ["Engine", "GenerationSettings", "prompt_messages", "render_prompt", "run_predictions"]
