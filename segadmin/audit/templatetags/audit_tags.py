"""Template tags of the audit pages: the outcome badge and the list's filter fields, written
in Python (``segadmin.audit.cells``) because an included partial per row cost more than the
rest of the row."""

from __future__ import annotations

from typing import Any

from django import template
from django.forms import BoundField
from django.utils.safestring import SafeString

from segadmin.audit import cells

register = template.Library()


@register.simple_tag
def outcome_badge(entry: Any) -> SafeString:
    """``{% outcome_badge entry %}``: sent / rejected / failed / no answer recorded."""
    return cells.outcome_badge(entry)


@register.simple_tag
def filter_text(field: BoundField, input_type: str = "text") -> SafeString:
    return cells.text_field(field, input_type)


@register.simple_tag
def filter_date(field: BoundField) -> SafeString:
    return cells.date_field(field)


@register.simple_tag
def filter_select(field: BoundField) -> SafeString:
    return cells.select_field(field)
