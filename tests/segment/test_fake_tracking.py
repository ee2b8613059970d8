"""The client against the fake's Tracking API over real loopback HTTP."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests

from segadmin.segment import client
from segadmin.segment.fake import page, tracking
from segadmin.segment.messages import (
    MAX_BATCH_BYTES,
    MAX_BATCH_ITEMS,
    build_message,
    split_into_batches,
    validate_batch,
    validate_message,
)

KEY = "fakeWriteKey0000000000000000001"
QUICK = dataclasses.replace(client.BACKGROUND, backoff_first=0.001, backoff_max=0.002)
CALLS = {
    "identify": {"traits": {"email": "ada@example.com"}},
    "track": {"event": "Order Completed", "properties": {"revenue": 9.5}},
    "page": {"name": "Pricing", "properties": {"path": "/pricing"}},
    "screen": {"name": "Home"},
    "group": {"group_id": "acme", "traits": {"plan": "pro"}},
    "alias": {"previous_id": "anon-9"},
}


@pytest.fixture
def fake(fake_segment):
    fake_segment.add_write_key(KEY, "src_1")
    return fake_segment


def raw_post(fake, path: str, body, *, key: str | None = KEY, headers=None) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if key is not None:
        all_headers["Authorization"] = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    return requests.post(fake.url + path, data=data, headers=all_headers, timeout=5)


@pytest.mark.parametrize("call_type", list(CALLS))
def test_each_call_type_is_accepted_and_stored_enriched(fake, call_type):
    message = build_message(call_type, user_id="u1", **CALLS[call_type])
    validate_message(message)
    result = client.send(client.tracking_request(message, write_key=KEY, region="us"))

    assert (result.status, result.json(), result.attempts) == (200, {"success": True}, 1)
    (entry,) = fake.received(f"/v1/{call_type}")
    stored = entry["message"]
    assert entry["status"] == "accepted" and entry["source_id"] == "src_1"
    assert stored["type"] == call_type and stored["messageId"] == message["messageId"]
    assert stored["receivedAt"] and stored["originalTimestamp"] and stored["timestamp"]
    assert "writeKey" not in stored and entry["dropped_keys"] == []
    request = fake.requests[-1]
    assert request.headers["Authorization"].startswith("Basic ")
    assert request.headers["User-Agent"].startswith("segadmin/")


def test_the_fake_corrects_the_timestamp_for_client_clock_skew(fake):
    happened = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    # The client's clock runs an hour ahead: it says the event was sent at 11:00.
    message = build_message("track", user_id="u", event="E", timestamp=happened)
    sent_at = happened + timedelta(hours=2)
    client.send(client.tracking_request(message, write_key=KEY, region="us", sent_at=sent_at))
    stored = fake.messages()[0]
    received = datetime.fromisoformat(stored["receivedAt"])
    corrected = datetime.fromisoformat(stored["timestamp"])
    assert stored["originalTimestamp"] == message["timestamp"]
    assert abs((received - corrected) - timedelta(hours=2)) < timedelta(seconds=1)


def test_a_gzipped_batch_is_accepted(fake):
    batch = [build_message("track", user_id=f"u{i}", event="E") for i in range(50)]
    result = client.send(client.batch_request(batch, write_key=KEY, region="us", gzip=True))
    assert result.status == 200
    assert fake.requests[-1].headers["Content-Encoding"] == "gzip"
    assert len(fake.received("/v1/batch", "accepted")) == 50


def test_the_legacy_import_path_is_a_batch(fake):
    response = raw_post(fake, "/v1/import", {"batch": [{"type": "identify", "userId": "u"}]})
    assert response.status_code == 200
    assert fake.received("/v1/import")[0]["status"] == "accepted"


def test_batches_split_at_2500_items_are_all_accepted(fake):
    messages = [
        build_message("track", user_id=f"u{i}", event="E") for i in range(MAX_BATCH_ITEMS + 1)
    ]
    batches = list(split_into_batches(messages))
    assert [len(b) for b in batches] == [MAX_BATCH_ITEMS, 1]
    for batch in batches:
        validate_batch(batch)
        assert client.send(client.batch_request(batch, write_key=KEY, region="us")).status == 200
    assert len(fake.received(status="accepted")) == MAX_BATCH_ITEMS + 1


def test_batches_split_at_500000_bytes_fit_and_are_accepted(fake):
    messages = [
        build_message("identify", user_id=f"u{i}", traits={"pad": "x" * 31_000}) for i in range(40)
    ]
    batches = list(split_into_batches(messages))
    assert len(batches) == 3
    for batch in batches:
        validate_batch(batch)
        request = client.batch_request(batch, write_key=KEY, region="us")
        assert len(request.body) <= MAX_BATCH_BYTES
        assert client.send(request).status == 200
    # Each batch is as full as it can be: one more message would not have fitted.
    first = client.batch_request(batches[0] + [batches[1][0]], write_key=KEY, region="us")
    assert len(first.body) > MAX_BATCH_BYTES - 256
    assert len(fake.received(status="accepted")) == 40


def test_an_unknown_write_key_still_gets_200_but_the_event_is_dropped(fake):
    message = build_message("identify", user_id="u1")
    result = client.send(client.tracking_request(message, write_key="nobody-knows", region="us"))
    assert (result.status, result.json()) == (200, {"success": True})
    (entry,) = fake.received()
    assert entry["status"] == "discarded:invalid_write_key"
    assert entry["write_key_known"] is False


def test_a_write_key_in_the_body_alone_is_read(fake):
    response = raw_post(fake, "/v1/identify", {"userId": "u", "writeKey": KEY}, key=None)
    assert response.status_code == 200
    assert fake.received()[0]["status"] == "accepted"


def test_basic_auth_without_the_colon_is_tolerated(fake):
    headers = {"Authorization": "Basic " + base64.b64encode(KEY.encode()).decode()}
    response = raw_post(fake, "/v1/identify", {"userId": "u"}, key=None, headers=headers)
    assert response.status_code == 200
    assert fake.received()[0]["status"] == "accepted"


def test_a_body_sent_as_text_plain_is_still_read(fake):
    response = raw_post(
        fake, "/v1/track", {"userId": "u", "event": "E"}, headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 200
    assert fake.received()[0]["status"] == "accepted"


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/v1/track", b"{not json", "invalid_json"),
        ("/v1/track", b"[1, 2]", "invalid_json"),
        ("/v1/track", b"[" * 10_000 + b"]" * 10_000, "invalid_json"),  # deeper than Python reads
        ("/v1/identify", {"userId": "u", "traits": {"pad": "x" * 33_000}}, "payload_too_large"),
        (
            "/v1/batch",
            {"batch": [{"type": "identify", "userId": "u", "traits": {"pad": "x" * 33_000}}]},
            "payload_too_large",
        ),
        (
            "/v1/batch",
            {"batch": [{"type": "identify", "userId": "u", "traits": {"p": "x" * 30_000}}] * 18},
            "payload_too_large",
        ),
        ("/v1/batch", {"batch": "nope"}, "invalid_batch"),
    ],
)
def test_malformed_and_oversize_bodies_get_a_400(fake, path, body, code):
    response = raw_post(fake, path, body)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert fake.received() == []


def test_a_body_that_is_not_gzip_but_says_so_gets_a_400(fake):
    response = raw_post(fake, "/v1/track", b"plain", headers={"Content-Encoding": "gzip"})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_gzip")


def test_an_empty_write_key_gets_a_400(fake):
    response = raw_post(fake, "/v1/identify", {"userId": "u"}, key=None)
    assert (response.status_code, response.json()["code"]) == (400, "missing_write_key")


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/identify", {}, "discarded:no_user_anon_id"),
        ("/v1/identify", {"userId": 42}, "discarded:id_not_string"),
        ("/v1/track", {"userId": "u"}, "discarded:event_not_defined"),
        ("/v1/track", {"userId": "u", "event": ""}, "discarded:event_not_defined"),
        ("/v1/identify", {"userId": "u", "traits": ["a"]}, "discarded:traits_not_object"),
        (
            "/v1/track",
            {"userId": "u", "event": "E", "properties": 3},
            "discarded:properties_not_object",
        ),
        ("/v1/page", {"userId": "u", "name": ""}, "discarded:name_not_string"),
        ("/v1/screen", {"userId": "u", "category": 5}, "discarded:category_not_string"),
        ("/v1/group", {"userId": "u"}, "discarded:no_group_id"),
        ("/v1/alias", {"userId": "u"}, "discarded:no_user_anon_id"),
        ("/v1/batch", {"batch": [{"userId": "u"}]}, "discarded:invalid_type"),
        ("/v1/batch", {"batch": []}, "discarded:empty_batch"),
    ],
)
def test_what_segment_drops_is_answered_200_and_recorded_with_its_code(fake, path, body, status):
    response = raw_post(fake, path, body)
    assert (response.status_code, response.json()) == (200, {"success": True})
    assert [entry["status"] for entry in fake.received()] == [status]


def test_a_batch_of_more_than_2500_items_is_answered_200_and_dropped_whole(fake):
    items = [{"type": "track", "userId": f"u{i}", "event": "E"} for i in range(MAX_BATCH_ITEMS + 1)]
    assert raw_post(fake, "/v1/batch", {"batch": items}).status_code == 200
    statuses = {entry["status"] for entry in fake.received()}
    assert statuses == {"discarded:too_many_events"}


def test_unknown_keys_are_dropped_and_recorded(fake):
    raw_post(fake, "/v1/track", {"userId": "u", "event": "E", "traits": {}, "colour": "red"})
    (entry,) = fake.received()
    assert entry["status"] == "accepted"
    assert entry["dropped_keys"] == ["colour", "traits"]
    assert "colour" not in entry["message"]


def test_the_same_message_id_within_a_day_is_stored_once(fake):
    message = build_message("identify", user_id="u", message_id="same-id")
    for _ in range(2):
        client.send(client.tracking_request(message, write_key=KEY, region="us"))
    assert [e["status"] for e in fake.received()] == ["accepted", "discarded:duplicate"]


def test_a_missing_message_id_is_assigned(fake):
    raw_post(fake, "/v1/identify", {"userId": "u"})
    assert fake.messages()[0]["messageId"]


def test_batch_context_and_integrations_are_merged_into_each_item(fake):
    body = {
        "batch": [{"type": "identify", "userId": "u", "context": {"ip": "1.2.3.4"}}],
        "context": {"ip": "9.9.9.9", "locale": "fr"},
        "integrations": {"All": False},
    }
    raw_post(fake, "/v1/batch", body)
    stored = fake.messages()[0]
    assert stored["context"] == {"ip": "1.2.3.4", "locale": "fr"}
    assert stored["integrations"] == {"All": False}


def test_other_methods_and_paths_are_refused(fake):
    assert requests.get(fake.url + "/v1/track", timeout=5).status_code == 405
    assert raw_post(fake, "/v1/t", {"userId": "u"}).status_code == 404


def test_queued_faults_are_retried_through_and_the_message_is_stored_once(fake):
    fake.queue_faults([500, 503, {"status": 429, "retry_after": 0}, 460])
    message = build_message("track", user_id="u", event="E")
    result = client.send(
        client.tracking_request(message, write_key=KEY, region="us"), profile=QUICK
    )
    assert (result.status, result.attempts) == (200, 5)
    assert [r.status for r in fake.requests] == [500, 503, 429, 460, 200]
    assert [r.headers.get("X-Retry-Count") for r in fake.requests] == [None, "1", "2", "3", "4"]
    assert len(fake.received(status="accepted")) == 1


def test_a_429_carries_retry_after_and_rate_limit_reset(fake):
    fake.queue_faults([{"status": 429, "retry_after": 2}])
    response = raw_post(fake, "/v1/identify", {"userId": "u"})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert response.headers["X-RateLimit-Reset"] == "2"


def test_the_client_really_waits_for_retry_after(fake):
    fake.queue_faults([{"status": 429, "retry_after": 1}])
    message = build_message("identify", user_id="u")
    result = client.send(client.tracking_request(message, write_key=KEY, region="us"))
    assert (result.status, result.attempts) == (200, 2)
    assert result.duration_ms >= 1000


def test_latency_is_added_to_every_answer(fake):
    fake.set_latency(150)
    message = build_message("identify", user_id="u")
    result = client.send(client.tracking_request(message, write_key=KEY, region="us"))
    assert result.duration_ms >= 150


def test_the_control_api_and_the_page_work_over_http(fake):
    base = fake.url + "/_fake"
    assert requests.post(base + "/write_keys", json={"key": "k2"}, timeout=5).json() == {
        "added": True
    }
    raw_post(fake, "/v1/identify", {"userId": "u", "traits": {"name": "<b>Ada</b>"}}, key="k2")
    listed = requests.get(base + "/messages", params={"status": "accepted"}, timeout=5).json()
    assert [m["message"]["userId"] for m in listed["messages"]] == ["u"]
    page = requests.get(base + "/", timeout=5)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "/v1/identify" in page.text and "accepted" in page.text
    gz = gzip.compress(b"{}")
    assert (
        requests.post(base + "/faults", json={"faults": [503]}, timeout=5).json()["faults_queued"]
        == 1
    )
    assert (
        raw_post(fake, "/v1/identify", gz, headers={"Content-Encoding": "gzip"}).status_code == 503
    )
    assert requests.post(base + "/faults", json={"faults": ["bogus"]}, timeout=5).status_code == 400
    assert requests.get(base + "/requests", params={"api": "tracking"}, timeout=5).json()[
        "requests"
    ]
    assert requests.post(base + "/reset", timeout=5).json() == {"reset": True}
    assert fake.received() == []


# --- the intake's fast path: parsed once, checked without copies, enriched when read ---------


@pytest.mark.parametrize(
    "text",
    [
        '{"batch":[{"a":1},{"b":[1,2,{"c":null}]}],"sentAt":"x"}',
        ' \n{ "batch" : [ {"a" : "é\\u00e9\\n"} ,\t{} ] , "context" : {"ip":"1"} } \r\n',
        '{"batch":[]}',
        '{"batch":"not a list"}',
        '{"batch":[1],"batch":[{"x":1},{"y":2}]}',
        '{"writeKey":"k","batch":[{"n":1e15},{"n":-0.5},{"t":true,"f":false}]}',
        "{}",
        "[1, 2]",
        '"text"',
        '\ufeff{"batch":[{"a":1}]}',
    ],
)
def test_the_fast_parser_reads_a_body_as_json_loads_does(text):
    raw = text.encode()
    body, sizes = tracking.parse_body(raw)
    assert body == json.loads(raw)
    if sizes is not None:
        assert len(sizes) == len(body["batch"])


def test_the_fast_parser_measures_each_item_as_sent():
    raw = b'{"batch":[{"a":1} , {"bb":"\\u00e9"}]}'
    assert tracking.parse_body(raw)[1] == [len('{"a":1}'), len('{"bb":"\\u00e9"}')]


@pytest.mark.parametrize("text", ['{"batch":[{"a":1},]}', '{"batch":[{"a":1}', '{"batch":[1] x'])
def test_the_fast_parser_refuses_what_json_loads_refuses(text):
    with pytest.raises(ValueError):
        tracking.parse_body(text.encode())


def test_one_item_over_32_kb_among_small_ones_gets_a_400(fake):
    items = [{"type": "track", "userId": f"u{i}", "event": "E"} for i in range(200)]
    items.insert(100, {"type": "identify", "userId": "big", "traits": {"pad": "x" * 33_000}})
    response = raw_post(fake, "/v1/batch", {"batch": items})
    assert (response.status_code, response.json()["code"]) == (400, "payload_too_large")
    assert fake.received() == []


def test_an_item_sent_escaped_is_measured_by_what_it_holds(fake):
    # 20,000 "é" sent as \u00e9 escapes: 120,000 characters as sent, 40,000 bytes held.
    escaped = {"type": "identify", "userId": "u", "traits": {"name": "é" * 20_000}}
    small = {"type": "identify", "userId": "v", "traits": {"name": "é" * 10_000}}
    too_big = raw_post(fake, "/v1/batch", {"batch": [escaped]})
    fits = raw_post(fake, "/v1/batch", {"batch": [small, {"type": "track", "userId": "w"}]})
    assert too_big.status_code == 400
    assert fits.status_code == 200
    assert [e["status"] for e in fake.received()] == ["accepted", "discarded:event_not_defined"]


def test_a_batch_sent_with_spaces_and_newlines_is_read_alike(fake):
    body = {
        "batch": [{"type": "identify", "userId": f"u{i}", "traits": {"n": i}} for i in range(300)],
        "context": {"locale": "fr"},
    }
    response = raw_post(fake, "/v1/batch", json.dumps(body, indent=2).encode())
    assert response.status_code == 200
    stored = fake.messages()
    assert [m["traits"]["n"] for m in stored] == list(range(300))
    assert all(m["context"] == {"locale": "fr"} for m in stored)


def test_an_assigned_message_id_is_the_same_at_every_read(fake):
    raw_post(fake, "/v1/batch", {"batch": [{"type": "identify", "userId": "u"}]})
    first, again = fake.messages()[0], fake.messages()[0]
    assert first["messageId"].startswith("fake-")
    assert first == again


def test_messages_read_from_the_fake_are_enriched_as_segment_stores_them(fake):
    body = {
        "batch": [
            {
                "type": "track",
                "userId": "u",
                "event": "E",
                "traits": {"dropped": True},
                "writeKey": KEY,
                "messageId": "m-1",
                "timestamp": "2024-05-01T09:00:00Z",
            }
        ],
        "sentAt": "2024-05-01T09:00:00Z",
        "integrations": {"All": True},
    }
    raw_post(fake, "/v1/batch", body)
    (entry,) = fake.received()
    message = entry["message"]
    assert entry["dropped_keys"] == ["traits"] and entry["status"] == "accepted"
    assert "traits" not in message and "writeKey" not in message
    assert message["integrations"] == {"All": True} and message["sentAt"] == body["sentAt"]
    assert message["originalTimestamp"] == "2024-05-01T09:00:00Z"
    assert message["receivedAt"] == message["timestamp"]  # no clock skew: sent as it happened


def test_duplicates_within_one_batch_and_across_batches_are_dropped(fake):
    one = {"type": "identify", "userId": "u", "messageId": "dup-1"}
    raw_post(fake, "/v1/batch", {"batch": [one, one]})
    raw_post(fake, "/v1/batch", {"batch": [one]})
    statuses = [e["status"] for e in fake.received()]
    assert statuses == ["accepted", "discarded:duplicate", "discarded:duplicate"]
    assert fake.state.summary()["counts"] == {"accepted": 1, "discarded:duplicate": 2}


def test_the_page_shows_only_the_newest_messages(fake):
    items = [{"type": "identify", "userId": f"user-{i:04d}"} for i in range(page.SHOWN + 5)]
    raw_post(fake, "/v1/batch", {"batch": items})
    html = requests.get(fake.url + "/_fake/", timeout=5).text
    assert f"user-{page.SHOWN + 4:04d}" in html and "user-0005" in html
    assert "user-0004" not in html


def test_what_was_answered_is_readable_at_once_even_from_many_senders(fake):
    # The fake answers before it stores (as Segment's edge does); readers wait for the store.
    def send(sender: int) -> None:
        with requests.Session() as session:
            for batch in range(5):
                items = [
                    {"type": "identify", "userId": f"s{sender}-b{batch}-{i}"} for i in range(50)
                ]
                raw = json.dumps({"batch": items}).encode()
                session.post(fake.url + "/v1/batch", data=raw, auth=(KEY, ""), timeout=10)

    threads = [threading.Thread(target=send, args=(sender,)) for sender in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fake.state.summary()["counts"] == {"accepted": 8 * 5 * 50}
    assert len({m["userId"] for m in fake.messages()}) == 8 * 5 * 50


def test_an_identify_answered_is_in_the_profile_at_once(fake):
    fake.state.add_space("spa_1", "space-token", collect_identifies=True)
    raw_post(fake, "/v1/identify", {"userId": "u1", "traits": {"plan": "team"}})
    traits = client.get_profile_traits(
        space_id="spa_1",
        token="space-token",
        region="us",
        identifier_type="user_id",
        identifier="u1",
        transport=client.send,
    )
    assert traits == {"plan": "team"}


def test_a_reset_waits_for_messages_still_being_stored(fake):
    raw_post(fake, "/v1/batch", {"batch": [{"type": "identify", "userId": "u"}] * 3})
    fake.reset()
    assert fake.state.summary()["counts"] == {}
