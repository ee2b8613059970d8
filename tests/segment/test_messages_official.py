"""Our messages, field by field, against what segment-analytics-python builds for the same input."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import responses
from segment.analytics import Client as OfficialClient
from segment.analytics.request import DatetimeSerializer

import segadmin
from segadmin.segment import client, messages

WHEN = datetime(2024, 5, 1, 9, 30, 12, 345678, tzinfo=timezone(timedelta(hours=2)))
MESSAGE_ID = "6f1b6a8e-2c1d-4c55-9a35-2f0a3f0c9d10"
COMMON = {
    "user_id": "019mr8mf4r",
    "anonymous_id": "anon-1",
    "timestamp": WHEN,
    "context": {"ip": "24.5.68.47", "locale": "en-GB"},
    "integrations": {"All": False, "Mixpanel": True},
    "message_id": MESSAGE_ID,
}
CASES = {
    "identify": {"traits": {"email": "ada@example.com", "plan": "pro", "logins": 3}},
    "track": {"event": "Item Purchased", "properties": {"revenue": 14.99, "currency": "USD"}},
    "page": {"name": "Pricing", "category": "Docs", "properties": {"url": "https://x.test/p"}},
    "screen": {"name": "Home", "category": "Main", "properties": {"variant": "b"}},
    "group": {"group_id": "acme", "traits": {"name": "Acme", "employees": "100"}},
    "alias": {"previous_id": "anon-1"},
}


def official(call_type: str, **kwargs):
    library = OfficialClient("WRITE_KEY", send=False)
    if call_type == "alias":
        kwargs.pop("anonymous_id", None)
    _, message = getattr(library, call_type)(**kwargs)
    return message


def ours(call_type: str, **kwargs):
    if call_type == "alias":
        kwargs.pop("anonymous_id", None)
    return messages.build_message(call_type, **kwargs)


def comparable(message: dict) -> dict:
    """The message without the library name (a deliberate difference) and null keys."""
    result = json.loads(json.dumps(message))
    result["context"].pop("library")
    return {key: value for key, value in result.items() if value is not None}


@pytest.mark.parametrize("call_type", list(CASES))
def test_each_call_type_matches_the_official_library_field_by_field(call_type):
    kwargs = {**COMMON, **CASES[call_type]}
    theirs = official(call_type, **kwargs)
    mine = ours(call_type, **kwargs)

    assert comparable(mine) == comparable(theirs)
    assert set(mine) == {key for key, value in theirs.items() if value is not None}
    messages.validate_message(mine)


@pytest.mark.parametrize("call_type", ["identify", "track", "page", "screen", "group"])
def test_defaults_match_the_official_library_when_only_an_id_is_given(call_type):
    kwargs = {"user_id": "u1", **({"event": "Signed Up"} if call_type == "track" else {})}
    if call_type == "group":
        kwargs["group_id"] = "g1"
    theirs = official(call_type, **kwargs)
    mine = ours(call_type, **kwargs)

    for key in ("type", "userId", "integrations", "traits", "properties", "event", "groupId"):
        assert mine.get(key) == theirs.get(key), key
    assert isinstance(mine["messageId"], str) and len(mine["messageId"]) == 36


def test_numeric_ids_and_python_values_are_converted_like_the_official_library():
    kwargs = {
        "user_id": 42,
        "traits": {"balance": Decimal("10.5"), "tags": ("a", "b"), "seen": WHEN},
        "timestamp": WHEN,
        "message_id": MESSAGE_ID,
    }
    theirs = json.loads(json.dumps(official("identify", **kwargs), cls=DatetimeSerializer))
    mine = ours("identify", **kwargs)

    assert mine["userId"] == theirs["userId"] == "42"
    assert mine["traits"]["balance"] == theirs["traits"]["balance"] == 10.5
    assert mine["traits"]["tags"] == theirs["traits"]["tags"] == ["a", "b"]
    assert mine["traits"]["seen"] == theirs["traits"]["seen"] == WHEN.isoformat()


def test_the_timestamp_is_written_like_the_official_library_with_milliseconds_and_offset():
    mine = ours("track", user_id="u", event="E", timestamp=WHEN)
    theirs = official("track", user_id="u", event="E", timestamp=WHEN)

    assert mine["timestamp"] == theirs["timestamp"] == "2024-05-01T09:30:12.345+02:00"
    assert ours("track", user_id="u", event="E", timestamp="2024-05-01T07:30:12Z")["timestamp"] == (
        "2024-05-01T07:30:12.000+00:00"
    )


@responses.activate
def test_the_batch_request_has_the_official_librarys_headers_and_envelope():
    responses.post("https://api.segment.io/v1/batch", json={"success": True})
    library = OfficialClient("WRITE_KEY", sync_mode=True, host="https://api.segment.io")
    library.track(user_id="u1", event="E", message_id=MESSAGE_ID, timestamp=WHEN)
    theirs = responses.calls[0].request
    their_body = json.loads(theirs.body)

    message = ours("track", user_id="u1", event="E", message_id=MESSAGE_ID, timestamp=WHEN)
    request = client.batch_request([message], write_key="WRITE_KEY", region="us")
    my_body = json.loads(request.body)

    assert request.url == theirs.url
    assert request.headers["Authorization"] == theirs.headers["Authorization"]
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"WRITE_KEY:").decode()
    assert request.headers["Content-Type"] == theirs.headers["Content-Type"]
    assert set(my_body) == set(their_body) == {"batch", "sentAt", "writeKey"}
    assert my_body["writeKey"] == their_body["writeKey"]
    assert comparable(my_body["batch"][0]) == comparable(their_body["batch"][0])
    assert datetime.fromisoformat(my_body["sentAt"]).tzinfo is not None


def test_single_calls_carry_sent_at_and_write_key_at_the_top_level():
    sent_at = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    message = ours("identify", user_id="u1")
    request = client.tracking_request(message, write_key="WK", region="us", sent_at=sent_at)
    body = json.loads(request.body)

    assert request.url == "https://api.segment.io/v1/identify"
    assert body["sentAt"] == "2024-05-01T08:00:00+00:00"
    assert body["writeKey"] == "WK"
    assert {k: v for k, v in body.items() if k not in ("sentAt", "writeKey")} == message


def test_deliberate_differences_from_the_official_library_and_why():
    """Each difference, with the reason it is on purpose."""
    theirs = official("page", user_id="u1", timestamp=None)
    mine = ours("page", user_id="u1", timestamp=None)

    # 1. context.library names segadmin: Segment's debugger shows who really sent the call.
    assert mine["context"]["library"] == {"name": "segadmin", "version": segadmin.__version__}
    assert theirs["context"]["library"]["name"] == "analytics-python"

    # 2. Unset ids, name and category are left out, not sent as null: a null id sitting
    #    next to a real one reads, in the audit log, as if someone had cleared it.
    assert theirs["anonymousId"] is None and theirs["name"] is None
    assert "anonymousId" not in mine and "name" not in mine and "category" not in mine

    # 3. No timestamp given means none is sent ("now" is Segment's receipt time, corrected
    #    by sentAt), instead of the library's client clock.
    assert "timestamp" in theirs and "timestamp" not in mine

    # 4. A naive datetime is not guessed into a timezone (the library assumes local time or
    #    UTC); it stays naive and validation refuses it.
    naive = datetime(2024, 5, 1, 9, 30)
    assert official("track", user_id="u", event="E", timestamp=naive)["timestamp"].endswith(
        "+00:00"
    )
    with pytest.raises(messages.MessageInvalid) as refused:
        messages.validate_message(ours("track", user_id="u", event="E", timestamp=naive))
    assert refused.value.codes() == ["timestamp_naive"]

    # 5. A value JSON cannot carry is not dropped with a log warning: validation names it.
    odd = {"when": object()}
    assert "when" not in official("identify", user_id="u", traits=odd)["traits"]
    with pytest.raises(messages.MessageInvalid) as refused:
        messages.validate_message(ours("identify", user_id="u", traits=odd))
    assert refused.value.codes() == ["not_json"]

    # 6. Single calls go to /v1/<type> (the library always posts a one-item /v1/batch), so
    #    the audit log shows the call Segment documents for it.
    request = client.tracking_request(mine, write_key="WK", region="us")
    assert request.url.endswith("/v1/page")

    # 7. The size limit is 32,000 bytes, not the library's 32,768: segment-api.md picks the
    #    strictest published figure.
    assert messages.MAX_MESSAGE_BYTES == 32_000
