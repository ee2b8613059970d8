"""The rules module, rule by rule: the code, the path and the sentence of each finding."""

from __future__ import annotations

import pytest

from segadmin.segment import rules
from segadmin.segment.errors import MessageInvalid
from segadmin.segment.messages import build_message, validate_batch, validate_message


def findings(call_type: str, **fields) -> list[tuple[str, str, str, str]]:
    key = "properties" if call_type in ("track", "page", "screen") else "traits"
    message = build_message(
        call_type, user_id="u1", event="Order Completed", group_id="g1", **{key: fields}
    )
    return [(p.code, p.field, p.severity, p.message) for p in rules.check(call_type, message)]


def one(call_type: str, **fields) -> tuple[str, str, str, str]:
    (found,) = findings(call_type, **fields)
    return found


# --- Track's reserved properties ------------------------------------------------------------


@pytest.mark.parametrize("value", ["19.99", True, [19.99], None])
def test_revenue_must_be_a_number(value):
    code, path, severity, sentence = one("track", revenue=value, currency="USD")
    assert (code, path, severity) == ("not_number", "properties.revenue", "error")
    if value is None:
        assert sentence == "Revenue must be a number, not null."
    else:
        assert sentence == "Revenue must be a number, like 19.99 (not text or true/false)."


def test_value_must_be_a_number():
    assert one("track", value="high") == (
        "not_number",
        "properties.value",
        "error",
        "Value must be a number, like 19.99 (not text or true/false).",
    )


@pytest.mark.parametrize("code", ["XYZ", "usd", "EURO", 978])
def test_currency_must_be_an_iso_4217_code(code):
    found = one("track", revenue=5, currency=code)
    shown = code if isinstance(code, str) else str(code)
    assert found == (
        "currency_invalid",
        "properties.currency",
        "error",
        f"Currency “{shown}” is not an ISO 4217 code such as USD, EUR or GBP.",
    )


def test_good_track_properties_pass():
    assert findings("track", revenue=19.99, currency="EUR", value=3, items=2) == []


def test_revenue_is_only_reserved_on_track():
    assert findings("page", revenue="lots") == []
    assert findings("identify", revenue="lots") == []


# --- Identify's and Group's reserved traits -------------------------------------------------


@pytest.mark.parametrize("key", ["createdAt", "created_at"])
def test_created_at_must_be_a_real_instant_with_a_zone_or_a_date(key):
    assert findings("identify", **{key: "2024-05-01T09:30:00Z"}) == []
    assert findings("identify", **{key: "2024-05-01"}) == []
    assert one("identify", **{key: "2024-02-30T10:00:00Z"}) == (
        "datetime_invalid",
        f"traits.{key}",
        "error",
        "“2024-02-30T10:00:00Z” is not on the calendar: February 2024 has 29 days.",
    )
    assert one("identify", **{key: "2024-05-01T09:30:00"})[:3] == (
        "datetime_naive",
        f"traits.{key}",
        "error",
    )
    assert one("identify", **{key: 1714556000}) == (
        "datetime_invalid",
        f"traits.{key}",
        "error",
        f"{key} must be an ISO-8601 date or date-time text, such as 1990-05-04 or "
        "2024-05-01T09:30:00Z.",
    )


def test_a_group_s_created_at_is_checked_too():
    assert one("group", createdAt="2024-13-01T00:00:00Z") == (
        "datetime_invalid",
        "traits.createdAt",
        "error",
        "“2024-13-01T00:00:00Z” is not on the calendar: there is no month 13.",
    )


def test_age_must_be_a_number():
    assert one("identify", age="ten") == (
        "not_number",
        "traits.age",
        "error",
        "age must be a number, like 42 (not text or true/false).",
    )
    assert findings("identify", age=42) == []


def test_birthday_must_be_a_real_date():
    assert findings("identify", birthday="1990-05-04") == []
    assert one("identify", birthday="1990-02-31")[:2] == ("datetime_invalid", "traits.birthday")


def test_company_is_an_object_with_typed_parts():
    assert (
        findings("identify", company={"name": "Acme", "id": 7, "employee_count": 40, "plan": "pro"})
        == []
    )
    assert one("identify", company="Acme") == (
        "not_object",
        "traits.company",
        "error",
        "company must be an object of its parts (name, id, industry, employee_count, plan).",
    )
    assert one("identify", company={"employee_count": "forty"}) == (
        "not_number",
        "traits.company.employee_count",
        "error",
        "company.employee_count must be a number, like 42 (not text or true/false).",
    )
    assert one("identify", company={"id": True}) == (
        "not_text",
        "traits.company.id",
        "error",
        "company.id must be text or a number.",
    )


