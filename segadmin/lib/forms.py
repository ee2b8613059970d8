"""The error summary every form shows at its top when it is refused, and the status it answers.

A refused form lists each problem in one box above the form (``templates/error_summary.html``),
each a link to the field it concerns; ``static/js/forms.js`` puts the focus on the box, and a
click on a link on the field. Forms with fields of their own kind (the call screens' editors)
add their own items through ``error_summary``'s ``items_for`` hook.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.http import HttpRequest


@dataclass(frozen=True)
class SummaryItem:
    """One problem of a refused form: what it concerns, the sentence, and the id of the
    control to move to ("" when no one field is concerned)."""

    label: str
    message: str
    target: str = ""


def refused_status(request: HttpRequest) -> int:
    """The status of a refused form: 200 to htmx (it swaps the form in, and the browser logs
    no failed resource), 422 to a plain form post (no script: the status says it)."""
    return 200 if getattr(request, "htmx", False) else 422


def field_target(bound: forms.BoundField) -> str:
    """The id of the control a field's label points at (a radio list's first choice)."""
    target = bound.id_for_label
    if not target and bound.auto_id:
        target = f"{bound.auto_id}_0"
    return str(target or "")


def error_summary(
    form: forms.BaseForm,
    *,
    non_field: bool = True,
    items_for: Callable[[forms.BoundField], Iterable[SummaryItem] | None] | None = None,
) -> list[SummaryItem]:
    """Every error of ``form``, in the order the page shows them: the form's own first, then
    each field's. ``items_for`` may give a field's items itself (None: the usual ones)."""
    items: list[SummaryItem] = []
    if non_field:
        items.extend(SummaryItem("", str(error)) for error in form.non_field_errors())
    for bound in form:
        if not bound.errors:
            continue
        own = items_for(bound) if items_for is not None else None
        if own is not None:
            items.extend(own)
            continue
        target = "" if bound.is_hidden else field_target(bound)
        label = str(bound.label or bound.name)
        items.extend(SummaryItem(label, str(error), target) for error in bound.errors)
    return items


class ErrorSummaryMixin:
    """``form.error_summary`` for templates: ``{% include "error_summary.html" %}``."""

    # Forms whose layout already shows their own errors at the top (crispy's) leave them out.
    summary_non_field: bool = True

    def error_summary(self) -> list[SummaryItem]:
        form: Any = self
        return error_summary(form, non_field=self.summary_non_field)
