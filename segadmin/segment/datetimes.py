"""The one reader of ISO-8601 dates and date-times in segadmin (no Django, no HTTP).

Every entrance reads dates through here: the rules module (timestamps, ``createdAt``,
date-like values), the typed values of editor rows and bulk cells, the call screens'
Timestamp field and drafts. A refusal is a ``DateTimeInvalid`` whose message is one sentence
saying what is wrong with the text (“… is not on the calendar: February 2024 has 29 days.”),
so every screen shows the same words.

Accepted: ``YYYY-MM-DD``, then ``T``, ``t`` or a space, ``hh:mm``, optional ``:ss`` and a
fraction of a second (``.`` or ``,``, any number of digits, kept to microseconds), then ``Z``,
``z`` or an offset ``+hh:mm``, ``+hhmm`` or ``+hh`` below 24 hours. Nothing else: no week
dates, no ordinal dates, no basic format without dashes, no hour 24, no leap second.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache

_DATE = r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
_TIME = (
    r"(?P<sep>[Tt ])(?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?"
)
_ZONE = r"(?P<zone>[Zz]|(?P<sign>[+-])(?P<oh>\d{2})(?::?(?P<om>\d{2}))?)"
# One pattern for both shapes (a date, or a date-time with or without a zone): one match per
# value, as bulk jobs read a date or two per row.
_ISO = re.compile(f"{_DATE}(?:{_TIME}{_ZONE}?)?")

EXAMPLE = "2024-05-01T09:30:00Z"


class DateTimeInvalid(ValueError):
    """Text that is not the date or date-time wanted; ``code`` says which way it fails:
    ``datetime_invalid`` (not ISO-8601, or not on the calendar or the clock) or
    ``datetime_naive`` (a date-time without a time zone)."""

    def __init__(self, message: str, code: str = "datetime_invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _quoted(text: str) -> str:
    return f"“{text if len(text) <= 40 else text[:37] + '…'}”"


_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _calendar_date(text: str, year: int, month: int, day: int) -> date:
    if not 1 <= month <= 12:
        raise DateTimeInvalid(
            f"{_quoted(text)} is not on the calendar: there is no month {month:02d}."
        )
    if year < 1:
        raise DateTimeInvalid(f"{_quoted(text)} is not on the calendar: there is no year 0000.")
    # Days in the month without calendar.monthrange, which computes a weekday too: bulk jobs
    # read a date or two per row.
    days = 29 if month == 2 and calendar.isleap(year) else _DAYS[month]
    if not 1 <= day <= days:
        raise DateTimeInvalid(
            f"{_quoted(text)} is not on the calendar: "
            f"{calendar.month_name[month]} {year} has {days} days."
        )
    return date(year, month, day)


def _datetime(text: str, match: re.Match[str], *, need_zone: bool) -> datetime:
    day = _calendar_date(text, int(match["year"]), int(match["month"]), int(match["day"]))
    hour, minute, second = int(match["hour"]), int(match["minute"]), int(match["second"] or 0)
    if hour > 23:
        raise DateTimeInvalid(f"{_quoted(text)} is not on the clock: hours run from 00 to 23.")
    if minute > 59:
        raise DateTimeInvalid(f"{_quoted(text)} is not on the clock: minutes run from 00 to 59.")
    if second > 59:
        raise DateTimeInvalid(f"{_quoted(text)} is not on the clock: seconds run from 00 to 59.")
    micro = int((match["fraction"] or "0")[:6].ljust(6, "0"))
    zone = None
    if match["zone"] is None:
        if need_zone:
            raise DateTimeInvalid(
                f"{_quoted(text)} has no time zone: add one, e.g. Z for UTC or +02:00.",
                "datetime_naive",
            )
    elif match["zone"] in "Zz":
        zone = UTC
    else:
        oh, om = int(match["oh"]), int(match["om"] or 0)
        if oh > 23 or om > 59:
            raise DateTimeInvalid(
                f"{_quoted(text)} has an impossible time zone offset: offsets run from "
                "-23:59 to +23:59."
            )
        offset = timedelta(hours=oh, minutes=om)
        zone = timezone(-offset if match["sign"] == "-" else offset)
    return datetime(day.year, day.month, day.day, hour, minute, second, micro, tzinfo=zone)


def _not_iso(text: str, *, date_allowed: bool) -> DateTimeInvalid:
    what = "an ISO-8601 date or date-time" if date_allowed else "an ISO-8601 date-time"
    example = f"1990-05-04 or {EXAMPLE}" if date_allowed else EXAMPLE
    return DateTimeInvalid(f"{_quoted(text)} is not {what} such as {example}.")


def parse_instant(text: str) -> datetime:
    """An aware datetime from an ISO-8601 date-time with ``Z`` or an offset; DateTimeInvalid
    with the reason otherwise (a date alone, no time zone, not on the calendar or clock)."""
    stripped = text.strip()
    match = _ISO.fullmatch(stripped)
    if match is None or match["hour"] is None:
        if match is not None:
            raise DateTimeInvalid(
                f"{_quoted(stripped)} is a date without a time: add one with a time zone, "
                f"e.g. {stripped}T00:00:00Z."
            )
        raise _not_iso(stripped, date_allowed=False)
    return _datetime(stripped, match, need_zone=True)


def parse_date(text: str) -> date:
    """A calendar date from ``YYYY-MM-DD``; DateTimeInvalid with the reason otherwise."""
    stripped = text.strip()
    match = _ISO.fullmatch(stripped)
    if match is None or match["hour"] is not None:
        raise DateTimeInvalid(f"{_quoted(stripped)} is not an ISO-8601 date such as 1990-05-04.")
    return _calendar_date(stripped, int(match["year"]), int(match["month"]), int(match["day"]))


def parse_date_or_instant(text: str) -> date | datetime:
    """A calendar date (``1990-05-04``) or an instant (a date-time with a time zone): what the
    "date-time" type of an editor row or a bulk column takes."""
    stripped = text.strip()
    match = _ISO.fullmatch(stripped)
    if match is None:
        raise _not_iso(stripped, date_allowed=True)
    if match["hour"] is None:
        return _calendar_date(stripped, int(match["year"]), int(match["month"]), int(match["day"]))
    return _datetime(stripped, match, need_zone=True)


@lru_cache(maxsize=1024)
def date_problem(text: str) -> DateTimeInvalid | None:
    """Why ``text`` is not a date or an instant (``parse_date_or_instant``), or None. Cached:
    a bulk row's date-time cell is read as its column's type and then checked by the rules."""
    try:
        parse_date_or_instant(text)
    except DateTimeInvalid as exc:
        return exc.with_traceback(None)  # kept in the cache: without the frames
    return None


def parse_local(text: str) -> datetime:
    """A naive datetime from ``YYYY-MM-DDThh:mm[:ss[.f]]`` (a datetime-local input, whose time
    zone is chosen beside it); DateTimeInvalid with the reason otherwise."""
    stripped = text.strip()
    match = _ISO.fullmatch(stripped)
    if match is None or match["hour"] is None or match["zone"] is not None:
        raise DateTimeInvalid(
            f"{_quoted(stripped)} is not a date and time such as 2024-05-01T09:30 "
            "(seconds optional)."
        )
    return _datetime(stripped, match, need_zone=False)


def looks_like_date(text: str) -> bool:
    """True for text shaped like an ISO-8601 date or date-time (``2024-13-45`` included): text
    a person meant as a date, which must then be a real one."""
    stripped = text.strip()
    if len(stripped) < 10 or stripped[4] != "-":  # most text: decided without a regex
        return False
    return _ISO.fullmatch(stripped) is not None


def format_instant(value: datetime) -> str:
    """ISO-8601 with milliseconds and the offset kept, as analytics-python writes it."""
    return value.isoformat(timespec="milliseconds")
