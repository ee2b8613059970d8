"""The import of tracking plans in Chromium, under the real CSP: the Admin presses Import, the
import's page waits for a worker and follows it by htmx polling, then shows what changed."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from segadmin.credentials.models import TrackingPlanImport, Workspace
from segadmin.plans import tasks
from segadmin.segment.fake.plans import demo_rules
from tests.conftest import log_in
from tests.plans.conftest import Segment

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_import_page_follows_the_worker_and_shows_what_is_new(
    page: Page,
    live_server: Any,
    admin_user: Any,
    segment: Segment,
    workspace: Workspace,
    browser_errors: list[str],
) -> None:
    segment.add_plan(demo_rules())
    log_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/tracking-plans/")
    page.get_by_role("button", name=f"Import tracking plans of “{workspace.name}”").click()
    expect(page.get_by_test_id("import-status")).to_have_text("Waiting for a worker")
    expect(page.get_by_test_id("import-waiting")).to_contain_text("manage.py db_worker")

    # A worker takes it; the page, polling, shows the outcome without a reload.
    job = TrackingPlanImport.objects.get()
    assert tasks.run_import(str(job.pk)) == TrackingPlanImport.Status.DONE
    expect(page.get_by_test_id("import-status")).to_have_text("Finished", timeout=10_000)
    report = page.get_by_test_id("import-report")
    expect(report).to_contain_text("Imported 1 tracking plan: “Shop plan”.")
    expect(report).to_contain_text("“Shop plan” is new: 5 rules.")
    page.get_by_role("link", name="Shop plan").click()
    expect(page.get_by_role("heading", name="Order Completed")).to_be_visible()
    assert browser_errors == []
