"""A source's tracking plan and its enforcement, set by Admins on the source's edit page."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from segadmin.credentials.models import Source, Workspace
from tests.credentials.conftest import credential_events
from tests.factories import login
from tests.tracking_plans import shop_plan

pytestmark = pytest.mark.django_db


def edit(client: Client, source: Source, **fields: object) -> object:
    data: dict[str, object] = {
        "name": source.name,
        "region": source.region,
        "workspace": source.workspace_id or "",
        "enabled": "on",
        **fields,
    }
    return client.post(reverse("credentials:source_edit", args=[source.pk]), data)


def test_an_admin_connects_a_plan_and_chooses_warn_and_the_change_is_recorded(
    admin_client: Client, source: Source, workspace: Workspace
) -> None:
    plan = shop_plan(workspace)
    response = edit(
        admin_client,
        source,
        tracking_plan=plan.pk,
        plan_enforcement="warn",
        unplanned_events="allow",
    )
    assert response.status_code == 302
    source.refresh_from_db()
    assert (source.tracking_plan, source.plan_enforcement, source.unplanned_events) == (
        plan,
        "warn",
        "allow",
    )
    [event] = credential_events("credential.changed")
    assert {"Tracking plan", "Tracking plan enforcement", "Unplanned events"} <= set(
        event.details_data["changed"]
    )


def test_the_edit_page_offers_the_enforcement_and_says_what_segment_would_do(
    admin_client: Client, source: Source
) -> None:
    source.protocols_settings = {"track": {"allowUnplannedEvents": False}}
    source.save()
    page = admin_client.get(reverse("credentials:source_edit", args=[source.pk])).text
    assert "Tracking plan enforcement" in page and "Unplanned events" in page
    assert "Segment's Protocols settings for this source drop unplanned Track events." in page


def test_a_plan_of_another_workspace_is_refused_next_to_the_plan(
    admin_client: Client, source: Source
) -> None:
    other = shop_plan()  # in a workspace of its own
    response = edit(admin_client, source, tracking_plan=other.pk, plan_enforcement="warn")
    assert response.status_code == 200
    assert "belongs to the workspace “Shop workspace”" in response.text
    source.refresh_from_db()
    assert (source.tracking_plan, source.plan_enforcement) == (None, "block")


def test_a_marketer_cannot_change_the_enforcement_by_a_forged_post(
    marketer: User, source: Source
) -> None:
    client = login(marketer)
    response = edit(client, source, plan_enforcement="warn")
    assert response.status_code == 403
    source.refresh_from_db()
    assert source.plan_enforcement == "block"


def test_the_built_plan_is_kept_per_revision_and_rebuilt_after_an_import(
    source: Source, workspace: Workspace
) -> None:
    plan = shop_plan(workspace)
    source.tracking_plan = plan
    source.save()
    first = source.plan_check()
    assert first is not None and source.plan_check().plan is first.plan  # type: ignore[union-attr]
    plan.revision += 1
    plan.save()
    again = source.plan_check()
    assert again is not None and again.plan is not first.plan and again.revision == 4
