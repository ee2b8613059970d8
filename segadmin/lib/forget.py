"""Forgetting people in what segadmin keeps besides the audit log (issue 15).

An app that keeps copies of people's data (bulk imports keep uploaded files) registers a
forgetter in its ``AppConfig.ready()``; an approved privacy request that asks for it calls
``forget`` with the IDs it names, and records what each forgetter says it removed. The audit
log is not among them: the record must survive (DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# (subject type "USER_ID" or "ANONYMOUS_ID", the IDs) -> what was removed, for the record
Forgetter = Callable[[str, set[str]], dict[str, Any]]

_forgetters: dict[str, Forgetter] = {}


def register(name: str, forgetter: Forgetter) -> None:
    _forgetters[name] = forgetter


def forget(subject_type: str, ids: set[str]) -> dict[str, dict[str, Any]]:
    """Ask every registered forgetter to remove ``ids``; what each removed, by name."""
    return {name: forgetter(subject_type, ids) for name, forgetter in sorted(_forgetters.items())}
