"""Send and Preview of a valid form answer htmx with the result panel alone (swapped into
#call-panel, with the generated message ID and the warnings above Send out of band), and a
plain post with the whole page: both carry the same result."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from segadmin.credentials.models import Source
from tests.calls.conftest import WRITE_KEY, form_data, rows_data
from tests.factories import login

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
MESSAGE_ID = "0b6e0f4e-8a3c-4f6e-9d53-2c1d0c9a7f11"


def panel_of(partial: str) -> str:
    """The panel of a panel answer: what comes before its out-of-band parts."""
    panel = partial.split('<input type="hidden" name="generated_message_id"', 1)[0]
    return panel.split('<div id="call-warnings"', 1)[0].strip()


def same(html: str) -> str:
    """What differs from one request to the next blanked: times, entry numbers, durations."""
    html = re.sub(r"\d{4}-\d\d-\d\dT[0-9:.]+(\+00:00|Z)", "TIME", html)
    html = re.sub(r'data-ms="[0-9.]+"', 'data-ms=""', html)
    html = re.sub(r">\d+ ms<", "> ms<", html)
    return re.sub(r"#\d+|/audit/\d+/", "#", html)


def shows_the_same(partial: str, page: str) -> bool:
    panel = panel_of(partial)
    assert len(panel) > 500  # a whole panel, not a fragment
    return same(panel) in same(page)


def track(source: Source, action: str) -> dict[str, Any]:
    return form_data(
        source,
        user_id="u1",
        event="Order Completed",
        action=action,
        generated_message_id=MESSAGE_ID,
        **rows_data("properties", reserved={"revenue": ("number", "19.99")}),
    )


def test_a_preview_answers_htmx_with_the_panel_and_the_page_with_the_same_panel(
    marketer_client: Client, source: Source
) -> None:
    partial = marketer_client.post("/calls/track/", track(source, "preview"), **HTMX)
    page = marketer_client.post("/calls/track/", track(source, "preview"))
    assert partial.status_code == page.status_code == 200
    assert partial["HX-Retarget"] == "#call-panel"
    assert partial["HX-Reswap"] == "innerHTML"
    html = partial.content.decode()
    assert "<form" not in html  # the form is not drawn again
    assert 'data-testid="preview"' in html
    # What the preview changed in the form comes out of band.
    assert re.search(
        rf'<input type="hidden" name="generated_message_id" id="generated-message-id" '
        rf'value="{MESSAGE_ID}" hx-swap-oob="true">',
        html,
    )
    assert '<div id="call-warnings" hx-swap-oob="true">' in html
    assert "<form" in page.content.decode()
    assert shows_the_same(html, page.content.decode())


def test_a_send_answers_htmx_with_the_panel_and_the_page_with_the_same_result(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    partial = marketer_client.post("/calls/track/", track(source, "send"), **HTMX)
    page = marketer_client.post("/calls/track/", track(source, "send"))
    assert partial.status_code == page.status_code == 200
    assert partial["HX-Retarget"] == "#call-panel"
    html = partial.content.decode()
    assert "<form" not in html
    assert "Sent: Segment accepted the request." in html
    # A send clears the generated ID: the next send gets a new one.
    assert 'id="generated-message-id" value="" hx-swap-oob="true"' in html
    assert shows_the_same(html, page.content.decode())
    assert len(fake_segment.requests) == 2  # both sent (the fake keeps one of a messageId)


def test_warnings_above_send_come_out_of_band(marketer_client: Client, source: Source) -> None:
    data = form_data(source, user_id="u1", action="preview", traits={"email": "not an email"})
    html = marketer_client.post("/calls/identify/", data, **HTMX).content.decode()
    assert 'data-testid="preview"' in html
    warnings = html.split('<div id="call-warnings" hx-swap-oob="true">', 1)[1]
    assert 'data-testid="rule-warnings"' in warnings


def test_a_form_showing_errors_is_drawn_again_without_them(
    marketer_client: Client, source: Source
) -> None:
    data = {**track(source, "preview"), "shown_errors": "1"}
    response = marketer_client.post("/calls/track/", data, **HTMX)
    assert "HX-Retarget" not in response
    html = response.content.decode()
    assert "<form" in html and 'data-testid="preview"' in html
    assert "data-error-summary" not in html
    assert 'name="shown_errors"' not in html


def test_a_refused_form_is_drawn_again_with_its_errors_and_the_marker(
    marketer_client: Client, source: Source
) -> None:
    data = form_data(source, user_id="u1", event="", action="send")
    response = marketer_client.post("/calls/track/", data, **HTMX)
    assert "HX-Retarget" not in response
    html = response.content.decode()
    assert "<form" in html and "data-error-summary" in html
    assert '<input type="hidden" name="shown_errors" value="1">' in html


def test_make_an_api_call_preview_answers_htmx_with_the_panel(
    admin_user: User, source: Source
) -> None:
    client = login(admin_user)
    data = {
        "api": "tracking",
        "source": str(source.pk),
        "method": "POST",
        "url": "/v1/track",
        "body": '{"userId": "u1", "event": "Signed Up"}',
        "action": "preview",
    }
    partial = client.post("/calls/api/", data, **HTMX)
    page = client.post("/calls/api/", data)
    assert partial["HX-Retarget"] == "#call-panel"
    html = partial.content.decode()
    assert "<form" not in html and 'data-testid="preview"' in html
    assert shows_the_same(html, page.content.decode())
