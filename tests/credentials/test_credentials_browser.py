"""The Admin journey in Chromium, under the real CSP: add a workspace, test it, import sources."""

from __future__ import annotations

import re

import pytest

from segadmin.audit.models import AuditEntry
from segadmin.credentials.models import Source
from tests.conftest import log_in
from tests.credentials.conftest import TOKEN, PublicApi, assert_no_secret

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_adds_a_workspace_tests_it_and_imports_its_sources(
    page, live_server, browser_errors, admin_user, public_api: PublicApi
) -> None:
    public_api.add_sources(range(1, 6))
    log_in(page, live_server, "ada")
    page.get_by_role("link", name="Workspaces").first.click()
    page.get_by_role("link", name="Add workspace").click()
    page.get_by_label("Name").fill("Acme")
    page.get_by_label("Public API token").fill(TOKEN)
    page.get_by_role("button", name="Add workspace").click()
    page.get_by_role("heading", name="Acme").wait_for()

    # Test connection swaps its result in place (htmx), without reloading the page.
    page.get_by_role("button", name="Test connection").click()
    result = page.get_by_test_id("connection-result")
    result.wait_for()
    assert result.inner_text().strip() == "This token opens workspace “Acme” (acme)."
    assert page.locator("#segment-workspace").inner_text().startswith("acme")

    # Two presses: Import sources opens the page, which lists the sources by itself ...
    page.get_by_role("link", name="Import sources").click()
    page.get_by_test_id("import-list").wait_for()
    assert page.get_by_role("checkbox", name="Import Site").count() == 5
    # Labelled environment: prod in Segment, each is proposed as Production.
    assert page.get_by_role("checkbox", name="Production").count() == 5
    page.get_by_label("Import Site 3").uncheck()
    # (The name is read with a space before the visually hidden, absolutely placed part.)
    page.get_by_role("checkbox", name=re.compile(r"^Production\W+Site 2$")).uncheck()
    # ... and Import the chosen sources imports them.
    page.get_by_role("button", name="Import the chosen sources").click()
    page.wait_for_url(f"{live_server.url}/sources/")
    assert "Imported 4 sources from “Acme”" in page.content()
    assert sorted(Source.objects.values_list("name", flat=True)) == [
        "Site 1",
        "Site 2",
        "Site 4",
        "Site 5",
    ]
    assert_no_secret(page.content())
    assert sorted(Source.objects.filter(production=True).values_list("name", flat=True)) == [
        "Site 1",
        "Site 4",
        "Site 5",
    ]
    assert AuditEntry.objects.filter(action="credential.imported").count() == 4
    assert browser_errors == []
