"""The pickers' server side: what the page marks for static/js/pickers.js to enhance, the
form still working without it (the zone posted is the one the server lists)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from segadmin.credentials.models import Source
from tests.calls.conftest import form_data, rows_data
from tests.calls.test_planned_forms import element

pytestmark = pytest.mark.django_db


def zone_select(html: str) -> str:
    return element(html, 'name="timestamp_1"')[:400]


def test_a_new_form_asks_for_the_browsers_zone_and_a_posted_one_keeps_its_own(
    marketer_client: Client, source: Source
) -> None:
    html = marketer_client.get("/calls/track/").content.decode()
    assert "data-zone-picker data-preset-browser-zone" in zone_select(html)
    assert re.search(r'<option value="UTC" selected>UTC</option>', html)  # without JavaScript

    data = form_data(source, user_id="u", event="E", timestamp_0="", timestamp_1="Asia/Tokyo")
    html = marketer_client.post("/calls/track/", data).content.decode()
    assert "data-zone-picker" in zone_select(html)
    assert "data-preset-browser-zone" not in zone_select(html)
    assert '<option value="Asia/Tokyo" selected>' in html


def test_date_time_rows_currency_and_birthday_are_marked_for_their_pickers(
    marketer_client: Client,
) -> None:
    identify = marketer_client.get("/calls/identify/").content.decode()
    birthday = element(identify, 'data-kv-key="birthday"')
    assert "data-kv-date-only" in birthday
    value = element(birthday, 'name="traits__value"')
    assert 'type="text"' in value and 'placeholder="1990-05-04"' in value  # a date, as text
    assert "data-kv-date-only" not in element(identify, 'data-kv-key="createdAt"')
    track = marketer_client.get("/calls/track/").content.decode()
    currency = element(element(track, 'data-kv-key="currency"'), 'name="properties__value"')
    assert currency.startswith("<select") and 'data-searchable-select="currency"' in currency


def test_a_date_time_typed_with_its_zone_is_sent_as_typed(
    marketer_client: Client, source: Source
) -> None:
    # What the picker writes into the row ("…+09:00") is what the rules read and the preview shows.
    data = form_data(
        source,
        user_id="u",
        **rows_data("traits", reserved={"createdAt": ("datetime", "2024-05-01T09:30:00+09:00")}),
    )
    response = marketer_client.post("/calls/identify/", data)
    assert response.status_code == 200
    assert response.context["form"].message["traits"] == {"createdAt": "2024-05-01T09:30:00+09:00"}
