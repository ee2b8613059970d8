"""Rows to messages: the same message build_message makes, the same verdict validate_message
gives, deterministic message IDs, proposals for the mapping and the "empty means null" switch."""

from __future__ import annotations

import uuid

import pytest

from segadmin.bulk import parsing
from segadmin.bulk.plan import (
    ANONYMOUS_ID,
    EVENT,
    FIELD,
    GROUP_ID,
    SKIP,
    TIMESTAMP,
    USER_ID,
    Plan,
    check_mapping,
    message_id,
    propose_mapping,
)
from segadmin.segment.errors import MessageInvalid
from segadmin.segment.messages import build_message, message_size, validate_message

JOB = uuid.UUID("6f1b6a8e-2c1d-4c55-9a35-2f0a3f0c9d10")


def item(column, target=FIELD, type_=parsing.TEXT, empty_null=False):
    return {"column": column, "target": target, "type": type_, "empty_null": empty_null}


def plan(call_type, mapping, fmt=parsing.CSV):
    return Plan(
        job_id=JOB,
        call_type=call_type,
        file_format=fmt,
        columns=[m["column"] for m in mapping],
        mapping=mapping,
    )


def test_the_message_id_is_uuid5_of_the_job_and_the_row():
    assert message_id(JOB, 1) == str(uuid.uuid5(JOB, "1"))
    assert message_id(JOB, 123456) == str(uuid.uuid5(JOB, "123456"))
    assert message_id(JOB, 1) != message_id(uuid.uuid4(), 1)


def test_a_row_becomes_exactly_the_message_build_message_makes():
    mapping = [
        item("id", USER_ID),
        item("anon", ANONYMOUS_ID),
        item("name", EVENT),
        item("when", TIMESTAMP),
        item("revenue", type_=parsing.NUMBER),
        item("gift", type_=parsing.BOOLEAN),
        item("items", type_=parsing.JSON_TYPE),
        item("ignored", SKIP),
    ]
    cells = ["u1", "a1", "Order Completed", "2024-05-01T09:30:00Z", "19.99", "no", "[1]", "x"]
    message, size, problems = plan("track", mapping).message(cells, 7)
    assert problems == []
    expected = build_message(
        "track",
        user_id="u1",
        anonymous_id="a1",
        event="Order Completed",
        timestamp="2024-05-01T09:30:00Z",
        properties={"revenue": 19.99, "gift": False, "items": [1]},
        message_id=str(uuid.uuid5(JOB, "7")),
    )
    assert message == expected
    assert list(message) == list(expected)  # the same keys in the same order
    assert size == message_size(expected)


def test_numeric_ids_from_json_lines_are_sent_as_text_like_the_call_screens_do():
    mapping = [item("userId", USER_ID), item("groupId", GROUP_ID), item("seats", type_="number")]
    message, _, problems = plan("group", mapping, parsing.JSONL).message(
        {"userId": 42, "groupId": 7, "seats": 3}, 1
    )
    assert problems == []
    assert (message["userId"], message["groupId"], message["traits"]) == ("42", "7", {"seats": 3})


CORPUS = [
    ["u1", "", "pro", "3"],
    ["", "a1", "pro", "3"],
    ["", "", "pro", "3"],  # no ID at all
    ["   ", "", "pro", "3"],  # a blank ID
    ["u1", "   ", "pro", "3"],
    ["u1", "", "x" * 33_000, "3"],  # over 32 KB
    ["u1", "", "pro", "three"],  # not a number
    ["u1", "", "", ""],
]


@pytest.mark.parametrize("cells", CORPUS)
@pytest.mark.parametrize("call_type", ["identify", "track", "group"])
def test_the_quick_check_agrees_with_validate_message(call_type, cells):
    mapping = [
        item("userId", USER_ID),
        item("anonymousId", ANONYMOUS_ID),
        item("plan", {"track": EVENT, "group": GROUP_ID}.get(call_type, FIELD)),
        item("seats", type_=parsing.NUMBER),
    ]
    message, size, problems = plan(call_type, mapping).message(cells, 1)
    rebuilt = build_message(
        call_type,
        user_id=cells[0] or None,
        anonymous_id=cells[1] or None,
        event=(cells[2] or None) if call_type == "track" else None,
        group_id=(cells[2] or None) if call_type == "group" else None,
        traits={"plan": cells[2]} if call_type == "identify" and cells[2] else None,
        message_id=message_id(JOB, 1),
    )
    try:
        validate_message(rebuilt)
        valid = True
    except MessageInvalid:
        valid = False
    if cells[3] == "three":
        assert problems and problems[0].column == "seats"
        return
    assert (message is not None) == valid, problems
    assert bool(problems) == (not valid)
    if valid:
        assert size == message_size(message)


def test_problems_name_the_column_behind_them():
    mapping = [item("uid", USER_ID), item("name", EVENT), item("when", TIMESTAMP)]
    _, _, problems = plan("track", mapping).message(["", "", "2024-05-01T09:30:00"], 12)
    found = {(p.row, p.column, p.reason) for p in problems}
    assert (12, "uid", "Add a User ID or an Anonymous ID.") in found
    assert (12, "name", "Add an Event Name.") in found
    assert any(column == "when" and "time zone" in reason for _, column, reason in found)


def test_an_empty_cell_is_left_out_unless_the_column_says_empty_means_null():
    mapping = [
        item("userId", USER_ID),
        item("plan"),
        item("team", empty_null=True),
        item("seats", type_=parsing.NUMBER, empty_null=True),
    ]
    message, _, problems = plan("identify", mapping).message(["u1", "", "", ""], 1)
    assert problems == []
    assert message["traits"] == {"team": None, "seats": None}
    message, _, _ = plan("identify", mapping).message(["u1", "pro", "Acme", "5"], 2)
    assert message["traits"] == {"plan": "pro", "team": "Acme", "seats": 5}


def test_in_json_lines_an_explicit_null_is_a_null_and_a_missing_key_is_left_out():
    mapping = [item("userId", USER_ID), item("plan"), item("company")]
    message, _, _ = plan("identify", mapping, parsing.JSONL).message(
        {"userId": "u1", "plan": None}, 1
    )
    assert message["traits"] == {"plan": None}


def test_the_proposed_mapping_recognises_the_usual_column_names():
    columns = ["User ID", "anonymous_id", "event", "Timestamp", "email", "segadmin_error"]
    proposals = {"email": parsing.TEXT, "Timestamp": parsing.DATETIME}
    mapping = propose_mapping("track", columns, proposals)
    assert [m["target"] for m in mapping] == [USER_ID, ANONYMOUS_ID, EVENT, TIMESTAMP, FIELD, SKIP]
    # Identify has no event: that column is a trait there.
    assert propose_mapping("identify", ["userId", "event"], {})[1]["target"] == FIELD


def test_a_mapping_needs_an_id_and_the_call_s_own_keys():
    assert check_mapping("identify", [item("email")]) == [
        "Map a column to User ID or Anonymous ID: every call needs one."
    ]
    assert "Map a column to Event Name: a Track call needs one." in check_mapping(
        "track", [item("u", USER_ID)]
    )
    assert "Map a column to Group ID: a Group call needs one." in check_mapping(
        "group", [item("u", USER_ID)]
    )
    assert "Only one column can be the User ID." in check_mapping(
        "identify", [item("a", USER_ID), item("b", USER_ID)]
    )
