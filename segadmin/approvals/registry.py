"""What each kind of approval does once decided: registered by the app that asks for it
(privacy, bulk, calls) in its ``AppConfig.ready()``, so this app imports none of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from segadmin.approvals.models import Approval
    from segadmin.audit.index import IndexedMessage
    from segadmin.audit.log import Actor


@dataclass(frozen=True)
class Handler:
    kind: str
    # Called after an approval commits, outside any transaction (it may send to Segment):
    # returns a sentence for the approver about what happened.
    approved: Callable[[Approval, Actor], str]
    rejected: Callable[[Approval, Actor], None]
    # The page of what is asked for.
    link: Callable[[Approval], str]
    # Message-index rows for the people the approval names (privacy requests), or none.
    index: Callable[[Approval], list[IndexedMessage]] | None = None
    # Why a person an Admin limited to chosen sources or workspaces may not decide this one
    # (the source or workspace it carries is not theirs), "" when they may.
    outside_limits: Callable[[Approval, Any], str] | None = None


_handlers: dict[str, Handler] = {}


def register(handler: Handler) -> None:
    _handlers[handler.kind] = handler


def handler_for(kind: str) -> Handler | None:
    return _handlers.get(kind)
