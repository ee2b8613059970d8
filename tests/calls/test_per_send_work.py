"""Work a send does once, not again for every form (issue 17's quick wins)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from segadmin.calls.fields import timezone_names
from segadmin.calls.forms import IdentifyForm, TrackForm
from segadmin.credentials.models import Source
from tests.calls.conftest import form_data


def _zone_select(form: IdentifyForm) -> object:
    return form.fields["timestamp"].widget.widgets[1]


def test_the_zone_choices_are_one_list_shared_by_every_form() -> None:
    first, second = IdentifyForm(), TrackForm()
    choices = _zone_select(first).choices  # type: ignore[attr-defined]
    assert list(choices) == [(n, n) for n in timezone_names()]
    assert next(iter(choices)) == ("UTC", "UTC")
    # Each form holds its own copy of the field, but the ~600 zones are the same tuple:
    # nothing normalises them again per form.
    assert choices._choices is _zone_select(second).choices._choices  # type: ignore[attr-defined]
    html = _zone_select(first).render("zone", "Europe/Paris")  # type: ignore[attr-defined]
    assert '<option value="Europe/Paris" selected>Europe/Paris</option>' in html


def _source_reads(queries: CaptureQueriesContext) -> list[str]:
    table = Source._meta.db_table
    return [q["sql"] for q in queries.captured_queries if f'FROM "{table}"' in q["sql"]]


def test_the_source_is_read_once_for_the_plan_and_the_field(source: Source) -> None:
    with CaptureQueriesContext(connection) as queries:
        form = TrackForm(data=form_data(source, event="Order Completed", user_id="u1"))
        assert form.is_valid(), form.errors
    assert form.cleaned_data["source"] == source
    assert len(_source_reads(queries)) == 1


@pytest.mark.django_db
def test_a_disabled_source_is_still_refused_next_to_the_field(source: Source) -> None:
    source.enabled = False
    source.save()
    form = TrackForm(data=form_data(source, event="Order Completed", user_id="u1"))
    assert not form.is_valid()
    assert form.errors["source"] == ["That source does not exist or is disabled: choose another."]
