"""Track's Event version (issue 13): when the chosen planned event has several versions in
the source's tracking plan, the form offers them; the choice is sent as
``context.protocols.event_version``, picks the rule checked (and the planned rows drawn), in
rows and in JSON mode alike."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from django.test import Client

from segadmin.credentials.models import Source
from tests.calls.conftest import errors_of, form_data, preview_body
from tests.tracking_plans import PLAN_NAME, connect

pytestmark = pytest.mark.django_db

MISSING_CURRENCY = f"currency is required by the tracking plan “{PLAN_NAME}”"


def version_select(html: str) -> str:
    match = re.search(r'<select name="event_version".*?</select>', html, re.S)
    assert match, "the page offers no Event version"
    return match.group(0)


def options(html: str) -> list[tuple[str, str]]:
    return [
        (value, unescape(label).strip())
        for value, label in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', html)
    ]


def order(source: Source, **extra: Any) -> dict[str, Any]:
    fields = {
        "user_id": "u-1",
        "event": "Order Completed",
        "properties": {"order_id": "o-1", "total": 12},
    }
    return form_data(source, **{**fields, **extra})


def test_an_event_with_several_versions_offers_them(marketer_client: Client, source: Source):
    connect(source)
    html = marketer_client.post("/calls/track/", order(source)).content.decode()
    assert options(version_select(html)) == [
        ("", "Not given: Segment checks version 1, the oldest"),
        ("1", "Version 1"),
        ("2", "Version 2"),
    ]
    assert "sent as context.protocols.event_version" in html


@pytest.mark.parametrize("event", ["Signed Up", "", "Order Complete"])
def test_an_event_with_one_version_or_none_offers_no_version(
    marketer_client: Client, source: Source, event: str
):
    connect(source, unplanned_events="warn")
    html = marketer_client.post("/calls/track/", order(source, event=event)).content.decode()
    assert 'name="event_version"' not in html
    assert 'name="event_version"' not in marketer_client.get("/calls/track/").content.decode()


def test_the_chosen_version_is_sent_and_checked(marketer_client: Client, source: Source):
    connect(source)
    response = marketer_client.post("/calls/track/", order(source, event_version="2"))
    assert response.status_code == 422
    assert any(MISSING_CURRENCY in e for e in errors_of(response)["properties"])

    fixed = order(
        source,
        event_version="2",
        properties={"order_id": "o-1", "total": 12, "currency": "EUR"},
    )
    response = marketer_client.post("/calls/track/", fixed)
    assert response.status_code == 200, errors_of(response)
    body = preview_body(response)
    assert body["context"]["protocols"] == {"event_version": 2}
    # Version 1 (the oldest, also when none is given) does not require currency.
    for version in ("1", ""):
        response = marketer_client.post("/calls/track/", order(source, event_version=version))
        assert response.status_code == 200, errors_of(response)
    assert "protocols" not in preview_body(response)["context"]


def test_a_version_typed_into_context_is_honoured_and_a_different_choice_refused(
    marketer_client: Client, source: Source
):
    connect(source)
    typed = {"protocols": {"event_version": 2}}
    response = marketer_client.post("/calls/track/", order(source, context=typed))
    assert response.status_code == 422
    assert any(MISSING_CURRENCY in e for e in errors_of(response)["properties"])

    response = marketer_client.post(
        "/calls/track/", order(source, context=typed, event_version="1")
    )
    assert response.status_code == 422
    assert errors_of(response)["event_version"] == [
        "Context sets protocols.event_version to 2: choose the version here or there, not both."
    ]
    response = marketer_client.post(
        "/calls/track/",
        order(
            source,
            context=typed,
            event_version="2",
            properties={"order_id": "o-1", "total": 12, "currency": "EUR"},
        ),
    )
    assert response.status_code == 200, errors_of(response)
    assert preview_body(response)["context"]["protocols"] == {"event_version": 2}


def test_a_version_the_plan_does_not_have_is_refused_next_to_the_field(
    marketer_client: Client, source: Source
):
    connect(source)
    response = marketer_client.post("/calls/track/", order(source, event_version="7"))
    assert response.status_code == 422
    assert errors_of(response)["event_version"] == [
        "Choose one of the event's versions offered here."
    ]


def test_a_version_posted_for_an_event_without_versions_is_ignored(
    marketer_client: Client, source: Source
):
    connect(source)
    response = marketer_client.post(
        "/calls/track/", order(source, event="Signed Up", event_version="2", properties={})
    )
    assert response.status_code == 200, errors_of(response)
    assert "protocols" not in preview_body(response)["context"]


def test_the_editor_draws_the_chosen_versions_rows_and_the_event_brings_its_versions(
    marketer_client: Client, source: Source
):
    connect(source)
    url = "/calls/plan/track/editor/"
    common = {"source": source.pk, "event": "Order Completed"}
    first = marketer_client.get(url, {**common, "changed": "version"}).content.decode()
    second = marketer_client.get(
        url, {**common, "event_version": "2", "changed": "version"}
    ).content.decode()
    assert 'data-planned="currency"' not in first
    assert 'data-planned="currency"' in second
    assert 'id="event-version"' not in second  # the select asking is left alone

    html = marketer_client.get(url, {**common, "changed": "event"}).content.decode()
    assert re.search(r'<div id="event-version" hx-swap-oob="true">', html)
    assert options(version_select(html))[1:] == [("1", "Version 1"), ("2", "Version 2")]
    html = marketer_client.get(
        url, {"source": source.pk, "event": "Signed Up", "changed": "event"}
    ).content.decode()
    assert '<div id="event-version" hx-swap-oob="true"></div>' in html


def test_the_version_select_asks_for_the_redraw(marketer_client: Client, source: Source):
    connect(source)
    html = marketer_client.post("/calls/track/", order(source)).content.decode()
    select = version_select(html)
    assert 'hx-get="/calls/plan/track/editor/"' in select
    assert 'hx-include="#id_properties, [name=source], [name=event]"' in select
