"""In Chromium, under the real CSP: a bookmarked lookup shows our history and asks Segment
nothing until the person presses the button, which reads the Profile API by POST; a lookup
typed into the form puts its bookmarkable address in the address bar."""

from __future__ import annotations

from typing import Any

import pytest

from segadmin.credentials.models import Workspace
from tests.audit.entries import add_call, make_source
from tests.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)
PROFILE_TOKEN = "pt_LOOKUPbrowserToken0123456789"


@pytest.fixture
def alice(fake_segment: Any, marketer: Any) -> None:
    workspace = Workspace(name="Acme", region="us", profiles_space_id="spa_browser")
    workspace.set_public_api_token("sgp_LOOKUPbrowserPublic0123456789")
    workspace.set_profiles_token(PROFILE_TOKEN)
    workspace.save()
    source = make_source(workspace=workspace)
    add_call(user=marketer, source=source, call_type="identify", user_id="alice", traits={"a": 1})
    fake_segment.state.add_space("spa_browser", PROFILE_TOKEN)
    fake_segment.add_profile(
        space_id="spa_browser", token=PROFILE_TOKEN, user_id="alice", traits={"a": 2}
    )


def test_a_bookmarked_lookup_reads_segments_traits_only_when_asked(
    page: Any,
    live_server: Any,
    browser_errors: list[str],
    admin_user: Any,
    alice: None,
    fake_segment: Any,
) -> None:
    log_in(page, live_server, "ada")
    bookmark = f"{live_server.url}/lookup/?identifier_type=user_id&identifier=alice"
    page.goto(bookmark)
    assert page.get_by_test_id("timeline").locator("tbody tr").count() == 1
    assert fake_segment.requests == []
    page.get_by_test_id("read-profile").click()
    page.get_by_test_id("comparison").wait_for()
    assert page.locator('[data-trait="a"]').get_attribute("data-state") == "different"
    assert len(fake_segment.requests) == 1
    assert page.url == bookmark

    page.locator("#id_identifier").fill("bob")
    page.get_by_role("button", name="Look up").click()
    page.wait_for_url("**/lookup/?identifier_type=user_id&identifier=bob")
    assert page.get_by_test_id("no-calls").is_visible()
    assert browser_errors == []


def test_support_finds_a_user_by_email_and_sees_them_among_the_recently_viewed(
    page: Any,
    live_server: Any,
    browser_errors: list[str],
    support: Any,
    marketer: Any,
) -> None:
    source = make_source()
    add_call(
        user=marketer,
        source=source,
        call_type="identify",
        user_id="nina-1",
        traits={"email": "nina@example.com", "plan": "pro"},
    )
    add_call(user=marketer, source=source, user_id="nina-1", event="Signed Up")
    log_in(page, live_server, "sam")
    page.locator(".main-nav").get_by_role("link", name="User lookup").click()
    page.get_by_label("Email").check()
    page.locator("#id_identifier").fill("Nina@Example.com")
    page.get_by_role("button", name="Look up").click()
    page.get_by_test_id("by-email").wait_for()
    assert "nina-1" in page.get_by_test_id("by-email").inner_text()
    assert page.get_by_test_id("looked-up").inner_text() == "nina-1"
    assert page.get_by_test_id("timeline").locator("tbody tr").count() == 2
    page.wait_for_url("**/lookup/?identifier_type=email&identifier=nina%40example.com")

    page.goto(f"{live_server.url}/lookup/")
    recent = page.get_by_test_id("recent-lookups")
    recent.get_by_role("link", name="nina@example.com").click()
    page.get_by_test_id("by-email").wait_for()
    assert page.get_by_test_id("looked-up").inner_text() == "nina-1"
    assert browser_errors == []
