"""The interface every tool runtime implements, so one evaluator drives them alike.

Two runtimes implement it: the project's generated mock APIs (``citi.synthetic.tools``), which coerce the
text the official parser hands over and answer in their own words, and the real API-Bank APIs
(``citi.evaluation.api_bank.apis``), which mirror the official code's behaviour and error text on
its databases, because the official checkers compare executed outputs with recorded ones. They
differ in that on purpose; what they share is here: a call's result shape, and checking and
describing a call.
"""

from __future__ import annotations

from typing import ClassVar


class ToolAPI:
    name: ClassVar[str]

    def call(self, **kwargs) -> dict:
        """Run the API; always returns ``result(...)``: a bad call is an exception string, never a raise."""
        raise NotImplementedError

    def check(self, result: dict, gold: dict) -> bool:
        """Whether an executed call's result is the gold one (each runtime's own comparison)."""
        raise NotImplementedError

    def describe(self) -> dict:
        """The API's description as the model sees it (name, description, input and output parameters)."""
        raise NotImplementedError

    def result(self, args: dict, output, exception: str | None) -> dict:
        return {"api_name": self.name, "input": args, "output": output, "exception": exception}
