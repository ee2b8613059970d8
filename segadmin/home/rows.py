"""The home page's lists of entries and the chart's bars as HTML, built in Python.

As on the audit list (``segadmin.audit.cells``), template loops with conditions and a tag per
line cost more than the queries behind them. These functions write the same markup with plain
string joins; every value from the database is escaped (``escape``), and only the finished
fragments are marked safe.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.dateformat import format as date_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from segadmin.audit.cells import escape, outcome_badge

LOOK_AT, ACTIVITY, RECENT = "look_at", "activity", "recent"


def _what(entry: Any, kind: str, see_all: bool) -> str:
    if kind == ACTIVITY:
        who = escape(entry.username or "—")
        if entry.kind == "event":
            return f"{who}: {escape(entry.action)} {escape(entry.target_name)}"
        event = f" {escape(entry.event)}" if entry.event else ""
        return f"{who}: {escape(entry.call_type)}{event}"
    if kind == RECENT and entry.kind == "event":
        return f"{escape(entry.action)} {escape(entry.target_name)}"
    text = escape(entry.call_type)
    if entry.event:
        text += f" {escape(entry.event)}"
    if kind == LOOK_AT:
        if entry.source_name:
            text += f" · {escape(entry.source_name)}"
        if see_all:
            text += f" · {escape(entry.username)}"
    elif entry.user_id:
        text += f" · <code>{escape(Truncator(str(entry.user_id)).chars(24))}</code>"
    return text


def entry_rows(entries: Iterable[Any], *, base: str, kind: str, see_all: bool) -> SafeString:
    """The ``<li>`` lines of one of the home page's lists (``kind``: LOOK_AT, ACTIVITY or
    RECENT): each entry's number linking to its page, what it was, its outcome badge."""
    prefix = escape(base)
    lines = [
        '<li class="d-flex gap-2 py-1 border-bottom">\n'
        f'<a href="{prefix}{escape(entry.pk)}/" class="fw-semibold">#{escape(entry.seq)}</a>\n'
        f'<span class="me-auto">{_what(entry, kind, see_all)}</span>\n'
        f"{outcome_badge(entry)}\n</li>"
        for entry in entries
    ]
    return mark_safe("\n".join(lines))  # noqa: S308 - every value in it is escaped above


def chart_bars(chart: dict[str, Any]) -> SafeString:
    """The chart's bar segments (each a link with its title) and the day labels, as SVG."""
    parts = []
    label_y = chart["full_height"] - 4
    for bar in chart["bars"]:
        iso = bar.day.isoformat()
        title_day = escape(date_format(bar.day, "D j M"))
        for s in bar.segments:
            parts.append(
                f'<a href="{escape(s.url)}" data-day="{iso}" data-outcome="{escape(s.outcome)}">'
                f'<rect class="chart-bar chart-{escape(s.outcome)}" x="{s.x:.2f}" y="{s.y:.2f}"'
                f' width="{s.width:.2f}" height="{s.height:.2f}"><title>{title_day}: {s.count}'
                f" {escape(s.label)}</title></rect></a>"
            )
        if bar.show_label:
            parts.append(
                f'<text class="chart-label" x="{bar.label_x:.2f}" y="{label_y}"'
                f' text-anchor="middle">{escape(date_format(bar.day, "j M"))}</text>'
            )
    return mark_safe("\n".join(parts))  # noqa: S308 - every value in it is escaped above


def chart_table_rows(chart: dict[str, Any]) -> SafeString:
    """The rows of the chart's visually hidden table: one per day with requests."""
    rows = []
    for bar in chart["bars"]:
        if not bar.total:
            continue
        cells = "".join(f"<td>{escape(s.label)}: {s.count}</td>" for s in bar.segments)
        rows.append(f'<tr><th scope="row">{bar.day.isoformat()}</th>{cells}</tr>')
    return mark_safe("".join(rows))  # noqa: S308 - every value in it is escaped above
