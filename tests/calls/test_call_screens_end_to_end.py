"""Each call screen against the local fake of Segment, over real loopback HTTP.

What the preview shows is what the fake receives, byte for byte in meaning and in types; what
Segment would drop is refused on the form, and then the fake receives nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from segadmin.audit.models import AuditEntry
from segadmin.credentials.models import Source
from tests.calls.conftest import WRITE_KEY, errors_of, form_data, preview_body, rows_data

pytestmark = pytest.mark.django_db

# Keys the request adds at send time: the clock and the credential (masked in the preview).
SEND_TIME_KEYS = {"sentAt", "writeKey"}


def without(body: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def preview_then_send(client: Client, url: str, data: dict[str, Any]) -> tuple[dict, Any]:
    """Preview, then press Send on the same form, as a person does. Returns (preview, send)."""
    preview = client.post(url, data)
    assert preview.status_code == 200, errors_of(preview)
    shown = preview_body(preview)
    sent = client.post(
        url,
        {
            **data,
            "action": "send",
            "generated_message_id": preview.context["generated_message_id"],
        },
    )
    assert sent.status_code == 200
    return shown, sent


CASES: dict[str, dict[str, Any]] = {
    "identify": {
        "user_id": "u-1001",
        "timestamp_0": "2024-05-01T09:30:15",
        "timestamp_1": "Europe/Paris",
        **rows_data(
            "traits",
            reserved={
                "email": ("text", "ada@example.com"),
                "age": ("number", "36"),
                "phone": ("null", ""),
                "address.city": ("text", "Paris"),
                "company.employee_count": ("number", "420"),
            },
            custom=[
                ("plan", "text", "pro"),
                ("seats", "number", "12"),
                ("score", "number", "4.5"),
                ("vip", "boolean", "true"),
                ("nickname", "null", ""),
                ("renewal", "datetime", "2025-01-31T10:00:00+01:00"),
                ("tags", "list", '["beta", 2]'),
                ("prefs", "object", '{"theme": {"dark": false}}'),
            ],
        ),
        "context": {"ip": "203.0.113.9", "locale": "fr-FR"},
        "integrations": {"All": True, "Mixpanel": False},
    },
    "track": {
        "user_id": "u-1001",
        "event": "Order Completed",
        **rows_data(
            "properties",
            reserved={"revenue": ("number", "19.99"), "currency": ("text", "EUR")},
            custom=[("items", "number", "2"), ("coupon", "null", "")],
        ),
    },
    "page": {
        "anonymous_id": "9c6f2f0e-0d3b-4a8e-9a59-0e8b7e1c2d3f",
        "name": "Pricing",
        "category": "Marketing",
        **rows_data(
            "properties",
            reserved={
                "url": ("text", "https://example.com/pricing"),
                "keywords": ("list", '["plans", "price"]'),
            },
        ),
    },
    "screen": {
        "user_id": "u-1001",
        "name": "Settings",
        "properties": {"name": "Settings", "tab": 3},
    },
    "group": {
        "user_id": "u-1001",
        "group_id": "acme-42",
        "traits": {"name": "Acme", "employees": "420", "plan": "enterprise"},
    },
    "alias": {"user_id": "u-1001", "previous_id": "9c6f2f0e-0d3b-4a8e-9a59-0e8b7e1c2d3f"},
}

EXPECTED_KEYS: dict[str, dict[str, Any]] = {
    "identify": {
        "userId": "u-1001",
        "timestamp": "2024-05-01T09:30:15.000+02:00",
        "traits": {
            "email": "ada@example.com",
            "age": 36,
            "phone": None,
            "address": {"city": "Paris"},
            "company": {"employee_count": 420},
            "plan": "pro",
            "seats": 12,
            "score": 4.5,
            "vip": True,
            "nickname": None,
            "renewal": "2025-01-31T10:00:00+01:00",
            "tags": ["beta", 2],
            "prefs": {"theme": {"dark": False}},
        },
        "integrations": {"All": True, "Mixpanel": False},
    },
    "track": {
        "event": "Order Completed",
        "properties": {"revenue": 19.99, "currency": "EUR", "items": 2, "coupon": None},
    },
    "page": {
        "name": "Pricing",
        "category": "Marketing",
        "properties": {"url": "https://example.com/pricing", "keywords": ["plans", "price"]},
    },
    "screen": {"name": "Settings", "properties": {"name": "Settings", "tab": 3}},
    "group": {
        "groupId": "acme-42",
        "traits": {"name": "Acme", "employees": "420", "plan": "enterprise"},
    },
    "alias": {"userId": "u-1001", "previousId": "9c6f2f0e-0d3b-4a8e-9a59-0e8b7e1c2d3f"},
}


@pytest.mark.parametrize("call_type", list(CASES))
def test_the_fake_receives_exactly_what_the_preview_showed(
    call_type: str, admin_client: Client, source: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    shown, sent = preview_then_send(
        admin_client, f"/calls/{call_type}/", form_data(source, **CASES[call_type])
    )

    assert len(fake_segment.requests) == 1
    request = fake_segment.requests[0]
    assert request.path == f"/v1/{call_type}"
    received = json.loads(request.body)
    assert without(received, SEND_TIME_KEYS) == without(shown, SEND_TIME_KEYS)
    assert received["writeKey"] == WRITE_KEY  # the real key went out; the preview masked it
    assert shown["writeKey"] == "****"
    for key, value in EXPECTED_KEYS[call_type].items():
        assert received[key] == value, key
    assert [m["messageId"] for m in fake_segment.messages()] == [shown["messageId"]]

    html = sent.content.decode()
    assert "Sent: Segment accepted the request." in html
    assert "delivered" not in html.lower()
    entry = AuditEntry.objects.get(pk=sent.context["panel"]["entry_id"])
    assert f"#{entry.pk}" in html
    assert sent.context["panel"]["status"] == 200
    assert sent.context["panel"]["attempts"] == 1


def test_types_survive_to_segment_when_traits_are_typed_as_json(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    traits = {"n": 1, "f": 1.5, "b": False, "z": None, "l": [1, "1"], "o": {"deep": {"x": [True]}}}
    preview_then_send(
        marketer_client, "/calls/identify/", form_data(source, user_id="u", traits=traits)
    )
    assert fake_segment.messages()[0]["traits"] == traits


def test_a_second_send_of_the_same_form_gets_a_new_message_id(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    data = {**form_data(source, user_id="u-1"), "action": "send"}
    first = marketer_client.post("/calls/identify/", data)
    second = marketer_client.post(
        "/calls/identify/",
        {**data, "generated_message_id": first.context["generated_message_id"]},
    )
    assert second.status_code == 200
    ids = [m["messageId"] for m in fake_segment.messages()]
    assert len(ids) == 2
    assert ids[0] != ids[1]


def test_revenue_without_a_currency_is_sent_in_usd(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    data = form_data(
        source,
        user_id="u",
        event="Order Completed",
        **rows_data("properties", reserved={"revenue": ("number", "5")}),
    )
    shown, _ = preview_then_send(marketer_client, "/calls/track/", data)
    assert shown["properties"] == {"revenue": 5, "currency": "USD"}
    assert fake_segment.messages()[0]["properties"] == {"revenue": 5, "currency": "USD"}


# --- Refused input: the error, next to its field, and nothing sent --------------------------

BIG = "x" * 33_000

INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    ("identify", {}, "user_id", "Add a User ID or an Anonymous ID."),
    (
        "identify",
        {"user_id": "u", "timestamp_0": "2024-05-01T09:30"},
        "timestamp",
        "Choose the timezone of this time: without one Segment would have to guess.",
    ),
    (
        "identify",
        {"user_id": "u", "timestamp_0": "1st of May", "timestamp_1": "UTC"},
        "timestamp",
        "Enter the date and time as 2024-05-01T09:30 (seconds optional).",
    ),
    (
        "identify",
        {"user_id": "u", "timestamp_0": "2024-03-31T02:30", "timestamp_1": "Europe/Paris"},
        "timestamp",
        "This time does not exist in Europe/Paris: the clocks jump forward then.",
    ),
    (
        "track",
        {
            "user_id": "u",
            "event": "Order Completed",
            **rows_data("properties", reserved={"revenue": ("number", "19,99 €")}),
        },
        "properties",
        "1 property row needs fixing: see the message under each.",
    ),
    (
        "track",
        {"user_id": "u", "event": "Order Completed", "properties": {"revenue": "lots"}},
        "properties",
        "Revenue must be a number, like 19.99 (not text or true/false).",
    ),
    (
        "track",
        {
            "user_id": "u",
            "event": "Order Completed",
            "properties": {"revenue": 5, "currency": "EURO"},
        },
        "properties",
        "Currency “EURO” is not an ISO 4217 code such as USD, EUR or GBP.",
    ),
    ("track", {"user_id": "u"}, "event", "Add an Event Name."),
    (
        "identify",
        {"user_id": "u", **rows_data("traits", custom=[("age", "text", "ten")])},
        "traits",
        "1 trait row needs fixing: see the message under each.",
    ),
    (
        "identify",
        {"user_id": "u", "traits__mode": "json", "traits__json": '{\n  "plan": \n}'},
        "traits",
        "Traits (JSON) is not valid JSON: Expecting value at line 3, column 1.",
    ),
    (
        "identify",
        {"user_id": "u", "traits": {"notes": BIG}},
        "__all__",
        "This call is 33,",
    ),
    ("group", {"user_id": "u"}, "group_id", "Add a Group ID."),
    ("alias", {"user_id": "u"}, "previous_id", "Add the Previous ID to alias from."),
    ("alias", {"previous_id": "p"}, "user_id", "Add the User ID to alias to."),
    ("page", {"user_id": "u", "message_id": "m" * 101}, "message_id", "Ensure this value"),
]


@pytest.mark.parametrize(("call_type", "fields", "field", "message"), INVALID)
@pytest.mark.parametrize("action", ["preview", "send"])
def test_invalid_input_is_refused_next_to_its_field_and_nothing_is_sent(
    call_type: str,
    fields: dict[str, Any],
    field: str,
    message: str,
    action: str,
    marketer_client: Client,
    source: Source,
    fake_segment: Any,
) -> None:
    data = {**form_data(source, **fields), "action": action}
    response = marketer_client.post(f"/calls/{call_type}/", data)
    assert response.status_code == 422
    errors = errors_of(response)
    assert any(message in e for e in errors.get(field, [])), errors
    assert "Nothing was sent" in response.content.decode()
    assert fake_segment.requests == []
    assert not AuditEntry.objects.exists()


def test_the_form_keeps_everything_typed_after_an_error(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    data = form_data(
        source,
        user_id="u-77",
        anonymous_id="anon-1",
        timestamp_0="2024-05-01T09:30",
        timestamp_1="Asia/Tokyo",
        **rows_data(
            "traits",
            reserved={"email": ("text", "kept@example.com")},
            custom=[("seats", "number", "many"), ("plan", "text", "gold")],
        ),
    )
    response = marketer_client.post("/calls/identify/", data)
    assert response.status_code == 422
    html = response.content.decode()
    for kept in ("u-77", "anon-1", "2024-05-01T09:30", "kept@example.com", "many", "gold"):
        assert f'value="{kept}"' in html, kept
    assert '<option value="Asia/Tokyo" selected>' in html
    assert f'<option value="{source.pk}" selected>' in html
    assert "“many” is not a number, like 42 or 19.99." in html
    assert fake_segment.requests == []


HUGE_NUMBER = "1" * 5000  # more digits than Python reads as an int (4,300)


@pytest.mark.parametrize("mode", ["rows", "json"])
def test_a_number_with_more_digits_than_python_reads_is_refused_not_an_error(
    mode: str, marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    if mode == "rows":
        traits = rows_data("traits", custom=[("seats", "number", HUGE_NUMBER)])
        expected = "is too large a number."
    else:
        traits = {"traits__mode": "json", "traits__json": '{"seats": ' + HUGE_NUMBER + "}"}
        expected = "Traits (JSON) holds a number too large to read: more than 4,300 digits."
    data = {**form_data(source, user_id="u-1"), **traits, "action": "send"}
    response = marketer_client.post("/calls/identify/", data)
    assert response.status_code == 422
    assert expected in response.content.decode()
    assert fake_segment.requests == []
    assert not AuditEntry.objects.exists()