@pytest.mark.parametrize("call_type", ["identify", "group"])
def test_address_is_an_object_of_text_parts(call_type):
    assert findings(call_type, address={"city": "Lyon", "postalCode": "69001"}) == []
    assert one(call_type, address=["Lyon"])[:2] == ("not_object", "traits.address")
    assert one(call_type, address={"postalCode": 69001}) == (
        "not_text",
        "traits.address.postalCode",
        "error",
        "address.postalCode must be text.",
    )


@pytest.mark.parametrize("call_type", ["identify", "group"])
def test_an_email_that_does_not_look_like_one_is_a_warning_not_an_error(call_type):
    assert findings(call_type, email="ann@example.com") == []
    found = one(call_type, email="ann@")
    assert found == (
        "email_invalid",
        "traits.email",
        "warning",
        "“ann@” does not look like an email address: check it before sending.",
    )
    message = build_message(call_type, user_id="u1", group_id="g1", traits={"email": "ann@"})
    validate_message(message)  # a warning never blocks


def test_null_unsets_any_reserved_trait():
    assert findings("identify", age=None, createdAt=None, company=None, email=None) == []


# --- Date-like text anywhere ----------------------------------------------------------------


def test_date_like_text_in_custom_fields_must_be_a_real_date_with_a_zone():
    assert findings("track", ordered_at="2026-02-28T10:00:00Z", note="2026 plans") == []
    assert one("track", ordered_at="2026-02-30T10:00:00Z") == (
        "datetime_invalid",
        "properties.ordered_at",
        "error",
        "“2026-02-30T10:00:00Z” is not on the calendar: February 2026 has 28 days.",
    )
    assert one("track", at="2024-05-01 25:61")[:2] == ("datetime_invalid", "properties.at")
    assert one("identify", seen="2024-05-01T09:30")[:2] == ("datetime_naive", "traits.seen")


def test_nested_date_like_text_is_found_with_its_path():
    found = one("track", products=[{"sku": "a"}, {"added": "2024-13-45"}])
    assert found[:2] == ("datetime_invalid", "properties.products[1].added")


def test_a_deeply_nested_value_does_not_crash_the_rules():
    deep: list = []
    for _ in range(200_000):
        deep = [deep]
    message = build_message("track", user_id="u", event="E")
    message["properties"] = {"deep": deep}
    problems = rules.check("track", message)
    assert [(p.code, p.message) for p in problems] == [
        ("not_json", "A value is nested too deeply to be sent as JSON.")
    ]


# --- The message as a whole -----------------------------------------------------------------


def test_the_timestamp_rule_gives_the_parser_s_reason():
    message = build_message("identify", user_id="u", timestamp="2024-02-30T10:00:00Z")
    (found,) = rules.check("identify", message)
    assert (found.code, found.field) == ("timestamp_invalid", "timestamp")
    assert found.message == (
        "“2024-02-30T10:00:00Z” is not on the calendar: February 2024 has 29 days."
    )


def test_a_message_whose_type_disagrees_with_the_call_is_refused():
    message = build_message("identify", user_id="u")
    assert [p.code for p in rules.check("track", message)] == ["type_invalid", "event_not_defined"]
    del message["type"]  # a raw body for /v1/identify need not name its type
    assert rules.check("identify", message) == []


def test_every_finding_of_a_bad_message_comes_at_once_in_the_message_s_order():
    message = build_message(
        "track",
        event="",
        properties={"revenue": "x", "currency": "XYZ", "at": "2024-02-30"},
    )
    assert [(p.code, p.field) for p in rules.check("track", message)] == [
        ("no_user_anon_id", "userId"),
        ("event_not_defined", "event"),
        ("not_number", "properties.revenue"),
        ("currency_invalid", "properties.currency"),
        ("datetime_invalid", "properties.at"),
    ]


def test_validate_message_and_validate_batch_raise_the_rules_errors_only():
    bad = build_message("track", user_id="u", event="E", properties={"currency": "XYZ"})
    with pytest.raises(MessageInvalid) as caught:
        validate_message(bad)
    assert caught.value.codes() == ["currency_invalid"]
    good = build_message("identify", user_id="u", traits={"email": "nope"})
    with pytest.raises(MessageInvalid) as caught:
        validate_batch([good, bad])
    (found,) = caught.value.problems
    assert (found.index, found.field, found.code) == (1, "properties.currency", "currency_invalid")


@pytest.mark.parametrize(
    ("path", "split"),
    [
        ("userId", ("userId", "")),
        ("properties.currency", ("properties", "currency")),
        ("traits.company.employee_count", ("traits", "company.employee_count")),
        ("properties.items[0].at", ("properties", "items[0].at")),
        ("", ("", "")),
    ],
)
def test_a_path_splits_into_the_message_key_and_the_path_inside_it(path, split):
    assert rules.field_path(rules.Problem(path, "x", "y")) == split
