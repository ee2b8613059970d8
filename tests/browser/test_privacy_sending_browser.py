"""Approving a privacy request in Chromium: the page says it is sending and follows the worker
by htmx (under the CSP, no console error) until the request is sent, without a reload."""

from __future__ import annotations

import pytest
from django_tasks_db.models import DBTaskResult

from segadmin.privacy import tasks
from segadmin.privacy.models import PrivacyRequest
from tests.conftest import TOKEN, log_in
from tests.privacy.conftest import filed

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_request_page_follows_the_background_send(
    page, live_server, browser_errors, support, admin_user, workspace, fake_segment, settings
) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    fake_segment.add_workspace(TOKEN, id="ws_1")
    request = filed(support, workspace, ids=[f"u{i}" for i in range(7_000)])
    log_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/privacy/{request.pk}/")
    page.get_by_role("button", name="Approve").click()
    told = page.locator(".messages").inner_text()
    assert "Sending to Segment in 2 calls in the background" in told
    page.goto(f"{live_server.url}/privacy/{request.pk}/")
    sending = page.get_by_test_id("sending")
    assert "0 of 2 calls sent" in sending.inner_text()
    assert page.get_by_role("button", name="Retry").count() == 0

    [job] = DBTaskResult.objects.filter(task_path=tasks.send_privacy_request.module_path)
    assert tasks.run_send(*job.args_kwargs["args"]) == PrivacyRequest.State.SENT
    # The page learns it by polling (every 2 s), not by a reload.
    page.get_by_test_id("state").filter(has_text="Sent to Segment").wait_for(timeout=10_000)
    assert page.get_by_test_id("sending").count() == 0
    assert page.get_by_test_id("chunk-2").locator("code").inner_text() != "—"
    assert browser_errors == []
