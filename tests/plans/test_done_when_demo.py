"""Issue 13's "Done when", over HTTP against the local fake seeded as `make demo` seeds it:
import the demo workspace's plans, open Track for the connected Website source, pick “Order
Completed”, see its properties, send one with a wrong type and be refused with a clear reason;
an Admin switches the source to Warn; it is then sent with the violation on the result and in
the audit entry."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from segadmin.audit.models import AuditEntry, Kind
from segadmin.credentials.models import Source, TrackingPlanImport, Workspace
from tests.calls.conftest import errors_of, form_data
from tests.factories import login

pytestmark = pytest.mark.django_db

NOT_A_NUMBER = "total must be a number"


def test_the_demo_plan_from_import_to_a_violation_on_the_record(
    admin_client: Client, marketer: Any, fake_segment: Any, immediate_tasks: None
) -> None:
    demo = fake_segment.seed_demo()
    workspace = Workspace(name="Demo", region="us")
    workspace.set_public_api_token(demo["token"])
    workspace.save()
    website = Source(name="Website", workspace=workspace, segment_source_id="src_demo_website")
    website.set_write_key(demo["write_keys"]["Website"])
    website.save()

    # Import tracking plans (a worker runs it; here, as it is queued).
    page = admin_client.post(reverse("plans:import", args=[workspace.pk]), follow=True).text
    assert TrackingPlanImport.objects.get().status == TrackingPlanImport.Status.DONE
    assert "Imported 1 tracking plan: “Shop plan”." in page

    # Track for the Website: Event Name offers the plan's events; Order Completed's properties.
    browser = login(marketer)
    track = browser.get(f"/calls/track/?source={website.pk}").text
    event = re.search(r'<select name="event".*?</select>', track, re.S)
    assert event and "Order Completed" in event.group(0)
    editor = browser.get(
        "/calls/plan/track/editor/", {"source": website.pk, "event": "Order Completed"}
    ).text
    assert 'data-planned="order_id"' in editor and 'data-planned="total"' in editor

    # A total typed as text: refused, the reason next to the properties, nothing sent.
    order = form_data(
        website,
        user_id="u-1",
        event="Order Completed",
        properties={"order_id": "o-1", "total": "12"},
        action="send",
    )
    refused = browser.post("/calls/track/", order)
    assert refused.status_code == 422
    assert any(NOT_A_NUMBER in e for e in errors_of(refused)["properties"])
    assert fake_segment.messages() == []

    # An Admin switches the source to Warn on its edit page.
    website.refresh_from_db()
    edited = admin_client.post(
        reverse("credentials:source_edit", args=[website.pk]),
        {
            "name": website.name,
            "region": website.region,
            "workspace": workspace.pk,
            "enabled": "on",
            "segment_source_id": website.segment_source_id,
            "tracking_plan": website.tracking_plan_id,
            "plan_enforcement": "warn",
            "unplanned_events": website.unplanned_events,
        },
    )
    assert edited.status_code == 302

    sent = browser.post("/calls/track/", order)
    assert sent.status_code == 200, errors_of(sent)
    assert "Sent with 1 violation" in sent.text and NOT_A_NUMBER in sent.text
    # Segment's own settings for the demo source drop events with violations: said beside it.
    assert "Segment would drop this event" in sent.text
    (message,) = fake_segment.messages()
    assert message["properties"] == {"order_id": "o-1", "total": "12"}

    entry = AuditEntry.objects.filter(kind=Kind.REQUEST, source=website).latest("seq")
    assert entry.plan_violations == 1
    shown = browser.get(reverse("audit:entry", args=[entry.pk])).text
    assert "Tracking plan at send time" in shown and NOT_A_NUMBER in shown
