"""Errors of the Segment client: validation problems and unsafe raw requests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One finding of the rules module (``segment.rules``) about a message.

    ``field`` is the path of what it concerns: a message key (``userId``), a dotted path
    into it (``properties.currency``, ``traits.company.employee_count``,
    ``properties.items[0].at``) or "" for the whole message. ``code`` is stable;
    ``message`` is one sentence for a person. ``severity`` is "error" (refused: Segment would
    drop the message or break its reserved fields) or "warning" (shown, never blocks).
    ``index`` is the position of the message in a batch (None for a single message).

    A tracking plan's findings (``segment.plans``, codes ``plan_*``) are problems too, with
    what the rules' own problems leave empty: the JSON Schema ``keyword`` that failed and the
    plan and rule they come from.
    """

    field: str
    code: str
    message: str
    index: int | None = None
    severity: str = "error"
    keyword: str = ""
    plan_name: str = ""
    rule_type: str | None = None
    rule_key: str | None = None
    rule_version: int | None = None

    @property
    def path(self) -> str:
        return self.field

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        if self.index is None:
            return self.message
        return f"Message {self.index + 1}: {self.message}"


class MessageInvalid(Exception):
    """Raised by validation with every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems) or "invalid message")

    def codes(self) -> list[str]:
        return [p.code for p in self.problems]


class UnsafeRequest(Exception):
    """A raw request that could leave the configured Segment base or smuggle a header."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(message)
