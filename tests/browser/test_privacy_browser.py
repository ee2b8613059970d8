"""Issue 15's Done when, in Chromium against the local fake: Support files "Suppress and delete"
for two user IDs with a ticket reference and finds no way to approve it; an Admin approves
it; the regulation's ID shows and its status moves to Finished; every step is in the audit
log and on each user's lookup page."""

from __future__ import annotations

import pytest

from segadmin.approvals.models import Approval
from tests.conftest import TOKEN, log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_request_approve_finished(
    page,
    live_server,
    browser_errors,
    browser,
    support,
    admin_user,
    workspace,
    fake_segment,
    immediate_tasks,
) -> None:
    fake_segment.add_workspace(TOKEN, id="ws_1")
    log_in(page, live_server, "sam")
    page.locator(".main-nav").get_by_role("link", name="Privacy requests", exact=True).click()
    assert page.locator(".main-nav").get_by_role("link", name="Approvals").count() == 0
    page.get_by_role("link", name="New privacy request").click()
    page.get_by_label("Workspace").select_option(label="Acme (US)")
    page.get_by_label("Suppress and delete (Segment and destinations)").check()
    page.get_by_label("IDs", exact=True).fill("user-1\nuser-2")
    page.get_by_label("Reason").fill("Ticket #4521")
    page.get_by_role("button", name="Request approval").click()
    assert page.get_by_test_id("state").inner_text() == "Waiting for approval"
    assert page.get_by_role("button", name="Approve").count() == 0
    detail = page.url
    assert browser_errors == []

    context = browser.new_context()
    admin = context.new_page()
    errors: list[str] = []
    admin.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        log_in(admin, live_server, "ada")
        admin.locator(".main-nav").get_by_role("link", name="Approvals", exact=True).click()
        # Its number, not 1: earlier browser tests' demo data leave approvals numbered before it.
        waiting = Approval.objects.get(state=Approval.State.WAITING)
        card = admin.get_by_test_id(f"approval-{waiting.pk}")
        assert "Ticket #4521" in card.inner_text() and "sam" in card.inner_text()
        card.get_by_label("Comment").fill("checked the ticket")
        card.get_by_role("button", name="Approve").click()
        assert "Approved and sent to Segment in 1 call" in admin.locator(".messages").inner_text()
        admin.goto(detail)
        assert admin.get_by_test_id("state").inner_text() == "Sent to Segment"
        regulation = admin.get_by_test_id("chunk-1").locator("code").inner_text()
        assert len(regulation) > 10
        for expected in ("Running", "Finished"):
            admin.get_by_role("button", name="Refresh").click()
            assert admin.get_by_test_id("chunk-1").get_by_test_id("status").inner_text() == expected

        admin.goto(f"{live_server.url}/audit/?call_type=privacy")
        listed = admin.locator("main").inner_text()
        assert "privacy.requested" in listed and "approval.approved" in listed
        for user_id in ("user-1", "user-2"):
            admin.goto(f"{live_server.url}/lookup/?identifier_type=user_id&identifier={user_id}")
            timeline = admin.get_by_test_id("timeline").inner_text()
            assert "privacy.requested" in timeline and "privacy.status_changed" in timeline
        assert errors == []
    finally:
        context.close()
