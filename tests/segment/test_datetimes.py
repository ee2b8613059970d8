"""The one ISO-8601 reader (segment.datetimes) at its edges, with the reason for each refusal."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from segadmin.segment.datetimes import (
    DateTimeInvalid,
    looks_like_date,
    parse_date,
    parse_date_or_instant,
    parse_instant,
    parse_local,
)


def refusal(parse, text: str) -> DateTimeInvalid:
    with pytest.raises(DateTimeInvalid) as caught:
        parse(text)
    return caught.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-02-29T12:00:00Z", datetime(2024, 2, 29, 12, tzinfo=UTC)),
        ("2000-02-29T00:00:00Z", datetime(2000, 2, 29, tzinfo=UTC)),
        (
            "2024-05-01T09:30:00+05:45",
            datetime(2024, 5, 1, 9, 30, tzinfo=timezone(timedelta(hours=5, minutes=45))),
        ),
        (
            "2024-05-01T09:30:00-0330",
            datetime(2024, 5, 1, 9, 30, tzinfo=timezone(-timedelta(hours=3, minutes=30))),
        ),
        ("2024-05-01T09:30+01", datetime(2024, 5, 1, 9, 30, tzinfo=timezone(timedelta(hours=1)))),
        ("2024-05-01 09:30:00Z", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
        ("2024-05-01t09:30:00z", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
        ("2024-05-01T09:30:00.5Z", datetime(2024, 5, 1, 9, 30, 0, 500_000, tzinfo=UTC)),
        ("2024-05-01T09:30:00,25Z", datetime(2024, 5, 1, 9, 30, 0, 250_000, tzinfo=UTC)),
        ("2024-05-01T09:30:00.123456789Z", datetime(2024, 5, 1, 9, 30, 0, 123_456, tzinfo=UTC)),
        ("  2024-05-01T09:30:00Z  ", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
        (
            "2024-12-31T23:59:59+23:59",
            datetime(2024, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=23, minutes=59))),
        ),
    ],
)
def test_an_instant_with_a_zone_is_read_exactly(text, expected):
    parsed = parse_instant(text)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "2024-02-30T10:00:00Z",
            "“2024-02-30T10:00:00Z” is not on the calendar: February 2024 has 29 days.",
        ),
        (
            "2023-02-29T10:00:00Z",
            "“2023-02-29T10:00:00Z” is not on the calendar: February 2023 has 28 days.",
        ),
        (
            "2026-13-01T10:00:00Z",
            "“2026-13-01T10:00:00Z” is not on the calendar: there is no month 13.",
        ),
        (
            "2024-13-45T10:00:00Z",
            "“2024-13-45T10:00:00Z” is not on the calendar: there is no month 13.",
        ),
        (
            "2024-04-31T10:00:00Z",
            "“2024-04-31T10:00:00Z” is not on the calendar: April 2024 has 30 days.",
        ),
        (
            "2024-05-01T25:00:00Z",
            "“2024-05-01T25:00:00Z” is not on the clock: hours run from 00 to 23.",
        ),
        (
            "2024-05-01T24:00:00Z",
            "“2024-05-01T24:00:00Z” is not on the clock: hours run from 00 to 23.",
        ),
        (
            "2024-05-01T10:61:00Z",
            "“2024-05-01T10:61:00Z” is not on the clock: minutes run from 00 to 59.",
        ),
        ("2024-05-01T25:61Z", "“2024-05-01T25:61Z” is not on the clock: hours run from 00 to 23."),
        (
            "2024-05-01T10:00:60Z",
            "“2024-05-01T10:00:60Z” is not on the clock: seconds run from 00 to 59.",
        ),
        (
            "2024-05-01T10:00:00+24:00",
            "“2024-05-01T10:00:00+24:00” has an impossible time zone offset: offsets run "
            "from -23:59 to +23:59.",
        ),
        ("yesterday", "“yesterday” is not an ISO-8601 date-time such as 2024-05-01T09:30:00Z."),
        ("1714556000", "“1714556000” is not an ISO-8601 date-time such as 2024-05-01T09:30:00Z."),
        (
            "20240501T093000Z",
            "“20240501T093000Z” is not an ISO-8601 date-time such as 2024-05-01T09:30:00Z.",
        ),
        ("", "“” is not an ISO-8601 date-time such as 2024-05-01T09:30:00Z."),
    ],
)
def test_an_impossible_or_unreadable_instant_is_refused_with_the_reason(text, reason):
    found = refusal(parse_instant, text)
    assert (found.code, found.message) == ("datetime_invalid", reason)


def test_a_date_time_without_a_zone_is_refused_as_naive():
    found = refusal(parse_instant, "2024-05-01T09:30:00")
    assert found.code == "datetime_naive"
    assert found.message == (
        "“2024-05-01T09:30:00” has no time zone: add one, e.g. Z for UTC or +02:00."
    )


def test_a_date_alone_is_not_an_instant():
    found = refusal(parse_instant, "2024-05-01")
    assert found.code == "datetime_invalid"
    assert "is a date without a time" in found.message
    assert "2024-05-01T00:00:00Z" in found.message


def test_calendar_dates_are_checked_too():
    assert parse_date("2024-02-29") == date(2024, 2, 29)
    assert refusal(parse_date, "2024-02-30").message == (
        "“2024-02-30” is not on the calendar: February 2024 has 29 days."
    )
    assert refusal(parse_date, "0000-01-01").message.endswith("there is no year 0000.")
    assert "is not an ISO-8601 date" in refusal(parse_date, "May 4th").message


def test_the_date_time_type_takes_a_date_or_an_instant():
    assert parse_date_or_instant("1990-05-04") == date(1990, 5, 4)
    assert parse_date_or_instant("2024-05-01T09:30:00Z") == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    assert refusal(parse_date_or_instant, "2024-13-45").message == (
        "“2024-13-45” is not on the calendar: there is no month 13."
    )
    assert refusal(parse_date_or_instant, "2024-05-01T09:30").code == "datetime_naive"
    assert refusal(parse_date_or_instant, "soon").message == (
        "“soon” is not an ISO-8601 date or date-time such as 1990-05-04 or 2024-05-01T09:30:00Z."
    )


def test_a_local_time_is_read_without_a_zone_and_refuses_one():
    assert parse_local("2024-05-01T09:30") == datetime(2024, 5, 1, 9, 30)
    assert parse_local("2024-05-01T09:30:15.25") == datetime(2024, 5, 1, 9, 30, 15, 250_000)
    assert "February 2024 has 29 days" in refusal(parse_local, "2024-02-30T09:30").message
    assert "not a date and time" in refusal(parse_local, "2024-05-01T09:30Z").message


@pytest.mark.parametrize(
    ("text", "looks"),
    [
        ("2024-13-45", True),
        ("2024-05-01T25:61", True),
        ("2024-05-01 09:30:00+02:00", True),
        ("2024-05-01 meeting", False),
        ("42", False),
        ("v2024-05-01", False),
    ],
)
def test_date_like_text_is_recognised_by_its_shape(text, looks):
    assert looks_like_date(text) is looks


def test_a_very_long_text_is_quoted_short():
    found = refusal(parse_instant, "x" * 500)
    assert len(found.message) < 120


def test_the_fake_reads_timestamps_with_the_same_parser_and_naive_ones_as_utc():
    from segadmin.segment.fake.state import parse_time

    assert parse_time("2024-05-01T09:30:00+02:00") == datetime(2024, 5, 1, 7, 30, tzinfo=UTC)
    assert parse_time("2024-05-01T09:30:00") == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    assert parse_time("2024-02-30T09:30:00Z") is None
    assert parse_time("yesterday") is None
