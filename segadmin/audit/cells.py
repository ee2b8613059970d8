"""The audit list's rows and its filter fields as HTML, built in Python.

Django's template engine costs more than the database on these pages: at 50 rows a page,
a ``{% for %}`` of seven cells with conditions and an included partial per row took most of
the request. These functions write the same markup once per row with plain string joins;
every value that comes from the database or from a person is escaped here (``escape``), and
the results are marked safe only as whole, finished fragments.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo
from html import escape as _escape
from typing import Any

from django.forms import BoundField
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

DASH = "—"


def escape(value: Any) -> str:
    """As the template engine's autoescape prints a value (None as "None")."""
    return _escape(str(value), quote=True)


def _badge(entry: Any) -> str:
    if entry.kind == "event":
        return '<span class="text-body-secondary">—</span>'
    outcome = entry.outcome
    status = entry.response_status
    if outcome == "sent":
        extra = f' <span class="text-body-secondary">{escape(status)}</span>' if status else ""
        return f'<span class="badge text-bg-success">sent</span>{extra}'
    if outcome == "rejected":
        return (
            '<span class="badge text-bg-danger">rejected</span> '
            f'<span class="text-body-secondary">HTTP {escape(status)}</span>'
        )
    if outcome == "failed":
        error = Truncator(str(entry.error)).chars(60)
        return (
            '<span class="badge text-bg-warning">failed</span> '
            f'<span class="text-body-secondary">{escape(error)}</span>'
        )
    return '<span class="badge text-bg-secondary">no answer recorded</span>'


def outcome_badge(entry: Any) -> SafeString:
    """An entry's outcome as a badge (the answer's status or error beside it)."""
    return mark_safe(_badge(entry))  # noqa: S308 - every value in it is escaped above


def _what(entry: Any) -> str:
    if entry.kind == "event":
        return (
            f'<span class="badge text-bg-info">{escape(entry.action)}</span> '
            f"{escape(entry.target_type)} {escape(entry.target_name)}"
        )
    parts = [f'<span class="badge text-bg-secondary method-badge">{escape(entry.call_type)}</span>']
    if entry.event:
        parts.append(f" {escape(entry.event)}")
    if entry.relation:
        parts.append(f' <span class="badge text-bg-light border">{escape(entry.relation)}</span>')
    if entry.bulk_job_id:
        parts.append(' <span class="badge text-bg-light border">bulk</span>')
    return "".join(parts)


def _ids(entry: Any, found_user_id: str, found_anonymous_id: str, found_email: str = "") -> str:
    """The IDs a row is for: the ones the filter found when they are further inside a batch
    than the entry's own (first-message) columns. Found by email inside a batch, the row
    names the email alone: the batch's first user need not be the person with it."""
    in_batch = entry.call_type == "batch" or bool(entry.bulk_job_id)
    parts = []
    for label, own, found in (
        ("user", entry.user_id, found_user_id),
        ("anon", entry.anonymous_id, found_anonymous_id),
    ):
        if found and own != found:
            parts.append(
                f'<div><span class="text-body-secondary">{label}</span> '
                f'<code>{escape(found)}</code> <span class="text-body-secondary">in this batch'
                "</span></div>"
            )
        elif own and not (found_email and in_batch and not found):
            parts.append(
                f'<div><span class="text-body-secondary">{label}</span> '
                f"<code>{escape(own)}</code></div>"
            )
    if found_email:
        where = ' <span class="text-body-secondary">in this batch</span>' if in_batch else ""
        parts.append(
            f'<div><span class="text-body-secondary">email</span> '
            f"<code>{escape(found_email)}</code>{where}</div>"
        )
    return "".join(parts)


def list_rows(
    entries: Iterable[Any],
    *,
    entry_base: str,
    zone: tzinfo,
    found_user_id: str = "",
    found_anonymous_id: str = "",
    found_email: str = "",
) -> list[SafeString]:
    """One ``<tr>`` per entry of the audit list (the columns of ``views.LIST_COLUMNS``)."""
    rows = []
    for e in entries:
        when = e.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
        who = escape(e.username) if e.username else DASH
        if e.role:
            who += f'<div class="text-body-secondary">{escape(e.role)}</div>'
        where = e.source_name or e.workspace_name
        ids = _ids(e, found_user_id, found_anonymous_id, found_email)
        rows.append(
            mark_safe(  # noqa: S308 - every value in it is escaped
                f'<tr data-seq="{e.seq}">'
                f'<td><a href="{escape(entry_base)}{e.pk}/" class="fw-semibold">#{e.seq}</a></td>'
                f'<td class="small">{when}</td>'
                f'<td class="small">{who}</td>'
                f'<td class="small">{_what(e)}</td>'
                f'<td class="small">{escape(where) if where else DASH}</td>'
                f'<td class="small audit-ids">{ids}</td>'
                f'<td class="small">{_badge(e)}</td>'
                "</tr>"
            )
        )
    return rows


# --- the filter form's fields ---------------------------------------------------------------


def _label(field: BoundField) -> str:
    return (
        f'<label class="form-label small mb-1" for="{escape(field.auto_id)}">'
        f"{escape(field.label)}</label>"
    )


def _errors(field: BoundField) -> str:
    return "".join(f'<div class="invalid-feedback">{escape(e)}</div>' for e in field.errors)


def _value(field: BoundField) -> str:
    value = field.value()
    return "" if value is None else escape(value)


def _invalid(field: BoundField) -> str:
    return " is-invalid" if field.errors else ""


def text_field(field: BoundField, input_type: str = "text") -> SafeString:
    """A small text (or number) input with its label and errors."""
    placeholder = field.field.widget.attrs.get("placeholder")
    extra = f' placeholder="{escape(placeholder)}"' if placeholder else ""
    return mark_safe(  # noqa: S308 - every value in it is escaped
        f'<div class="mb-2">{_label(field)}<input type="{escape(input_type)}" '
        f'name="{escape(field.html_name)}" id="{escape(field.auto_id)}" value="{_value(field)}" '
        f'class="form-control form-control-sm{_invalid(field)}" autocomplete="off" '
        f'spellcheck="false"{extra}>{_errors(field)}</div>'
    )


def date_field(field: BoundField) -> SafeString:
    """A small date input with its label and errors."""
    return mark_safe(  # noqa: S308 - every value in it is escaped
        f'<div class="mb-2">{_label(field)}<input type="date" name="{escape(field.html_name)}" '
        f'id="{escape(field.auto_id)}" value="{_value(field)}" '
        f'class="form-control form-control-sm{_invalid(field)}">{_errors(field)}</div>'
    )


def select_field(field: BoundField) -> SafeString:
    """A small select with its label and errors, the current value selected."""
    value = field.value()
    current = "" if value is None else str(value)
    options = []
    for choice, label in field.field.choices:  # type: ignore[attr-defined]
        text = str(choice)
        selected = " selected" if text == current else ""
        options.append(f'<option value="{escape(text)}"{selected}>{escape(label)}</option>')
    return mark_safe(  # noqa: S308 - every value in it is escaped
        f'<div class="mb-2">{_label(field)}<select name="{escape(field.html_name)}" '
        f'id="{escape(field.auto_id)}" class="form-select form-select-sm{_invalid(field)}">'
        f"{''.join(options)}</select>{_errors(field)}</div>"
    )
