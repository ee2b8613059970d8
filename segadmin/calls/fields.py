"""Form fields of the call screens besides the key/value editor: Timestamp (Source and
Workspace are segadmin.credentials.fields')."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any

from django import forms
from django.utils.choices import BaseChoiceIterator
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe

from segadmin.segment import datetimes

MIN_YEAR, MAX_YEAR = 1900, 2100


@cache
def timezone_names() -> tuple[str, ...]:
    """UTC first, then every IANA zone the system knows, sorted."""
    names = sorted(
        n
        for n in zoneinfo.available_timezones()
        if "/" in n and not n.startswith(("Etc/", "SystemV/"))
    )
    return ("UTC", *names)


class FixedChoices(BaseChoiceIterator):
    """Choices already in Django's (value, label) form, held in one immutable tuple. Django
    leaves a BaseChoiceIterator as it is, so copying a form's fields (every form does) no
    longer normalises the ~600 zones again: the list is built once per process."""

    def __init__(self, choices: tuple[tuple[str, str], ...]) -> None:
        self._choices = choices

    def __iter__(self) -> Any:
        return iter(self._choices)

    def __len__(self) -> int:
        return len(self._choices)


@cache
def timezone_choices() -> FixedChoices:
    return FixedChoices(tuple((n, n) for n in timezone_names()))


@lru_cache(maxsize=64)
def timezone_options(selected: str) -> SafeString:
    """The <option>s of the timezone select, built once per selection: ~600 of them would
    otherwise be most of the page's rendering time."""
    return format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        ((n, mark_safe(" selected") if n == selected else "", n) for n in timezone_names()),
    )


class TimestampWidget(forms.MultiWidget):
    """A datetime-local input and the timezone select beside it (UTC unless changed)."""

    template_name = "django/forms/widgets/multiwidget.html"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        widgets = (
            forms.TextInput(attrs={"type": "datetime-local", "step": "1", "class": "form-control"}),
            forms.Select(
                choices=timezone_choices(),
                attrs={"class": "form-select", "aria-label": "Timezone of the timestamp"},
            ),
        )
        super().__init__(widgets, attrs)

    def decompress(self, value: Any) -> list[Any]:
        if isinstance(value, datetime) and value.tzinfo is not None:
            name = getattr(value.tzinfo, "key", "UTC")
            return [value.replace(tzinfo=None).isoformat(timespec="seconds"), name]
        return ["", "UTC"]


class TimestampField(forms.Field):
    """An aware datetime, or None for "now". The timezone is always explicit: never guessed."""

    widget = TimestampWidget
    default_error_messages = {
        "invalid": "Enter the date and time as 2024-05-01T09:30 (seconds optional).",
        "naive": "Choose the timezone of this time: without one Segment would have to guess.",
        "zone": "Choose a timezone from the list.",
        "year": f"Enter a year between {MIN_YEAR} and {MAX_YEAR}.",
        "gap": "This time does not exist in {zone}: the clocks jump forward then.",
        "fold": "This time happens twice in {zone} (the clocks go back). Choose UTC and enter "
        "the time in UTC instead.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "Empty means now. Set a time only to record a past event.")
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> datetime | None:
        if isinstance(value, datetime):
            return value
        parts = list(value) if isinstance(value, list | tuple) else [value, None]
        local = str(parts[0] or "").strip() if parts else ""
        zone = str(parts[1] or "").strip() if len(parts) > 1 else ""
        if not local:
            return None
        if not zone:
            raise forms.ValidationError(self.error_messages["naive"], code="timestamp_naive")
        if zone not in timezone_names():
            raise forms.ValidationError(self.error_messages["zone"], code="zone")
        if not datetimes.looks_like_date(local):
            raise forms.ValidationError(self.error_messages["invalid"], code="timestamp_invalid")
        try:
            naive = datetimes.parse_local(local)
        except datetimes.DateTimeInvalid as exc:
            # Shaped like a date-time but not on the calendar or the clock: say which.
            raise forms.ValidationError(exc.message, code="date") from None
        if not MIN_YEAR <= naive.year <= MAX_YEAR:
            raise forms.ValidationError(self.error_messages["year"], code="year")
        tz = UTC if zone == "UTC" else zoneinfo.ZoneInfo(zone)
        aware = naive.replace(tzinfo=tz)
        if aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
            raise forms.ValidationError(self.error_messages["gap"].format(zone=zone), code="gap")
        if aware.utcoffset() != aware.replace(fold=1).utcoffset():
            raise forms.ValidationError(self.error_messages["fold"].format(zone=zone), code="fold")
        return aware
