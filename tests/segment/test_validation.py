"""Every validation rule of segment-api.md §4, with its boundary values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from segadmin.segment.errors import MessageInvalid
from segadmin.segment.messages import (
    BATCH_ENVELOPE_RESERVE,
    MAX_BATCH_BYTES,
    MAX_BATCH_ITEMS,
    MAX_MESSAGE_BYTES,
    batch_body_size,
    build_message,
    message_size,
    validate_batch,
    validate_message,
)


def codes(message) -> list[str]:
    try:
        validate_message(message)
    except MessageInvalid as exc:
        return exc.codes()
    return []


def problem(message, code):
    with pytest.raises(MessageInvalid) as caught:
        validate_message(message)
    return next(p for p in caught.value.problems if p.code == code)


def padded(size: int, call_type: str = "identify") -> dict:
    """A valid message of exactly ``size`` bytes, padded through one trait."""
    message = build_message(call_type, user_id="u1", traits={"pad": ""})
    message["traits"]["pad"] = "x" * (size - message_size(message))
    assert message_size(message) == size
    return message


# --- ids ------------------------------------------------------------------------------------


def test_it_asks_for_a_user_id_or_an_anonymous_id():
    found = problem(build_message("identify"), "no_user_anon_id")
    assert found.message == "Add a User ID or an Anonymous ID."
    assert found.field == "userId"


@pytest.mark.parametrize("key", ["userId", "anonymousId"])
def test_either_id_alone_is_enough(key):
    message = build_message("identify")
    message[key] = "someone"
    assert codes(message) == []


@pytest.mark.parametrize("value", [42, 4.2, True, ["u1"], {"id": 1}])
def test_it_refuses_an_id_that_is_not_text(value):
    message = build_message("identify")
    message["userId"] = value
    found = problem(message, "id_not_string")
    assert found.field == "userId"
    assert "must be text" in found.message


def test_a_numeric_id_given_to_build_message_is_sent_as_text():
    message = build_message("identify", user_id=42, anonymous_id=7)
    assert (message["userId"], message["anonymousId"]) == ("42", "7")
    assert codes(message) == []


@pytest.mark.parametrize("value", ["", "   "])
def test_it_refuses_a_blank_id(value):
    assert codes(build_message("identify", user_id=value)) == ["id_empty"]


# --- per call -------------------------------------------------------------------------------


@pytest.mark.parametrize("event", [None, "", "  "])
def test_a_track_needs_an_event_name(event):
    found = problem(build_message("track", user_id="u", event=event), "event_not_defined")
    assert found.message == "Add an Event Name."


def test_a_track_event_name_must_be_text():
    message = build_message("track", user_id="u", event="x")
    message["event"] = 12
    assert codes(message) == ["event_not_string"]


@pytest.mark.parametrize("call_type", ["page", "screen"])
@pytest.mark.parametrize("key", ["name", "category"])
def test_page_and_screen_name_and_category_are_optional_but_never_blank_or_not_text(call_type, key):
    assert codes(build_message(call_type, user_id="u")) == []
    assert codes(build_message(call_type, user_id="u", **{key: "Home"})) == []
    assert codes(build_message(call_type, user_id="u", **{key: ""})) == [f"{key}_empty"]
    message = build_message(call_type, user_id="u")
    message[key] = 5
    assert codes(message) == [f"{key}_not_string"]


def test_a_group_needs_a_group_id():
    assert codes(build_message("group", user_id="u")) == ["no_group_id"]
    assert codes(build_message("group", user_id="u", group_id="acme")) == []
    assert build_message("group", user_id="u", group_id=99)["groupId"] == "99"


def test_an_alias_needs_a_previous_id_and_a_user_id():
    assert codes(build_message("alias", user_id="u", previous_id="a")) == []
    assert codes(build_message("alias", user_id="u")) == ["no_previous_id"]
    assert codes(build_message("alias", anonymous_id="x", previous_id="a")) == ["no_user_id"]


def test_an_unknown_call_type_is_refused():
    message = build_message("identify", user_id="u")
    message["type"] = "purchase"
    assert codes(message) == ["type_invalid"]


# --- objects --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call_type", "key"),
    [
        ("identify", "traits"),
        ("group", "traits"),
        ("track", "properties"),
        ("page", "properties"),
        ("identify", "context"),
        ("identify", "integrations"),
    ],
)
@pytest.mark.parametrize("value", [["a"], "text", 3, True])
def test_traits_properties_context_and_integrations_must_be_objects(call_type, key, value):
    message = build_message(call_type, user_id="u", event="E", group_id="g")
    message[key] = value
    assert codes(message) == [f"{key}_not_object"]


def test_a_non_object_context_given_to_build_message_is_left_for_validation():
    message = build_message("identify", user_id="u", context=["not", "an", "object"])
    assert codes(message) == ["context_not_object"]


def test_ten_thousand_properties_pass_the_property_count_and_one_more_does_not():
    at_limit = build_message("track", user_id="u", event="E")
    at_limit["properties"] = {f"p{i}": 1 for i in range(10_000)}
    over = build_message("track", user_id="u", event="E")
    over["properties"] = {f"p{i}": 1 for i in range(10_001)}
    assert "too_many_properties" not in codes(at_limit)
    assert "too_many_properties" in codes(over)


# --- messageId ------------------------------------------------------------------------------


def test_a_message_id_of_100_characters_passes_and_101_does_not():
    assert codes(build_message("identify", user_id="u", message_id="m" * 100)) == []
    found = problem(
        build_message("identify", user_id="u", message_id="m" * 101), "message_id_too_long"
    )
    assert "101 characters" in found.message and "at most 100" in found.message


def test_a_blank_message_id_gets_a_fresh_uuid_only_when_none_is_given():
    assert len(build_message("identify", user_id="u")["messageId"]) == 36
    assert codes(build_message("identify", user_id="u", message_id="")) == ["message_id_empty"]
    message = build_message("identify", user_id="u")
    message["messageId"] = 12
    assert codes(message) == ["message_id_not_string"]


# --- timestamps -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 5, 1, 9, 30, tzinfo=UTC),
        "2024-05-01T09:30:00Z",
        "2024-05-01T09:30:00.123+02:00",
        "2024-05-01T09:30:00-0500",
        "2024-05-01 09:30+01:00",
    ],
)
def test_timestamps_with_an_offset_pass(value):
    assert codes(build_message("identify", user_id="u", timestamp=value)) == []


@pytest.mark.parametrize(
    "value", [datetime(2024, 5, 1, 9, 30), "2024-05-01T09:30:00", "2024-05-01T09:30", "2024-05-01"]
)
def test_it_refuses_a_naive_timestamp(value):
    message = build_message("identify", user_id="u", timestamp=value)
    found = problem(message, "timestamp_naive" if value != "2024-05-01" else "timestamp_invalid")
    assert found.field == "timestamp"


@pytest.mark.parametrize(
    "value", ["yesterday", "2024-13-01T00:00:00Z", "2024-02-30T10:00:00Z", "1714556000", ""]
)
def test_it_refuses_a_timestamp_it_cannot_read(value):
    assert codes(build_message("identify", user_id="u", timestamp=value)) == ["timestamp_invalid"]


def test_a_timestamp_that_is_not_text_is_refused():
    message = build_message("identify", user_id="u")
    message["timestamp"] = 1714556000
    assert codes(message) == ["timestamp_invalid"]


# --- size -----------------------------------------------------------------------------------


def test_a_message_of_exactly_32000_bytes_passes():
    assert codes(padded(MAX_MESSAGE_BYTES)) == []


def test_a_message_of_32001_bytes_is_refused_with_its_size():
    found = problem(padded(MAX_MESSAGE_BYTES + 1), "message_too_large")
    assert found.field == ""
    assert "32,001 bytes" in found.message and "32,000" in found.message


def test_size_counts_utf8_bytes_not_characters():
    message = build_message("identify", user_id="u", traits={"name": "é" * 10})
    ascii_twin = build_message(
        "identify", user_id="u", traits={"name": "e" * 10}, message_id=message["messageId"]
    )
    assert message_size(message) - message_size(ascii_twin) == 10


@pytest.mark.parametrize("value", [float("nan"), float("inf"), object(), b"bytes"])
def test_a_value_json_cannot_carry_is_named(value):
    found = problem(build_message("identify", user_id="u", traits={"x": value}), "not_json")
    assert "JSON" in found.message


def test_every_problem_is_reported_at_once():
    message = build_message("track", message_id="m" * 101, timestamp="2024-05-01T09:30:00")
    message["properties"] = []
    assert sorted(codes(message)) == sorted(
        [
            "no_user_anon_id",
            "event_not_defined",
            "properties_not_object",
            "message_id_too_long",
            "timestamp_naive",
        ]
    )


# --- batches --------------------------------------------------------------------------------


def tiny(index: int) -> dict:
    return build_message("track", user_id=f"u{index}", event="E", message_id=f"m{index}")


def test_a_batch_of_2500_messages_passes_and_2501_does_not():
    validate_batch([tiny(i) for i in range(MAX_BATCH_ITEMS)])
    with pytest.raises(MessageInvalid) as caught:
        validate_batch([tiny(i) for i in range(MAX_BATCH_ITEMS + 1)])
    assert caught.value.codes() == ["batch_too_many_items"]


def batch_of_body_size(target: int) -> list[dict]:
    """Valid messages whose batch body plus the envelope reserve is exactly ``target`` bytes."""
    messages = [padded(31_000) for _ in range(16)]
    remainder = target - BATCH_ENVELOPE_RESERVE - batch_body_size(messages) - 1  # the comma
    messages.append(padded(remainder))
    assert batch_body_size(messages) + BATCH_ENVELOPE_RESERVE == target
    return messages


def test_a_batch_of_500000_bytes_passes_and_500001_does_not():
    validate_batch(batch_of_body_size(MAX_BATCH_BYTES))
    with pytest.raises(MessageInvalid) as caught:
        validate_batch(batch_of_body_size(MAX_BATCH_BYTES + 1))
    assert caught.value.codes() == ["batch_too_large"]


def test_batch_problems_say_which_message_they_concern():
    with pytest.raises(MessageInvalid) as caught:
        validate_batch([tiny(0), build_message("identify"), tiny(2)])
    (found,) = caught.value.problems
    assert (found.index, found.code) == (1, "no_user_anon_id")
    assert str(found) == "Message 2: Add a User ID or an Anonymous ID."


def test_an_empty_batch_is_refused():
    with pytest.raises(MessageInvalid) as caught:
        validate_batch([])
    assert caught.value.codes() == ["empty_batch"]
