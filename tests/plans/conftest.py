"""A workspace, its sources and its tracking plans in the local fake of Segment."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from segadmin.audit.log import Actor
from segadmin.credentials.models import Source, Workspace
from segadmin.segment.fake import plans as fake_plans
from tests.factories import make_source, make_workspace
from tests.fake_segment import FakeSegment

TOKEN = "sgp_PLANStokenAbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
WRITE_KEY = "plansWriteKey0000000000000000001"
PLAN_ID = "tp_shop"


def track_rule(key: str, version: int = 1, **properties: Any) -> dict[str, Any]:
    return {
        "type": "TRACK",
        "key": key,
        "version": version,
        "jsonSchema": {
            "type": "object",
            "properties": {
                "context": {},
                "traits": {},
                "properties": {"type": "object", "properties": properties},
            },
        },
    }


class Segment:
    """The fake holding workspace “Acme” (token TOKEN) with source src_web, and its plans."""

    def __init__(self, fake: FakeSegment) -> None:
        self.fake = fake
        self.workspace = fake.add_workspace(TOKEN, id="ws_acme", slug="acme", name="Acme")
        fake.add_source(id="src_web", name="Web", token=TOKEN, write_keys=[WRITE_KEY])
        fake.add_source(id="src_theirs", name="Not ours", token=TOKEN, write_keys=["wk_2"])

    def add_plan(self, rules: list[dict[str, Any]], **kwargs: Any) -> None:
        kwargs.setdefault("id", PLAN_ID)
        kwargs.setdefault("name", "Shop plan")
        fake_plans.add_plan(self.fake.state, token=TOKEN, rules=rules, **kwargs)

    def change(self, **kwargs: Any) -> None:
        fake_plans.change_rules(self.fake.state, PLAN_ID, **kwargs)

    def connect(self, source_id: str, settings: dict[str, Any] | None = None) -> None:
        fake_plans.connect_source(self.fake.state, PLAN_ID, source_id)
        if settings is not None:
            fake_plans.set_settings(self.fake.state, source_id, settings)

    def paths(self) -> list[str]:
        return [request.path for request in self.fake.requests]


@pytest.fixture
def segment(fake_segment: FakeSegment) -> Segment:
    return Segment(fake_segment)


@pytest.fixture
def workspace(db: None) -> Workspace:
    return make_workspace(TOKEN)


@pytest.fixture
def web(workspace: Workspace) -> Source:
    return make_source("Web", WRITE_KEY, workspace=workspace, segment_source_id="src_web")


@pytest.fixture
def actor(admin_user: User) -> Actor:
    return Actor(
        user=admin_user, username=admin_user.username, role="Admin", ip=None, user_agent=""
    )
