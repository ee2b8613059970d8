"""``Source.enabled_by_pk`` (the call screens' read of the chosen source, by one plain SELECT)
gives the same object the ORM gives: every field converted alike, the same plan behind it."""

from __future__ import annotations

import pytest

from segadmin.credentials.models import Source
from tests.factories import make_source
from tests.tracking_plans import shop_plan

pytestmark = pytest.mark.django_db


def _fields(source: Source) -> dict[str, object]:
    return {f.attname: getattr(source, f.attname) for f in Source._meta.concrete_fields}


def test_it_reads_every_field_as_the_orm_does() -> None:
    plan = shop_plan()
    source = make_source(
        "Shop «live»",
        "wk_enabled_read_0123456789",
        workspace=plan.workspace,
        tracking_plan=plan,
        production=True,
        protocols_settings={"track": {"allowUnplannedEvents": False}, "n": [1, 2.5, None]},
        plan_enforcement="warn",
        unplanned_events="allow",
        segment_source_id="src_1",
        slug="shop",
        region="eu",
    )
    read = Source.enabled_by_pk(source.pk)
    assert read is not None
    assert _fields(read) == _fields(Source.objects.get(pk=source.pk))
    assert read._state.adding is False and read._state.db == "default"
    assert read.tracking_plan == plan
    assert read.write_key() == "wk_enabled_read_0123456789"
    assert read.plan_check() is not None


def test_a_disabled_or_missing_source_is_none() -> None:
    source = make_source("Off", "wk_enabled_read_0123456789", enabled=False)
    assert Source.enabled_by_pk(source.pk) is None
    assert Source.enabled_by_pk(source.pk + 1000) is None
