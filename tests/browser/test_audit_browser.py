"""In Chromium, under the real CSP: from the home chart into the audit log filtered to one day
and outcome, into an entry, Send again, and both entries linked; the user lookup."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from tests.audit.entries import WRITE_KEY, add_call, make_source
from tests.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)
SHOTS = os.environ.get("SEGADMIN_SCREENSHOTS", "")


def shot(page: Any, name: str) -> None:
    """Screenshots for a person to look at, when SEGADMIN_SCREENSHOTS names a folder."""
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


@pytest.fixture
def log(admin_user: Any, marketer: Any, fake_segment: Any) -> dict[str, Any]:
    fake_segment.add_write_key(WRITE_KEY)
    source = make_source("Web shop")
    now = timezone.now()
    entries: dict[str, Any] = {}
    for days in (9, 6, 3, 1):
        for i in range(days % 4 + 2):
            when = now - timedelta(days=days, minutes=i)
            with mock.patch("segadmin.audit.chain.timezone.now", return_value=when):
                add_call(
                    user=marketer,
                    source=source,
                    user_id=f"user-{days}-{i}",
                    event="Order Completed",
                    properties={"revenue": 12.5},
                )
    three_days_ago = now - timedelta(days=3, hours=1)
    with mock.patch("segadmin.audit.chain.timezone.now", return_value=three_days_ago):
        entries["failed"] = add_call(
            user=marketer,
            source=source,
            call_type="identify",
            user_id="alice",
            traits={"plan": "pro", "email": "alice@example.com"},
            status=None,
            error="timed out after 5 s",
        )
    entries["day"] = timezone.localtime(three_days_ago).date().isoformat()
    return entries


def test_from_the_home_chart_to_a_failed_entry_sent_again(
    page: Any,
    live_server: Any,
    browser_errors: list[str],
    admin_user: Any,
    log: dict,
    fake_segment: Any,
) -> None:
    page.set_viewport_size({"width": 1400, "height": 1000})
    log_in(page, live_server, "ada")
    chart = page.get_by_test_id("calls-chart")
    assert chart.is_visible()
    shot(page, "home")

    # The red segment of the day the call failed: a link into the filtered audit log.
    segment = chart.locator(f'a[data-day="{log["day"]}"][data-outcome="failed"]')
    assert segment.count() == 1
    segment.locator("rect").click()
    page.wait_for_url("**/audit/?**")
    assert f"date_from={log['day']}" in page.url and "outcome=failed" in page.url
    rows = page.get_by_test_id("audit-table").locator("tbody tr")
    assert rows.count() == 1
    assert page.get_by_label("Outcome").input_value() == "failed"
    shot(page, "audit-list-filtered")

    rows.first.get_by_role("link", name=f"#{log['failed'].seq}").click()
    page.wait_for_url(f"**/audit/{log['failed'].pk}/")
    assert page.get_by_test_id("request").is_visible()
    assert page.get_by_test_id("response").is_visible()
    assert page.get_by_test_id("entry-outcome").inner_text() == "failed timed out after 5 s"
    assert '"writeKey": "****"' in page.get_by_test_id("request-body").inner_text()
    shot(page, "audit-entry")

    page.get_by_role("button", name="Send again").click()
    page.wait_for_url("**/audit/*/")
    assert "Sent again as entry" in page.locator(".alert-success").inner_text()
    assert page.get_by_test_id("original-link").inner_text() == f"#{log['failed'].seq}"
    shot(page, "audit-entry-sent-again")
    page.get_by_test_id("original-link").click()
    page.wait_for_url(f"**/audit/{log['failed'].pk}/")
    assert "send again" in page.get_by_test_id("related").inner_text()
    assert [m["messageId"] for m in fake_segment.messages("/v1/identify")] == [
        log["failed"].message_id
    ]
    assert browser_errors == []


def test_the_user_lookup_and_the_verify_page_render_cleanly(
    page: Any, live_server: Any, browser_errors: list[str], admin_user: Any, log: dict
) -> None:
    page.set_viewport_size({"width": 1400, "height": 1000})
    log_in(page, live_server, "ada")
    page.get_by_role("link", name="User lookup").first.click()
    page.locator("#id_identifier").fill("alice")
    page.get_by_role("button", name="Look up").click()
    page.wait_for_url("**/lookup/?**")
    assert page.get_by_test_id("timeline").locator("tbody tr").count() == 1
    shot(page, "lookup")
    page.goto(f"{live_server.url}/audit/verify/")
    page.get_by_role("button", name="Verify now").click()
    assert "The audit log is intact." in page.get_by_test_id("verify-result").inner_text()
    shot(page, "verify")
    assert browser_errors == []


def test_a_marketer_sends_again_with_a_reason_shown_on_the_new_entry(
    page: Any,
    live_server: Any,
    browser_errors: list[str],
    marketer: Any,
    fake_segment: Any,
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    original = add_call(
        user=marketer, source=make_source("Web shop"), status=None, error="timed out after 5 s"
    )
    page.set_viewport_size({"width": 1400, "height": 1000})
    log_in(page, live_server, marketer.username)
    page.goto(f"{live_server.url}/audit/{original.pk}/")
    reason = page.get_by_label("Reason", exact=True)
    assert reason.get_attribute("maxlength") == "500"
    reason.fill("SUP-42: the first one timed out")
    shot(page, "audit-entry-send-again-reason")
    page.get_by_role("button", name="Send again").click()
    page.wait_for_url("**/audit/*/")
    assert "Sent again as entry" in page.locator(".alert-success").inner_text()
    assert page.get_by_test_id("entry-reason").inner_text() == "SUP-42: the first one timed out"
    shot(page, "audit-entry-sent-again-with-reason")
    assert len(fake_segment.messages("/v1/track")) == 1
    assert browser_errors == []


@pytest.mark.parametrize("who", ["ada", "marketer"])
def test_the_email_filter_finds_the_calls_with_an_email_for_each_role(
    page: Any,
    live_server: Any,
    browser_errors: list[str],
    admin_user: Any,
    marketer: Any,
    support: Any,
    log: dict,
    who: str,
) -> None:
    # Support's own call with the same email: an Admin finds it, the Marketer does not.
    theirs = add_call(
        user=support,
        source=make_source("Support desk", "wk_SUPPORTdesk0123456789abcdef"),
        call_type="identify",
        user_id="alice",
        traits={"email": "alice@example.com"},
    )
    username = who if who == "ada" else marketer.username
    page.set_viewport_size({"width": 1400, "height": 1000})
    log_in(page, live_server, username)
    page.get_by_role("link", name="Audit log").first.click()
    page.wait_for_url("**/audit/")
    page.get_by_label("Email", exact=True).fill("  ALICE@example.com ")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/audit/?**")
    assert "email=" in page.url
    rows = page.get_by_test_id("audit-table").locator("tbody tr")
    seqs = sorted(int(rows.nth(i).get_attribute("data-seq")) for i in range(rows.count()))
    expected = [log["failed"].seq] + ([theirs.seq] if who == "ada" else [])
    assert seqs == sorted(expected)
    assert "alice@example.com" in rows.first.locator(".audit-ids").inner_text()
    shot(page, f"audit-email-filter-{who}")

    page.get_by_label("Email", exact=True).fill("alice at example")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    assert "Enter an email address, such as ada@example.com." in page.content()
    assert page.get_by_test_id("filter-errors").is_visible()
    shot(page, f"audit-email-filter-error-{who}")
    assert browser_errors == []
