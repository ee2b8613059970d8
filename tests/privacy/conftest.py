"""Privacy requests against the local fake: the workspace fixture's token is registered there."""

from __future__ import annotations

from typing import Any

import pytest

from segadmin.audit.log import Actor
from segadmin.privacy.models import PrivacyRequest
from segadmin.privacy.services import file_request
from tests.conftest import TOKEN


@pytest.fixture
def fake(fake_segment, workspace):
    fake_segment.add_workspace(TOKEN, id="ws_1")
    fake_segment.add_source(id="src_1", token=TOKEN, write_keys=["wk_1"])
    return fake_segment


def actor_of(user) -> Actor:
    return Actor(user=user, username=user.username, role="", ip="127.0.0.1", user_agent="pytest")


def filed(user, workspace, ids=("u1", "u2"), **extra: Any) -> PrivacyRequest:
    return file_request(
        actor=actor_of(user),
        workspace=workspace,
        source=extra.pop("source", None),
        action=extra.pop("action", "SUPPRESS_WITH_DELETE"),
        subject_type="USER_ID",
        ids=list(ids),
        reason=extra.pop("reason", "Ticket #123"),
        **extra,
    )


def creates(fake) -> list[Any]:
    """The create requests the fake received, oldest first."""
    return [r for r in fake.requests if r.method == "POST" and r.path.startswith("/regulations")]


@pytest.fixture(autouse=True)
def _immediate(immediate_tasks: None) -> None:
    """Approval and Retry queue the send; here the task runs as it is queued."""
