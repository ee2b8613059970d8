"""Sending to a Production source from the call screens and Make an API call (issue 16): a send
without the confirmation naming the source is refused next to the confirmation box and nothing
reaches Segment (a forged post too); with it, it is sent. Preview needs no confirmation but
shows the marker; a source that is not Production needs nothing."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from segadmin.audit.models import AuditEntry
from segadmin.credentials.models import Source
from tests.calls.conftest import form_data
from tests.factories import make_source

pytestmark = pytest.mark.django_db

WRITE_KEY = "wk_PRODtestAbCdEfGhIjKlMnOpQrStUv"
OTHER_KEY = "wk_PRODotherAbCdEfGhIjKlMnOpQrStU"
REFUSAL = (
    "“Live site” is a Production source: tick “Send to Production source “Live site”” to confirm"
)

# The fields each screen needs to send (IDs and its own required fields).
SCREENS: dict[str, dict[str, Any]] = {
    "identify": {"user_id": "u1"},
    "track": {"user_id": "u1", "event": "Order Completed"},
    "page": {"user_id": "u1", "name": "Pricing"},
    "screen": {"user_id": "u1", "name": "Settings"},
    "group": {"user_id": "u1", "group_id": "g1"},
    "alias": {"user_id": "u1", "previous_id": "anon-1"},
}
# JSON mode: the screen's editor (or Context, for Alias) typed as raw JSON.
JSON_EDITORS = {
    "identify": ("traits", {"plan": "pro"}),
    "track": ("properties", {"total": 5}),
    "page": ("properties", {"path": "/pricing"}),
    "screen": ("properties", {"tab": "profile"}),
    "group": ("traits", {"name": "Acme"}),
    "alias": ("context", {"locale": "en-GB"}),
}
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def live(db: None) -> Source:
    return make_source("Live site", WRITE_KEY, production=True)


def _data(screen: str, source: Source, *, json_mode: bool, **extra: Any) -> dict[str, Any]:
    fields = dict(SCREENS[screen])
    if json_mode:
        name, value = JSON_EDITORS[screen]
        fields[name] = value
    return {**form_data(source, **fields), "action": "send", **extra}


def _requests() -> int:
    return AuditEntry.objects.filter(kind="request").count()


def _error_next_to_the_box(text: str) -> str:
    """The refusal shown under the confirmation box (unescaped)."""
    part = text.split('data-testid="confirm-production-error">', 1)
    assert len(part) == 2, "no refusal next to the confirmation box"
    return html.unescape(part[1].split("</div>", 1)[0])


@pytest.mark.parametrize("json_mode", [False, True], ids=["form", "json"])
@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("screen", list(SCREENS))
def test_a_send_to_production_without_the_confirmation_is_refused_next_to_the_box(
    screen: str, htmx: bool, json_mode: bool, admin_client: Client, live: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    response = admin_client.post(
        reverse(f"calls:{screen}"),
        _data(screen, live, json_mode=json_mode),
        **(HTMX if htmx else {}),
    )
    assert response.status_code == (200 if htmx else 422)
    assert _error_next_to_the_box(response.text).startswith(REFUSAL)
    assert "Nothing was sent." in _error_next_to_the_box(response.text)
    # The box is there to tick, unticked, with the source's id, and the summary links to it.
    assert (
        f'name="confirm_production" value="{live.pk}" id="id_confirm_production"' in response.text
    )
    box = response.text.split('id="id_confirm_production"', 1)[1].split(">", 1)[0]
    assert "checked" not in box
    assert 'href="#id_confirm_production"' in response.text
    assert fake_segment.requests == []
    assert _requests() == 0


@pytest.mark.parametrize("json_mode", [False, True], ids=["form", "json"])
@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("screen", list(SCREENS))
def test_a_send_to_production_with_the_confirmation_is_sent(
    screen: str, htmx: bool, json_mode: bool, admin_client: Client, live: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    data = _data(screen, live, json_mode=json_mode, confirm_production=str(live.pk))
    response = admin_client.post(reverse(f"calls:{screen}"), data, **(HTMX if htmx else {}))
    assert response.status_code == 200
    assert "Sent: Segment accepted the request." in response.text
    assert [m["type"] for m in fake_segment.messages()] == [screen]
    assert _requests() == 1
    # The result panel carries the marker, and the box is drawn unticked again: each send asks.
    assert 'data-testid="panel-production"' in response.text
    box = response.text.split('id="id_confirm_production"', 1)[1].split(">", 1)[0]
    assert "checked" not in box
    if htmx:
        tag = response.text.split('<div id="production-confirm"', 1)[1].split(">", 1)[0]
        assert 'hx-swap-oob="true"' in tag


def test_the_name_typed_confirms_too(admin_client: Client, live: Source, fake_segment: Any) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    data = _data("identify", live, json_mode=False, confirm_production=" Live site ")
    response = admin_client.post(reverse("calls:identify"), data)
    assert "Sent: Segment accepted the request." in response.text
    assert len(fake_segment.messages()) == 1


@pytest.mark.parametrize(
    "forged",
    ["on", "1", "true", "yes", "Live", "live site", "999999"],
)
def test_a_forged_confirmation_is_refused(
    forged: str, admin_client: Client, live: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    if forged == "1" and live.pk == 1:
        forged = "2"
    data = _data("track", live, json_mode=False, confirm_production=forged)
    response = admin_client.post(reverse("calls:track"), data)
    assert response.status_code == 422
    assert _error_next_to_the_box(response.text).startswith(REFUSAL)
    assert fake_segment.requests == []
    assert _requests() == 0


def test_a_confirmation_for_another_production_source_does_not_carry_over(
    admin_client: Client, live: Source, fake_segment: Any
) -> None:
    other = make_source("Live app", OTHER_KEY, production=True)
    fake_segment.add_write_key(WRITE_KEY)
    data = _data("track", live, json_mode=False, confirm_production=str(other.pk))
    response = admin_client.post(reverse("calls:track"), data)
    assert response.status_code == 422
    assert fake_segment.requests == []


def test_a_source_that_is_not_production_needs_no_confirmation(
    admin_client: Client, fake_segment: Any
) -> None:
    staging = make_source("Staging", WRITE_KEY)
    fake_segment.add_write_key(WRITE_KEY)
    response = admin_client.post(reverse("calls:track"), _data("track", staging, json_mode=False))
    assert "Sent: Segment accepted the request." in response.text
    assert len(fake_segment.messages()) == 1
    for marker in ("production-banner", "panel-production", "confirm_production"):
        assert marker not in response.text


def test_a_source_marked_production_after_the_form_was_drawn_is_refused(
    admin_client: Client, fake_segment: Any
) -> None:
    source = make_source("Staging", WRITE_KEY)
    fake_segment.add_write_key(WRITE_KEY)
    drawn = admin_client.get(reverse("calls:identify") + f"?source={source.pk}")
    assert "production-banner" not in drawn.text
    Source.objects.filter(pk=source.pk).update(production=True)
    response = admin_client.post(
        reverse("calls:identify"), _data("identify", source, json_mode=False)
    )
    assert response.status_code == 422
    assert "“Staging” is a Production source" in _error_next_to_the_box(response.text)
    assert fake_segment.requests == []


def test_the_form_shows_the_marker_when_a_production_source_is_chosen(
    marketer_client: Client, live: Source
) -> None:
    response = marketer_client.get(reverse("calls:track") + f"?source={live.pk}")
    text = response.text
    assert 'data-testid="production-banner"' in text
    assert "<strong>Live site</strong> is a Production source" in text
    assert 'data-testid="production-badge">Production</span>' in text
    assert "Live site (US) — Production</option>" in text
    # Nothing is refused before anyone pressed Send.
    assert "confirm-production-error" not in text


def test_preview_needs_no_confirmation_and_shows_the_marker(
    marketer_client: Client, live: Source, fake_segment: Any
) -> None:
    data = {**_data("track", live, json_mode=False), "action": "preview"}
    for extra in ({}, HTMX):
        response = marketer_client.post(reverse("calls:track"), data, **extra)
        assert response.status_code == 200
        assert 'data-testid="preview"' in response.text
        assert 'data-testid="panel-production"' in response.text
        assert "Source: <strong>Live site</strong>, a Production source." in response.text
        assert "confirm-production-error" not in response.text
    assert fake_segment.requests == []


def test_a_ticked_box_stays_ticked_after_a_preview(marketer_client: Client, live: Source) -> None:
    data = {
        **_data("identify", live, json_mode=False),
        "action": "preview",
        "confirm_production": str(live.pk),
    }
    response = marketer_client.post(reverse("calls:identify"), data)
    box = response.text.split('id="id_confirm_production"', 1)[1].split(">", 1)[0]
    assert "checked" in box


# --- Make an API call ---------------------------------------------------------------------


def _api_data(source: Source, **extra: Any) -> dict[str, Any]:
    return {
        "api": "tracking",
        "source": str(source.pk),
        "method": "POST",
        "url": "/v1/track",
        "body": '{"userId": "u1", "event": "Order Completed"}',
        "headers__mode": "json",
        "headers__json": "{}",
        "query__mode": "json",
        "query__json": "{}",
        "action": "send",
        **extra,
    }


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_make_an_api_call_to_a_production_source_asks_for_the_confirmation(
    htmx: bool, admin_client: Client, live: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    extra = HTMX if htmx else {}
    refused = admin_client.post(reverse("calls:api"), _api_data(live), **extra)
    assert refused.status_code == (200 if htmx else 422)
    assert _error_next_to_the_box(refused.text).startswith(REFUSAL)
    assert fake_segment.requests == []
    assert _requests() == 0
    sent = admin_client.post(
        reverse("calls:api"), _api_data(live, confirm_production=str(live.pk)), **extra
    )
    assert sent.status_code == 200
    assert "Sent: Segment accepted the request." in sent.text
    assert 'data-testid="panel-production"' in sent.text
    assert len(fake_segment.requests) == 1


def test_make_an_api_call_preview_shows_the_marker(admin_client: Client, live: Source) -> None:
    response = admin_client.post(reverse("calls:api"), _api_data(live, action="preview"))
    assert response.status_code == 200
    assert 'data-testid="preview"' in response.text
    assert 'data-testid="panel-production"' in response.text
    assert 'data-testid="production-banner"' in response.text


def test_a_public_api_call_shows_no_production_box(admin_client: Client, live: Source) -> None:
    response = admin_client.get(reverse("calls:api") + f"?source={live.pk}")
    assert 'data-testid="production-banner"' in response.text  # Tracking API is the default
    data = _api_data(live, api="public", url="/workspace", method="GET", action="preview")
    response = admin_client.post(reverse("calls:api"), data)
    assert "production-banner" not in response.text
