"""JSON nested deeper than segadmin reads is a form error next to its field, on every call
screen entrance: the JSON mode of an editor, an object row, a mode switch, Make an API call's
Body; and a body sent as text is shown as text later, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from segadmin.audit.models import AuditEntry
from segadmin.credentials.models import Source
from segadmin.lib.userjson import MAX_DEPTH
from tests.calls.conftest import WRITE_KEY, errors_of, rows_data

pytestmark = pytest.mark.django_db

TOO_DEEP = f"is too deeply nested: more than {MAX_DEPTH} levels."
DEPTHS = [MAX_DEPTH + 1, 50_000]


def nested(levels: int) -> str:
    return '{"a": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"


@pytest.mark.parametrize("levels", DEPTHS)
@pytest.mark.parametrize("action", ["preview", "send"])
def test_traits_json_nested_too_deeply_is_a_form_error(
    levels: int, action: str, marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    data = {
        "source": str(source.pk),
        "user_id": "u1",
        "action": action,
        "traits__mode": "json",
        "traits__json": nested(levels),
    }
    response = marketer_client.post("/calls/identify/", data)
    assert response.status_code == 422
    assert errors_of(response)["traits"] == [f"Traits (JSON) {TOO_DEEP}"]
    assert fake_segment.requests == []
    assert not AuditEntry.objects.exists()


def test_an_object_row_nested_too_deeply_is_a_form_error(
    marketer_client: Client, source: Source
) -> None:
    data = {"source": str(source.pk), "user_id": "u1", "action": "preview"}
    data.update(rows_data("traits", custom=[("prefs", "object", nested(MAX_DEPTH + 1))]))
    response = marketer_client.post("/calls/identify/", data)
    assert response.status_code == 422
    assert TOO_DEEP in response.content.decode()


@pytest.mark.parametrize("levels", DEPTHS)
def test_switching_nested_json_to_rows_says_why_it_cannot(
    levels: int, marketer_client: Client
) -> None:
    data = {
        "editor": "traits",
        "to": "rows",
        "traits__mode": "json",
        "traits__json": nested(levels),
    }
    response = marketer_client.post("/calls/editor/identify_traits/switch/", data)
    assert response.status_code == 200
    assert f"Traits (JSON) {TOO_DEEP}" in response.content.decode()


@pytest.mark.parametrize("levels", DEPTHS)
def test_an_api_call_body_nested_too_deeply_is_a_form_error(
    levels: int, admin_client: Client, source: Source, fake_segment: Any
) -> None:
    data = {
        "api": "tracking",
        "source": str(source.pk),
        "method": "POST",
        "url": "/v1/identify",
        "body": nested(levels),
        "headers__mode": "rows",
        "query__mode": "rows",
        "action": "send",
    }
    response = admin_client.post("/calls/api/", data)
    assert response.status_code == 422
    assert errors_of(response)["body"] == [f"The Body {TOO_DEEP}"]
    assert fake_segment.requests == []


def test_a_nested_body_sent_as_text_shows_as_text_on_its_audit_entry(
    admin_client: Client, source: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    body = "[" * 50_000 + "]" * 50_000
    data = {
        "api": "tracking",
        "source": str(source.pk),
        "method": "POST",
        "url": "/v1/identify",
        "body": body,
        "headers__mode": "json",
        "headers__json": '{"Content-Type": "text/plain"}',
        "query__mode": "rows",
        "action": "send",
    }
    response = admin_client.post("/calls/api/", data)
    assert response.status_code == 200, errors_of(response)
    entry = AuditEntry.objects.get(kind="request")
    page = admin_client.get(f"/audit/{entry.pk}/")
    assert page.status_code == 200
    assert "[[[[" in page.content.decode()
