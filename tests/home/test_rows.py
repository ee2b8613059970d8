# ruff: noqa: E501 - the old template loops, copied line for line
"""The home page's lines and chart bars written in Python (segadmin/home/rows.py) are the
markup the template loops wrote before, hostile values escaped the same way."""

from __future__ import annotations

import re
from datetime import date
from types import SimpleNamespace

import pytest
from django.template import Context, Template

from segadmin.audit.templatetags import audit_tags  # noqa: F401 - the old loops' tag library
from segadmin.home import rows
from segadmin.home.dashboard import Bar, Segment

HOSTILE = "<script>alert(\"x\")</script> & 'q'"

OLD_LOOK_AT = """{% load audit_tags %}{% for e in entries %}
<li class="d-flex gap-2 py-1 border-bottom">
<a href="{{ entry_base }}{{ e.pk }}/" class="fw-semibold">#{{ e.seq }}</a>
<span class="me-auto">{{ e.call_type }}{% if e.event %} {{ e.event }}{% endif %}{% if e.source_name %} · {{ e.source_name }}{% endif %}{% if see_all %} · {{ e.username }}{% endif %}</span>
{% outcome_badge e %}
</li>{% endfor %}"""
OLD_ACTIVITY = """{% load audit_tags %}{% for e in entries %}
<li class="d-flex gap-2 py-1 border-bottom">
<a href="{{ entry_base }}{{ e.pk }}/" class="fw-semibold">#{{ e.seq }}</a>
<span class="me-auto">{{ e.username|default:"—" }}: {% if e.kind == "event" %}{{ e.action }} {{ e.target_name }}{% else %}{{ e.call_type }}{% if e.event %} {{ e.event }}{% endif %}{% endif %}</span>
{% outcome_badge e %}
</li>{% endfor %}"""
OLD_RECENT = """{% load audit_tags %}{% for e in entries %}
<li class="d-flex gap-2 py-1 border-bottom">
<a href="{{ entry_base }}{{ e.pk }}/" class="fw-semibold">#{{ e.seq }}</a>
<span class="me-auto">{% if e.kind == "event" %}{{ e.action }} {{ e.target_name }}{% else %}{{ e.call_type }}{% if e.event %} {{ e.event }}{% endif %}{% if e.user_id %} · <code>{{ e.user_id|truncatechars:24 }}</code>{% endif %}{% endif %}</span>
{% outcome_badge e %}
</li>{% endfor %}"""
OLD_BARS = """{% for bar in chart.bars %}{% for s in bar.segments %}
<a href="{{ s.url }}" data-day="{{ bar.day|date:'Y-m-d' }}" data-outcome="{{ s.outcome }}"><rect class="chart-bar chart-{{ s.outcome }}" x="{{ s.x|stringformat:'.2f' }}" y="{{ s.y|stringformat:'.2f' }}" width="{{ s.width|stringformat:'.2f' }}" height="{{ s.height|stringformat:'.2f' }}"><title>{{ bar.day|date:"D j M" }}: {{ s.count }} {{ s.label }}</title></rect></a>{% endfor %}
{% if bar.show_label %}<text class="chart-label" x="{{ bar.label_x|stringformat:'.2f' }}" y="{{ chart.full_height|add:'-4' }}" text-anchor="middle">{{ bar.day|date:"j M" }}</text>{% endif %}{% endfor %}"""
OLD_TABLE = """{% for bar in chart.bars %}{% if bar.total %}<tr><th scope="row">{{ bar.day|date:"Y-m-d" }}</th>{% for s in bar.segments %}<td>{{ s.label }}: {{ s.count }}</td>{% endfor %}</tr>{% endif %}{% endfor %}"""


def _same(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r">\s+<", "><", html)).strip()


def _entry(**values):
    base = {
        "pk": 7,
        "seq": 41,
        "kind": "request",
        "call_type": "track",
        "event": "",
        "source_name": "",
        "username": "ann",
        "user_id": "",
        "action": "",
        "target_name": "",
        "outcome": "sent",
        "response_status": 200,
        "error": "",
    }
    return SimpleNamespace(**{**base, **values})


ENTRIES = [
    _entry(),
    _entry(pk=8, seq=42, event=HOSTILE, source_name=HOSTILE, username=HOSTILE, user_id=HOSTILE),
    _entry(pk=9, seq=43, outcome="rejected", response_status=400, user_id="u" * 40),
    _entry(pk=10, seq=44, outcome="failed", response_status=None, error=HOSTILE * 3),
    _entry(pk=11, seq=45, outcome=None, response_status=None, username=None, source_name=None),
    _entry(pk=12, seq=46, kind="event", action=HOSTILE, target_name=HOSTILE, username=""),
]


@pytest.mark.parametrize(
    ("kind", "old", "see_all"),
    [
        (rows.LOOK_AT, OLD_LOOK_AT, True),
        (rows.LOOK_AT, OLD_LOOK_AT, False),
        (rows.ACTIVITY, OLD_ACTIVITY, True),
        (rows.RECENT, OLD_RECENT, True),
        (rows.RECENT, OLD_RECENT, False),
    ],
)
def test_the_lines_are_what_the_template_wrote(kind, old, see_all) -> None:
    entries = ENTRIES if kind != rows.LOOK_AT else ENTRIES[:5]  # look-at lists requests only
    base = "/audit/?a=<&"
    expected = Template(old).render(
        Context({"entries": entries, "entry_base": base, "see_all": see_all})
    )
    written = rows.entry_rows(entries, base=base, kind=kind, see_all=see_all)
    assert _same(written) == _same(expected)
    assert "<script>" not in written


def test_the_chart_bars_and_table_are_what_the_template_wrote() -> None:
    segments = [
        Segment("sent", "sent", 12, 3.0, 100.5, 17.28, 79.5, "/audit/?date_from=x&outcome=sent"),
        Segment("rejected", HOSTILE, 2, 3.0, 80.25, 17.28, 20.25, f"/audit/?q={HOSTILE}"),
    ]
    chart = {
        "full_height": 202,
        "bars": [
            Bar(date(2026, 5, 4), 14, segments, 11.64, True),
            Bar(date(2026, 5, 5), 0, [], 35.64, False),
            Bar(date(2026, 5, 6), 12, segments[:1], 59.64, False),
        ],
    }
    bars = rows.chart_bars(chart)
    assert _same(bars) == _same(Template(OLD_BARS).render(Context({"chart": chart})))
    table = rows.chart_table_rows(chart)
    assert _same(table) == _same(Template(OLD_TABLE).render(Context({"chart": chart})))
    assert "<script>" not in bars + table and "Mon 4 May: 12 sent" in bars
