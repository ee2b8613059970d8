"""The Tracking plans pages: everyone who sends reads them, only Admins import and refresh."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from segadmin.audit.models import AuditEntry
from segadmin.credentials.models import Source, TrackingPlan, Workspace
from segadmin.segment import client
from segadmin.segment.fake.plans import demo_rules
from tests.credentials.conftest import assert_no_secret
from tests.factories import login
from tests.plans.conftest import PLAN_ID, TOKEN, Segment, track_rule

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client.transport, "_sleep", lambda seconds: None)


@pytest.fixture(autouse=True)
def _worker(immediate_tasks: None) -> None:
    """The import's task runs as it is queued: the POST's redirect shows it finished."""


def _import_url(workspace: Workspace) -> str:
    return reverse("plans:import", args=[workspace.pk])


def test_the_workspace_page_offers_import_tracking_plans(
    admin_client: Client, workspace: Workspace
) -> None:
    page = admin_client.get(reverse("credentials:workspace_detail", args=[workspace.pk]))
    assert "Import tracking plans" in page.text
    assert f'action="{_import_url(workspace)}"' in page.text


def test_an_admin_imports_and_sees_the_plans_and_what_is_new(
    admin_client: Client, segment: Segment, workspace: Workspace, web: Source
) -> None:
    segment.add_plan(demo_rules())
    segment.connect("src_web", {"track": {"allowUnplannedEvents": False}})
    page = admin_client.post(_import_url(workspace), follow=True)
    assert page.status_code == 200
    assert "Imported 1 tracking plan: “Shop plan”." in page.text
    assert "“Shop plan” is new: 5 rules." in page.text
    assert "Shop plan" in page.text and "Current" in page.text
    assert_no_secret(page.text, TOKEN)


def test_the_plan_page_shows_events_properties_traits_common_schema_and_sources(
    admin_client: Client, segment: Segment, workspace: Workspace, web: Source
) -> None:
    segment.add_plan(demo_rules())
    segment.connect("src_web", {"track": {}})
    admin_client.post(_import_url(workspace))
    plan = TrackingPlan.objects.get(plan_id=PLAN_ID)
    page = admin_client.get(reverse("plans:detail", args=[plan.pk])).text
    for text in (
        "Order Completed",
        "Product Viewed",
        "Signed Up",
        "<code>order_id</code>",
        "The order&#x27;s id",  # description
        "USD, EUR",  # allowed values
        "≥ 0",  # range
        "string or null",  # coupon
        "<code>products[].sku</code>",
        "Identify traits",
        "<code>email</code>",
        "(email)",  # format
        "Common schema",
        "<code>context.app</code>",
        "Web",  # its source
        "Refresh",
    ):
        assert text in page, text
    assert 'data-testid="stale"' not in page
    assert_no_secret(page, TOKEN)


def test_refresh_shows_what_changed_after_the_import_and_on_the_plan_page(
    admin_client: Client, segment: Segment, workspace: Workspace
) -> None:
    segment.add_plan([track_rule("Order Completed"), track_rule("Cart Viewed")])
    admin_client.post(_import_url(workspace))
    plan = TrackingPlan.objects.get(plan_id=PLAN_ID)
    segment.change(
        upsert=[track_rule("Order Completed", version=2), track_rule("Signed Up")],
        remove=[{"type": "TRACK", "key": "Cart Viewed", "version": 1}],
    )
    page = admin_client.post(reverse("plans:refresh", args=[plan.pk]), follow=True).text
    changed = "added: Signed Up; removed: Cart Viewed; new versions: Order Completed v2"
    assert f"“Shop plan” changed (revision 2): {changed}." in page
    again = admin_client.get(reverse("plans:detail", args=[plan.pk])).text
    assert f"revision 2: {changed}." in again


def test_a_plan_that_could_not_be_fetched_says_so_and_keeps_its_rules(
    admin_client: Client, segment: Segment, workspace: Workspace
) -> None:
    segment.add_plan([track_rule("Order Completed")])
    admin_client.post(_import_url(workspace))
    segment.workspace.protocols = False
    page = admin_client.post(_import_url(workspace), follow=True).text
    assert "Tracking plans could not be imported." in page
    assert "needs the Protocols feature" in page
    plan = TrackingPlan.objects.get(plan_id=PLAN_ID)
    detail = admin_client.get(reverse("plans:detail", args=[plan.pk])).text
    assert 'data-testid="last-error"' in detail
    assert "Sending goes on with the rules imported on" in detail
    assert "Order Completed" in detail


def test_a_plan_not_fetched_for_24_hours_has_a_stale_badge(
    marketer: User, segment: Segment, workspace: Workspace, actor
) -> None:
    from segadmin.sending.plans import import_tracking_plans

    segment.add_plan([track_rule("Order Completed")])
    import_tracking_plans(workspace, actor=actor)
    TrackingPlan.objects.update(imported_at=timezone.now() - timedelta(hours=25))
    browser = login(marketer)
    assert 'data-testid="stale"' in browser.get(reverse("plans:list")).text
    plan = TrackingPlan.objects.get()
    detail = browser.get(reverse("plans:detail", args=[plan.pk])).text
    assert "more than 24 hours ago" in detail and "Ask an Admin to refresh it." in detail


@pytest.mark.parametrize("who", ["marketer", "support"])
def test_people_who_send_read_the_plans_but_cannot_import_or_refresh(
    persona, who: str, segment: Segment, workspace: Workspace, actor
) -> None:
    from segadmin.sending.plans import import_tracking_plans

    segment.add_plan([track_rule("Order Completed")])
    import_tracking_plans(workspace, actor=actor)
    plan = TrackingPlan.objects.get()
    browser = login(persona(who))
    listing = browser.get(reverse("plans:list"))
    assert listing.status_code == 200 and "Shop plan" in listing.text
    assert "Import tracking plans" not in listing.text
    detail = browser.get(reverse("plans:detail", args=[plan.pk]))
    assert detail.status_code == 200 and "Refresh" not in detail.text
    requests_before = len(segment.fake.requests)
    events_before = AuditEntry.objects.count()
    # Forged POSTs: refused before anything reaches Segment or the audit log.
    assert browser.post(_import_url(workspace)).status_code == 403
    assert browser.post(reverse("plans:refresh", args=[plan.pk])).status_code == 403
    assert len(segment.fake.requests) == requests_before
    assert AuditEntry.objects.count() == events_before


def test_import_and_refresh_answer_only_post(admin_client: Client, workspace: Workspace) -> None:
    assert admin_client.get(_import_url(workspace)).status_code == 405


def test_the_navigation_shows_tracking_plans_to_everyone_who_sends(persona, db: None) -> None:
    for who, shown in (
        ("marketer", True),
        ("support", True),
        ("admin_user", True),
        ("no_role_user", False),
    ):
        page = login(persona(who)).get(reverse("home:index")).text
        assert (f'href="{reverse("plans:list")}"' in page) is shown, who


def test_the_demo_workspace_imports_the_shop_plan_for_the_website(
    admin_client: Client, fake_segment
) -> None:
    demo = fake_segment.seed_demo()
    workspace = Workspace(name="Demo", region="us")
    workspace.set_public_api_token(demo["token"])
    workspace.save()
    website = Source(name="Website", workspace=workspace, segment_source_id="src_demo_website")
    website.set_write_key(demo["write_keys"]["Website"])
    website.save()
    page = admin_client.post(_import_url(workspace), follow=True).text
    assert "Imported 1 tracking plan: “Shop plan”." in page
    website.refresh_from_db()
    assert website.tracking_plan is not None and website.tracking_plan.name == "Shop plan"
    assert website.protocols_settings["track"]["allowUnplannedEvents"] is False
    detail = admin_client.get(reverse("plans:detail", args=[website.tracking_plan.pk])).text
    assert "Order Completed" in detail and "Website" in detail
    assert_no_secret(detail, demo["token"], demo["write_keys"]["Website"])


def test_someone_without_a_role_cannot_read_a_plan(
    no_role_user: User, workspace: Workspace
) -> None:
    plan = TrackingPlan.objects.create(workspace=workspace, plan_id="tp_x", name="Secret plan")
    browser = login(no_role_user)
    assert browser.get(reverse("plans:detail", args=[plan.pk])).status_code == 403
    assert browser.post(reverse("plans:refresh", args=[plan.pk])).status_code == 403


def test_the_list_counts_a_plans_rules_and_sources_each_once(
    marketer: User, workspace: Workspace
) -> None:
    plan = TrackingPlan.objects.create(workspace=workspace, plan_id="tp_c", name="Counted")
    for key in ("A", "B", "C"):
        plan.rules.create(rule_type="TRACK", key=key)
    for name in ("One", "Two"):
        Source.objects.create(name=name, tracking_plan=plan, write_key_encrypted="x")
    page = login(marketer).get(reverse("plans:list")).text
    assert "<td>3</td>\n    <td>2</td>" in page
