"""User lookup's form and tables as HTML, built in Python.

A lookup shows up to 100 timeline lines and 50 Identify calls; through the template engine
(a ``{% url %}``, a date filter and an included badge per line) rendering took three quarters
of the request. The same markup is written here once per line; every value from the
database, a stored body or the person is escaped (``cells.escape``) and the results are
marked safe only as whole fragments.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import localize
from django.utils.safestring import SafeString, mark_safe

from segadmin.audit.cells import DASH, escape, outcome_badge

# What reverse() leaves unquoted in a path argument (django.urls.resolvers).
_SAFE = "!$&'()*+,;=/~:@"

# --- the form -------------------------------------------------------------------------------


def _error_block(field: forms.BoundField) -> str:
    if not field.errors:
        return ""
    lines = "".join(
        f'<p id="error_{number}_{escape(field.auto_id)}"><strong>{escape(error)}</strong></p>'
        for number, error in enumerate(field.errors, start=1)
    )
    return f'<div id="{escape(field.auto_id)}_error" class="invalid-feedback">{lines}</div>'


def _required_mark(field: forms.BoundField) -> tuple[str, str]:
    """(the label's class suffix, the asterisk) of a required field."""
    if field.field.required:
        return " requiredField", '<span class="asteriskField">*</span>'
    return "", ""


def _radios(field: forms.BoundField) -> str:
    value = field.value()
    current = "" if value is None else str(value)
    invalid = bool(field.errors)
    described = f' aria-describedby="{escape(field.auto_id)}_error"' if invalid else ""
    required_class, star = _required_mark(field)
    choices = list(field.field.choices)  # type: ignore[attr-defined]
    options = []
    for number, (choice, label) in enumerate(choices):
        text = str(choice)
        checked = " checked" if text == current and not invalid else ""
        input_id = f"{escape(field.auto_id)}_{number}"
        errors = _error_block(field) if number == len(choices) - 1 else ""
        options.append(
            '<div class="form-check">'
            f'<input type="radio" class="form-check-input{" is-invalid" if invalid else ""}" '
            f'name="{escape(field.html_name)}" value="{escape(text)}" id="{input_id}"'
            f"{' required' if field.field.required else ''}"
            f"{' aria-invalid="true"' if invalid else ''}{checked}>"
            f'<label for="{input_id}" class="form-check-label">{escape(label)}</label>'
            f"{errors}</div>"
        )
    return (
        f'<div id="div_{escape(field.auto_id)}" class="mb-3"><fieldset{described}>'
        f'<legend class="form-label{required_class} fs-6">{escape(field.label)}{star}</legend>'
        f"<div>{''.join(options)}</div></fieldset></div>"
    )


def _label(field: forms.BoundField) -> str:
    required_class, star = _required_mark(field)
    return (
        f'<label for="{escape(field.auto_id)}" class="form-label{required_class}">'
        f"{escape(field.label)}{star}</label>"
    )


def _aria(field: forms.BoundField) -> str:
    if not field.errors:
        return ""
    return f' aria-invalid="true" aria-describedby="{escape(field.auto_id)}_error"'


def _text(field: forms.BoundField) -> str:
    value = field.value()
    shown = f' value="{escape(value)}"' if value not in (None, "") else ""
    attrs = "".join(
        f' {escape(name)}="{escape(attr)}"' for name, attr in field.field.widget.attrs.items()
    )
    return (
        f'<div id="div_{escape(field.auto_id)}" class="mb-3">{_label(field)}'
        f'<input type="text" name="{escape(field.html_name)}"{shown}{attrs}'
        f' class="textinput form-control{" is-invalid" if field.errors else ""}"'
        f"{' required' if field.field.required else ''}{_aria(field)} "
        f'id="{escape(field.auto_id)}">{_error_block(field)}</div>'
    )


def _select(field: forms.BoundField) -> str:
    value = field.value()
    current = "" if value is None else str(value)
    options = "".join(
        f'<option value="{escape(choice)}"{" selected" if str(choice) == current else ""}>'
        f"{escape(label)}</option>"
        for choice, label in field.field.choices  # type: ignore[attr-defined]
    )
    return (
        f'<div id="div_{escape(field.auto_id)}" class="mb-3">{_label(field)}'
        f'<select name="{escape(field.html_name)}" '
        f'class="select form-select{" is-invalid" if field.errors else ""}"{_aria(field)} '
        f'id="{escape(field.auto_id)}">{options}</select>{_error_block(field)}</div>'
    )


def form_fields(form: forms.Form) -> SafeString:
    """The lookup form's three fields in their columns (Bootstrap 5, as crispy-forms lays
    them out: a fieldset of radios, a text input, a select; each error under its field)."""
    return mark_safe(  # noqa: S308 - every value in it is escaped
        f'<div class="col-md-3">{_radios(form["identifier_type"])}</div>'
        f'<div class="col-md-5">{_text(form["identifier"])}</div>'
        f'<div class="col-md-4">{_select(form["workspace"])}</div>'
    )


# --- the tables -----------------------------------------------------------------------------


_JOB = "00000000-0000-0000-0000-000000000000"


class _Links:
    """Addresses of entries and imports: each reversed once per table, then filled in (a
    bulk batch's lines each name another import; ``reverse`` per line cost a millisecond
    every ten)."""

    def __init__(self) -> None:
        self.entry_base = escape(reverse("audit:list"))
        self.job_base = reverse("bulk:job", args=[_JOB])

    def entry(self, pk: int) -> str:
        return f"{self.entry_base}{pk}/"

    def job(self, job_id: Any) -> str:
        # An import's ID is a UUID; anything else is quoted as reverse() would.
        return escape(self.job_base.replace(_JOB, quote(str(job_id), safe=_SAFE)))


def _when(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")


def _value(value: Any) -> str:
    """A trait's value as ``{{ value }}`` prints it (localized, escaped)."""
    return escape(value) if isinstance(value, str) else escape(localize(value))


def _reason(entry: Any, testid: str) -> str:
    """The send's Reason under who sent it (nothing when none was given)."""
    reason = getattr(entry, "reason", "")
    if not reason:
        return ""
    return (
        f'<div class="small text-body-secondary text-break" data-testid="{testid}">'
        f"Reason: {escape(reason)}</div>"
    )


def timeline_rows(timeline: Iterable[Any]) -> list[SafeString]:
    """One ``<tr>`` per message of the timeline (``History.timeline``)."""
    links = _Links()
    rows = []
    for m in timeline:
        e = m.entry
        data_row = f' data-row="{m.row}"' if m.row else ""
        call = [
            f'<span class="badge text-bg-secondary method-badge">'
            f"{escape(m.call_type or e.call_type)}</span>"
        ]
        if e.action:
            call.append(f" {escape(e.action)}")
        elif m.call_type == "privacy":
            call.append(f" {escape(e.call_type)}")
        if m.event:
            call.append(f" {escape(m.event)}")
        if e.relation:
            call.append(f' <span class="badge text-bg-light border">{escape(e.relation)}</span>')
        if e.bulk_job_id:
            row = f", row {m.row}" if m.row else ""
            call.append(
                f' <a class="badge text-bg-light border" href="{links.job(e.bulk_job_id)}" '
                f'data-testid="import-row">bulk import{row}</a>'
            )
        elif e.call_type in ("batch", "raw"):
            call.append(
                f' <span class="badge text-bg-light border">message {m.position + 1} of the '
                f"{escape(e.call_type)}</span>"
            )
        rows.append(
            mark_safe(  # noqa: S308 - every value in it is escaped
                f'<tr data-seq="{e.seq}"{data_row}>'
                f'<td><a href="{links.entry(e.pk)}">#{e.seq}</a></td>'
                f'<td class="text-nowrap">{_when(e.created_at)}</td>'
                f"<td>{escape(e.username)}{_reason(e, 'timeline-reason')}</td>"
                f"<td>{''.join(call)}</td>"
                f"<td>{escape(e.source_name) if e.source_name else DASH}</td>"
                f"<td>{outcome_badge(e)}</td>"
                "</tr>"
            )
        )
    return rows


def identify_rows(identifies: Iterable[Any]) -> list[SafeString]:
    """One ``<tr>`` per Identify call (``History.identifies``): the traits it set."""
    links = _Links()
    rows = []
    for item in identifies:
        e = item.entry
        job = ""
        if e.bulk_job_id:
            row = f", row {item.message.row}" if item.message.row else ""
            job = f' <a class="small" href="{links.job(e.bulk_job_id)}">import{row}</a>'
        traits = ", ".join(
            f"<code>{escape(key)}</code>=<code>{'null' if value is None else _value(value)}</code>"
            for key, value in item.traits.items()
        )
        rows.append(
            mark_safe(  # noqa: S308 - every value in it is escaped
                f"<tr{'' if item.counted else ' class="text-body-secondary"'}>"
                f'<td><a href="{links.entry(e.pk)}">#{e.seq}</a>{job}</td>'
                f'<td class="text-nowrap">{_when(e.created_at)}</td>'
                f"<td>{escape(e.username)}{_reason(e, 'identify-reason')}</td>"
                f"<td>{outcome_badge(e)}</td>"
                f"<td>{traits or '<span class="text-body-secondary">none</span>'}</td>"
                "</tr>"
            )
        )
    return rows
