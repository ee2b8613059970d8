"""User lookup's form and tables are written in Python (``segadmin/lookup/rows.py``): they
must say what crispy-forms and the template loops they replaced said, values escaped."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from django.template import Context, Template

from segadmin.credentials.models import Workspace
from segadmin.lookup import rows
from segadmin.lookup.views import LookupForm
from tests.audit.test_cells import HOSTILE, OLD_BADGE
from tests.audit.test_cells import entry as an_entry

CRISPY = (
    '{% load crispy_forms_tags %}<div class="col-md-3">{{ form.identifier_type|as_crispy_field }}'
    '</div><div class="col-md-5">{{ form.identifier|as_crispy_field }}</div><div class="col-md-4">'
    "{{ form.workspace|as_crispy_field }}</div>"
)
# The lines of templates/lookup/index.html before (the badge partial inlined).
OLD_TIMELINE = (
    '{% for m in timeline %}{% with e=m.entry %}<tr data-seq="{{ e.seq }}"{% if m.row %} '
    'data-row="{{ m.row }}"{% endif %}><td><a href="{% url \'audit:entry\' e.pk %}">#{{ e.seq }}'
    '</a></td><td class="text-nowrap">{{ e.created_at|date:"Y-m-d H:i:s" }}</td><td>'
    '{{ e.username }}</td><td><span class="badge text-bg-secondary method-badge">{{ m.call_type|'
    "default:e.call_type }}</span>{% if e.action %} {{ e.action }}{% elif m.call_type == "
    '"privacy" %} {{ e.call_type }}{% endif %}{% if m.event %} {{ m.event }}{% endif %}'
    "{% if e.relation %} "
    '<span class="badge text-bg-light border">{{ e.relation }}</span>{% endif %}{% if '
    'e.bulk_job_id %} <a class="badge text-bg-light border" href="{% url \'bulk:job\' '
    'e.bulk_job_id %}" data-testid="import-row">bulk import{% if m.row %}, row {{ m.row }}'
    '{% endif %}</a>{% elif e.call_type == "batch" or e.call_type == "raw" %} <span class="badge '
    'text-bg-light border">message {{ m.position|add:1 }} of the {{ e.call_type }}</span>'
    '{% endif %}</td><td>{{ e.source_name|default:"—" }}</td><td>'
    f"{OLD_BADGE}</td></tr>{{% endwith %}}{{% endfor %}}"
)
OLD_IDENTIFIES = (
    '{% for item in identifies %}{% with e=item.entry %}<tr{% if not item.counted %} class="text-'
    'body-secondary"{% endif %}><td><a href="{% url \'audit:entry\' item.entry.pk %}">#{{ item.'
    'entry.seq }}</a>{% if item.entry.bulk_job_id %} <a class="small" href="{% url \'bulk:job\' '
    'item.entry.bulk_job_id %}">import{% if item.message.row %}, row {{ item.message.row }}'
    '{% endif %}</a>{% endif %}</td><td class="text-nowrap">{{ item.entry.created_at|date:"Y-m-d '
    'H:i:s" }}</td><td>{{ item.entry.username }}</td><td>'
    f"{OLD_BADGE}"
    "</td><td>{% for key, value in item.traits.items %}<code>{{ key }}</code>=<code>{% if value "
    "is None %}null{% else %}{{ value }}{% endif %}</code>{% if not forloop.last %}, {% endif %}"
    '{% empty %}<span class="text-body-secondary">none</span>{% endfor %}</td></tr>{% endwith %}'
    "{% endfor %}"
)


def squeeze(html: str) -> str:
    """Markup without the whitespace between tags, or inside a tag, that crispy leaves."""
    html = re.sub(r"\s+", " ", html)
    html = re.sub(r"\s*(<|>)\s*", r"\1", html)
    return re.sub(r"<(\w+) >", r"<\1>", html).replace("< ", "<")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [
        None,
        {"identifier_type": "user_id", "identifier": ""},
        {"identifier_type": "anonymous_id", "identifier": HOSTILE},
        {"identifier_type": "bogus", "identifier": "x", "workspace": "99999"},
    ],
)
def test_the_form_says_what_crispy_forms_said(data: dict[str, str] | None) -> None:
    Workspace.objects.create(
        name="Main <EU>",
        region="eu",
        profiles_space_id="spa_1",
        profiles_token_encrypted="token",
    )
    form = LookupForm(data)
    if data is not None:
        form.is_valid()
    assert squeeze(rows.form_fields(form)) == squeeze(
        Template(CRISPY).render(Context({"form": form}))
    )


def line(**values: Any) -> SimpleNamespace:
    base: dict[str, Any] = {"call_type": "", "event": "", "row": None, "position": 0}
    entry_values = values.pop("entry", {})
    base.update(values)
    return SimpleNamespace(entry=an_entry(**entry_values), **base)


LINES = [
    line(),
    line(call_type="identify", event="", entry={"call_type": "batch"}, position=4),
    line(call_type="track", row=12, entry={"bulk_job_id": "0f3c", "relation": "send again"}),
    line(entry={"bulk_job_id": "0f3c", "outcome": "failed", "error": HOSTILE}),
    line(event=HOSTILE, entry={"username": HOSTILE, "source_name": "", "call_type": "raw"}),
    line(call_type="privacy", event="", entry={"call_type": "suppress_with_delete", "event": ""}),
    line(call_type="privacy", entry={"action": HOSTILE, "kind": "event"}),
]


@pytest.mark.django_db
def test_the_timeline_says_what_the_template_loop_said() -> None:
    old = Template(OLD_TIMELINE).render(Context({"timeline": LINES}))
    assert "".join(rows.timeline_rows(LINES)) == old
    assert "<script>" not in old


@pytest.mark.django_db
def test_the_identify_lines_say_what_the_template_loop_said() -> None:
    items = [
        SimpleNamespace(
            entry=item.entry,
            message=item,
            counted=number % 2 == 0,
            traits=traits,
        )
        for number, (item, traits) in enumerate(
            zip(
                LINES[:5],
                [
                    {"plan": "pro", "seats": 3, "ratio": 0.25},
                    {},
                    {"gone": None, "ok": True, "tags": ["a", "b"]},
                    {HOSTILE: HOSTILE, "nested": {"a": 1.5}},
                    {"when": "2026-01-01T00:00:00Z", "big": 12345678.9},
                ],
                strict=True,
            )
        )
    ]
    assert "".join(rows.identify_rows(items)) == Template(OLD_IDENTIFIES).render(
        Context({"identifies": items})
    )


def test_times_are_shown_in_the_current_zone(settings: Any) -> None:
    from django.utils import timezone

    with timezone.override("Europe/Paris"):
        (row,) = rows.timeline_rows(
            [line(entry={"created_at": datetime(2026, 3, 1, 23, 30, 5, tzinfo=UTC)})]
        )
    assert "2026-03-02 00:30:05" in row


@pytest.mark.django_db
def test_the_identify_history_is_the_same_read_from_the_timeline_or_the_index(
    marketer, support
) -> None:
    # With the whole timeline on the page the Identify calls come from it (only their bodies
    # read); past it, from the index. Both ways must give the same calls and traits.
    from unittest import mock

    from segadmin.audit.filters import visible_messages
    from segadmin.lookup import history as lookup_history
    from segadmin.lookup.views import COLUMNS
    from tests.audit.entries import add_call, make_source
    from tests.audit.test_message_index import a_batch

    source = make_source()
    add_call(
        user=marketer,
        source=source,
        call_type="identify",
        user_id="user-2",
        traits={"plan": "free", "seats": 1},
    )
    a_batch(rows=range(1, 4))
    add_call(user=marketer, source=source, user_id="user-2", event="Signed Up")
    add_call(
        user=marketer,
        source=source,
        call_type="identify",
        user_id="user-2",
        traits={"plan": "pro", "seats": None},
        status=400,
    )
    add_call(
        user=marketer,
        source=source,
        call_type="identify",
        user_id="user-2",
        traits={"plan": "team"},
    )

    def read() -> lookup_history.History:
        return lookup_history.history(
            visible_messages(support), "user_id", "user-2", columns=COLUMNS
        )

    def shown(found: lookup_history.History) -> list[tuple[int, int, dict[str, Any], bool]]:
        return [(i.entry.seq, i.message.position, i.traits, i.counted) for i in found.identifies]

    whole = read()
    assert not whole.more
    with mock.patch.object(lookup_history, "TIMELINE_SIZE", 2):
        walked = read()
    assert walked.more
    assert shown(whole) == shown(walked)
    assert [traits for _, _, traits, _ in shown(whole)] == [
        {"plan": "team"},
        {"plan": "pro", "seats": None},
        {"plan": "pro", "row": 2},
        {"plan": "free", "seats": 1},
    ]
    # The batch had no answer recorded: its traits are shown, not counted.
    assert whole.traits == walked.traits == {"plan": "team", "seats": 1}
