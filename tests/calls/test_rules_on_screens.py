"""The rules module's findings on the screens: errors next to their field or row, warnings
above Send (never blocking), Make an API call warned but sent, and Send again / Edit and send
of what it sent refused in the same words."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from segadmin.calls import editors
from segadmin.credentials.models import Source
from tests.audit.entries import add_call
from tests.calls.conftest import WRITE_KEY, editor_data, errors_of, form_data, rows_data

pytestmark = pytest.mark.django_db

REVENUE = "Revenue must be a number, like 19.99 (not text or true/false)."
CURRENCY = "Currency “XYZ” is not an ISO 4217 code such as USD, EUR or GBP."
ORDERED_AT = "“2026-02-30T10:00:00Z” is not on the calendar: February 2026 has 28 days."
BAD_TRACK = {
    "userId": "u-9",
    "event": "Order Completed",
    "properties": {"revenue": "lots", "currency": "XYZ", "ordered_at": "2026-02-30T10:00:00Z"},
}


def test_errors_in_rows_mode_sit_under_the_row_their_path_names(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    data = form_data(
        source,
        user_id="u1",
        event="Order Completed",
        action="send",
        **rows_data(
            "properties",
            reserved={"currency": ("text", "XYZ")},
            custom=[("ordered_at", "text", "2026-02-30T10:00:00Z"), ("items", "number", "2")],
        ),
    )
    response = marketer_client.post("/calls/track/", data)
    assert response.status_code == 422
    assert errors_of(response) == {
        "properties": ["2 property rows need fixing: see the message under each."]
    }
    html = response.content.decode()
    for sentence in (CURRENCY, ORDERED_AT):
        assert re.search(
            r'class="[^"]*invalid-feedback[^"]*"[^>]*>\s*' + re.escape(escape(sentence)), html
        ), sentence
    assert fake_segment.requests == []


def test_two_problems_inside_one_row_are_both_shown_under_it(
    marketer_client: Client, source: Source
) -> None:
    data = form_data(
        source,
        user_id="u1",
        event="Order Completed",
        **rows_data("properties", custom=[("dates", "list", '["2024-13-45", "2024-02-30"]')]),
    )
    response = marketer_client.post("/calls/track/", data)
    assert response.status_code == 422
    assert errors_of(response) == {
        "properties": ["1 property row needs fixing: see the message under each."]
    }
    html = response.content.decode()
    assert (
        escape(
            "“2024-13-45” is not on the calendar: there is no month 13. "
            "“2024-02-30” is not on the calendar: February 2024 has 29 days."
        )
        in html
    )


def test_a_warning_is_shown_above_send_and_the_call_is_still_sent(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    data = form_data(source, user_id="u1", traits={"email": "ann@"}, action="send")
    response = marketer_client.post("/calls/identify/", data)
    assert response.status_code == 200, errors_of(response)
    html = response.content.decode()
    assert 'data-testid="rule-warnings"' in html
    assert escape("“ann@” does not look like an email address: check it before sending.") in html
    assert html.index('data-testid="rule-warnings"') < html.index('value="send"')
    (message,) = fake_segment.messages("/v1/identify")
    assert message["traits"] == {"email": "ann@"}


def test_make_an_api_call_shows_the_rules_findings_as_warnings_and_still_sends(
    admin_client: Client, source: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    data = {
        "api": "tracking",
        "source": str(source.pk),
        "method": "POST",
        "url": "/v1/track",
        "body": json.dumps(BAD_TRACK),
        "headers__mode": "rows",
        "query__mode": "rows",
        "action": "send",
    }
    response = admin_client.post("/calls/api/", data)
    assert response.status_code == 200, errors_of(response)
    html = response.content.decode()
    assert 'data-testid="rule-warnings"' in html
    for sentence in (REVENUE, CURRENCY, ORDERED_AT):
        assert escape(sentence) in html
    (received,) = fake_segment.messages("/v1/track")  # sent anyway: this screen is raw
    assert received["properties"] == BAD_TRACK["properties"]


def test_a_message_sent_before_these_rules_is_refused_by_send_again_and_edit_and_send(
    admin_client: Client, admin_user: Any, source: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    entry = add_call(
        user=admin_user,
        source=source,
        user_id=BAD_TRACK["userId"],
        properties=BAD_TRACK["properties"],
    )

    # Send again goes through the rules: refused, in the same words, nothing more sent.
    response = admin_client.post(reverse("audit:send_again", args=[entry.pk]), follow=True)
    html = response.content.decode()
    assert "Not sent again: the stored message is not valid." in html
    for sentence in (REVENUE, CURRENCY, ORDERED_AT):
        assert escape(sentence) in html
    assert fake_segment.messages("/v1/track") == []

    # Edit and send opens Track filled in; sent as filled in, it is refused next to Properties.
    url = admin_client.get(reverse("audit:edit_and_send", args=[entry.pk]))["Location"]
    screen = admin_client.get(url)
    form = screen.context["form"]
    token = re.search(r'name="draft" value="([^"]+)"', screen.content.decode()).group(1)
    state = editors.state_for(form.fields["properties"].spec, form.initial["properties"])
    response = admin_client.post(
        reverse("calls:track"),
        {
            "action": "send",
            "draft": token,
            "source": source.pk,
            "user_id": form.initial["user_id"],
            "event": form.initial["event"],
            **editor_data("properties", state),
        },
    )
    assert response.status_code == 422
    # Opened from a message, the properties are in JSON mode: each sentence names its key.
    assert sorted(errors_of(response)["properties"]) == sorted(
        [f"revenue: {REVENUE}", f"currency: {CURRENCY}", f"ordered_at: {ORDERED_AT}"]
    )
    assert fake_segment.messages("/v1/track") == []


def test_errors_in_json_mode_name_the_trait_or_property_they_are_about(
    support_client: Client, marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    # In JSON mode there is no row to put the sentence under: the sentence alone ("… is not
    # on the calendar") would not say which of the object's keys is wrong.
    traits = {"plan": "pro", "createdAt": "2026-02-30T10:00:00Z", "renewsAt": "2026-03-01"}
    response = support_client.post(
        "/calls/identify/", form_data(source, user_id="u1", action="send", traits=traits)
    )
    assert response.status_code == 422
    assert errors_of(response) == {"traits": [f"createdAt: {ORDERED_AT}"]}

    response = marketer_client.post(
        "/calls/track/",
        form_data(
            source, user_id="u1", event="Order Completed", properties=BAD_TRACK["properties"]
        ),
    )
    assert response.status_code == 422
    assert sorted(errors_of(response)["properties"]) == sorted(
        [f"revenue: {REVENUE}", f"currency: {CURRENCY}", f"ordered_at: {ORDERED_AT}"]
    )
    assert fake_segment.requests == []
