"""The audit list's rows, its filter fields and the outcome badge are written in Python
(``segadmin/audit/cells.py``): they must say what the template loop and partials they replaced
said, with every value escaped."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from django.template import Context, Template

from segadmin.audit import cells
from segadmin.audit.filters import AuditFilterForm

# The markup the templates wrote before (templates/audit/outcome_badge.html and the row of
# templates/audit/list.html), kept here as the reference.
OLD_BADGE = (
    '{% if e.kind == "event" %}<span class="text-body-secondary">—</span>{% elif e.outcome == '
    '"sent" %}<span class="badge text-bg-success">sent</span>{% if e.response_status %} <span '
    'class="text-body-secondary">{{ e.response_status }}</span>{% endif %}{% elif e.outcome == '
    '"rejected" %}<span class="badge text-bg-danger">rejected</span> <span class="text-body-'
    'secondary">HTTP {{ e.response_status }}</span>{% elif e.outcome == "failed" %}<span '
    'class="badge text-bg-warning">failed</span> <span class="text-body-secondary">{{ e.error|'
    'truncatechars:60 }}</span>{% else %}<span class="badge text-bg-secondary">no answer '
    "recorded</span>{% endif %}"
)
OLD_ROW = (
    '<tr data-seq="{{ e.seq }}"><td><a href="{{ entry_base }}{{ e.pk }}/" class="fw-semibold">'
    '#{{ e.seq }}</a></td><td class="small">{{ when }}</td><td class="small">{{ e.username|'
    'default:"—" }}{% if e.role %}<div class="text-body-secondary">{{ e.role }}</div>{% endif %}'
    '</td><td class="small">{% if e.kind == "event" %}<span class="badge text-bg-info">'
    "{{ e.action }}</span> {{ e.target_type }} {{ e.target_name }}{% else %}<span class="
    '"badge text-bg-secondary method-badge">{{ e.call_type }}</span>{% if e.event %} '
    '{{ e.event }}{% endif %}{% if e.relation %} <span class="badge text-bg-light border">'
    '{{ e.relation }}</span>{% endif %}{% if e.bulk_job_id %} <span class="badge text-bg-'
    'light border">bulk</span>{% endif %}{% endif %}</td><td class="small">{{ e.source_name|'
    'default:e.workspace_name|default:"—" }}</td><td class="small audit-ids">{% if '
    'found_user_id and e.user_id != found_user_id %}<div><span class="text-body-secondary">'
    'user</span> <code>{{ found_user_id }}</code> <span class="text-body-secondary">in this '
    'batch</span></div>{% elif e.user_id %}<div><span class="text-body-secondary">user</span>'
    " <code>{{ e.user_id }}</code></div>{% endif %}{% if found_anonymous_id and e.anonymous_id"
    ' != found_anonymous_id %}<div><span class="text-body-secondary">anon</span> <code>'
    '{{ found_anonymous_id }}</code> <span class="text-body-secondary">in this batch</span>'
    '</div>{% elif e.anonymous_id %}<div><span class="text-body-secondary">anon</span> <code>'
    '{{ e.anonymous_id }}</code></div>{% endif %}</td><td class="small">'
    f"{OLD_BADGE}</td></tr>"
)
HOSTILE = "<script>alert(\"x\")</script> & 'quoted'"


def entry(**values: Any) -> SimpleNamespace:
    base: dict[str, Any] = {
        "pk": 7,
        "seq": 12,
        "kind": "request",
        "created_at": datetime(2026, 3, 1, 23, 30, 5, tzinfo=UTC),
        "username": "alice",
        "role": "Marketer",
        "action": "",
        "target_type": "",
        "target_name": "",
        "source_name": "Web shop",
        "workspace_name": "Main",
        "call_type": "track",
        "event": "Order Completed",
        "relation": "",
        "bulk_job_id": None,
        "user_id": "u-1",
        "anonymous_id": "",
        "outcome": "sent",
        "response_status": 200,
        "error": "",
    }
    base.update(values)
    return SimpleNamespace(**base)


ENTRIES = [
    entry(),
    entry(outcome="rejected", response_status=400, role="", username=""),
    entry(outcome="failed", error="connection refused " * 10, response_status=None),
    entry(outcome=None, response_status=None, source_name="", workspace_name=""),
    entry(outcome="sent", response_status=None, relation="send again", bulk_job_id="j1"),
    entry(kind="event", action="rotated", target_type="source", target_name="iOS", event=""),
    entry(
        username=HOSTILE,
        role=HOSTILE,
        event=HOSTILE,
        relation=HOSTILE,
        source_name=HOSTILE,
        user_id=HOSTILE,
        anonymous_id=HOSTILE,
        outcome="failed",
        error=HOSTILE,
    ),
    entry(kind="event", action=HOSTILE, target_type=HOSTILE, target_name=HOSTILE),
]


@pytest.mark.parametrize("e", ENTRIES)
def test_the_badge_says_what_the_partial_said(e: SimpleNamespace) -> None:
    assert cells.outcome_badge(e) == Template(OLD_BADGE).render(Context({"e": e}))


@pytest.mark.parametrize("e", ENTRIES)
@pytest.mark.parametrize(("found_user", "found_anon"), [("", ""), ("u-1", ""), ("u-9", "a<9")])
def test_a_row_says_what_the_template_loop_said(
    e: SimpleNamespace, found_user: str, found_anon: str
) -> None:
    (row,) = cells.list_rows(
        [e], entry_base="/audit/", zone=UTC, found_user_id=found_user, found_anonymous_id=found_anon
    )
    when = e.created_at.strftime("%Y-%m-%d %H:%M:%S")
    context = {
        "e": e,
        "when": when,
        "entry_base": "/audit/",
        "found_user_id": found_user,
        "found_anonymous_id": found_anon,
    }
    assert row == Template(OLD_ROW).render(Context(context))


def test_values_are_escaped() -> None:
    (row,) = cells.list_rows([ENTRIES[6]], entry_base="/audit/", zone=UTC)
    assert "<script>" not in row
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;quoted&#x27;" in row


def _squeeze(html: str) -> str:
    return re.sub(r">\s+<", "><", html.strip())


OLD_FIELDS = {
    "text": (
        '<div class="mb-2"><label class="form-label small mb-1" for="{{ f.auto_id }}">'
        '{{ f.label }}</label><input type="{{ type|default:\'text\' }}" name="{{ f.html_name }}"'
        ' id="{{ f.auto_id }}" value="{{ f.value|default_if_none:\'\' }}" class="form-control '
        'form-control-sm{% if f.errors %} is-invalid{% endif %}" autocomplete="off" spellcheck='
        '"false"{% if f.field.widget.attrs.placeholder %} placeholder="{{ f.field.widget.attrs.'
        'placeholder }}"{% endif %}>{% for e in f.errors %}<div class="invalid-feedback">{{ e }}'
        "</div>{% endfor %}</div>"
    ),
    "date": (
        '<div class="mb-2"><label class="form-label small mb-1" for="{{ f.auto_id }}">'
        '{{ f.label }}</label><input type="date" name="{{ f.html_name }}" id="{{ f.auto_id }}" '
        'value="{{ f.value|default_if_none:\'\' }}" class="form-control form-control-sm{% if '
        'f.errors %} is-invalid{% endif %}">{% for e in f.errors %}<div class="invalid-feedback">'
        "{{ e }}</div>{% endfor %}</div>"
    ),
    "select": (
        '<div class="mb-2"><label class="form-label small mb-1" for="{{ f.auto_id }}">'
        '{{ f.label }}</label><select name="{{ f.html_name }}" id="{{ f.auto_id }}" class="form-'
        'select form-select-sm{% if f.errors %} is-invalid{% endif %}">{% with current=f.value|'
        "default_if_none:''|stringformat:'s' %}{% for value, label in f.field.choices %}<option "
        "value=\"{{ value }}\"{% if value|stringformat:'s' == current %} selected{% endif %}>"
        "{{ label }}</option>{% endfor %}{% endwith %}</select>{% for e in f.errors %}<div class="
        '"invalid-feedback">{{ e }}</div>{% endfor %}</div>'
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [
        None,
        {"person": HOSTILE, "role": "Admin", "status": "99", "call_type": "track"},
        {"date_from": "2026-02-30", "user_id": "u-1", "outcome": "failed", "source": "9999"},
    ],
)
def test_the_filter_fields_say_what_the_partials_said(data: dict[str, str] | None) -> None:
    form = AuditFilterForm(data, see_all=True)
    form.freeze_choices()
    form.is_valid()
    for name, kind, field_type in [
        ("date_from", "date", ""),
        ("person", "text", ""),
        ("status", "text", "number"),
        ("user_id", "text", ""),
        ("role", "select", ""),
        ("call_type", "select", ""),
        ("source", "select", ""),
        ("outcome", "select", ""),
    ]:
        field = form[name]
        context = {"f": field, "type": field_type}
        expected = Template(OLD_FIELDS[kind]).render(Context(context))
        if kind == "date":
            made = cells.date_field(field)
        elif kind == "select":
            made = cells.select_field(field)
        else:
            made = cells.text_field(field, field_type or "text")
        assert _squeeze(made) == _squeeze(expected), name
