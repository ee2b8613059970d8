"""In Chromium, under the real CSP: Support finds a user, opens Fix traits from Segment's
traits, sees before -> after, changes one trait with a reason and sends only that one; the
page passes axe-core (WCAG 2 A/AA) with no console error, with the keyboard alone."""

from __future__ import annotations

from typing import Any

import pytest

from segadmin.audit.models import AuditEntry, Kind
from segadmin.credentials.models import Workspace
from tests.audit.entries import WRITE_KEY, add_call, make_source
from tests.browser.test_accessibility import axe_violations
from tests.conftest import log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
PROFILE_TOKEN = "pt_FIXbrowserToken0123456789abcd"


@pytest.fixture
def alice(marketer: Any, fake_segment: Any) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    workspace = Workspace(name="Acme", region="us", profiles_space_id="spa_fixb")
    workspace.set_public_api_token("sgp_FIXbrowserPublic0123456789ab")
    workspace.set_profiles_token(PROFILE_TOKEN)
    workspace.save()
    source = make_source("Web shop", workspace=workspace)
    add_call(
        user=marketer,
        source=source,
        call_type="identify",
        user_id="alice",
        traits={"plan": "free", "age": 30},
    )
    fake_segment.state.add_space("spa_fixb", PROFILE_TOKEN)
    fake_segment.add_profile(
        space_id="spa_fixb",
        token=PROFILE_TOKEN,
        user_id="alice",
        traits={"plan": "pro", "age": 30},
    )


def test_support_fixes_one_trait_with_a_reason_seeing_before_and_after(
    page: Any,
    live_server: Any,
    browser_errors: list[str],
    fake_segment: Any,
    alice: None,
    support: Any,
) -> None:
    log_in(page, live_server, "sam")
    page.goto(f"{live_server.url}/lookup/?identifier_type=user_id&identifier=alice")
    page.get_by_test_id("read-profile").click()
    page.get_by_role("button", name="Fix traits (start from Segment's)").wait_for()
    assert (
        "only the traits you change are sent" in page.get_by_test_id("starting-points").inner_text()
    )
    page.get_by_role("button", name="Fix traits (start from Segment's)").click()

    banner = page.get_by_test_id("fix-banner")
    banner.wait_for()
    assert "alice" in banner.inner_text()
    plan = page.get_by_label("New value of plan")
    assert plan.input_value() == "pro"  # Segment's value, the starting point
    row = page.locator('tr[data-trait="plan"]')
    assert '"pro"' in row.inner_text() and '"free"' in row.inner_text()  # Segment's, ours
    assert axe_violations(page) == []

    plan.focus()  # the keyboard alone from here
    page.keyboard.press("Control+a")
    page.keyboard.type("enterprise")
    page.get_by_label("Reason").focus()
    page.keyboard.type("SUP-1234")
    page.get_by_role("button", name="Send", exact=True).focus()
    page.keyboard.press("Enter")
    page.get_by_test_id("fix-entry").wait_for()

    (message,) = [m for m in fake_segment.messages() if m.get("type") == "identify"]
    assert message["traits"] == {"plan": "enterprise"}  # age unchanged: not sent
    entry = AuditEntry.objects.get(kind=Kind.REQUEST, call_type="identify", reason="SUP-1234")
    assert entry.user_id == "alice"
    assert axe_violations(page) == []
    assert browser_errors == []
