"""Accessibility in Chromium, under the real CSP: for each role, every page that role may open
(found by walking the URLconf, parametrised routes opened on the demo objects of
tests/demo_data.py) is checked with axe-core (WCAG 2 A/AA); a serious or critical violation, or
any console error, fails the test. Also: a send done with the keyboard alone, and the main pages
at a phone's width (390 px) without horizontal scrolling."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from segadmin.accounts.roles import ADMIN, MARKETER, SUPPORT
from tests import demo_data
from tests.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")


@pytest.fixture
def demo(fake_segment: Any) -> demo_data.Demo:
    fake_segment.seed_demo()
    return demo_data.build()


# --- Finding the pages ----------------------------------------------------------------------


def urls_of_routes(demo: demo_data.Demo) -> tuple[dict[str, str], list[str]]:
    """{route name: URL} for every route that can be opened, and the routes that lack a sample."""
    samples = demo_data.samples(demo)
    urls: dict[str, str] = {}
    missing: list[str] = []
    for route in demo_data.routes():
        if route.name in demo_data.NOT_PAGES:
            continue
        kwargs = samples.get(route.name, {}) if route.params else {}
        if set(kwargs) != set(route.params):
            missing.append(f"{route.name} ({route.pattern})")
            continue
        try:
            urls[route.name] = reverse(route.name, kwargs=kwargs)
        except NoReverseMatch as exc:
            missing.append(f"{route.name}: {exc}")
    return urls, missing


def test_every_route_has_a_sample(demo: demo_data.Demo) -> None:
    urls, missing = urls_of_routes(demo)
    assert missing == [], (
        "Routes without a sample object: add one to samples() in tests/demo_data.py (or, for "
        f"a route that is not a page, to NOT_PAGES): {missing}"
    )
    assert "audit:entry" in urls and "admin:auth_user_change" in urls


@dataclass(frozen=True)
class Page:
    name: str
    url: str


def pages_for(user: Any, demo: demo_data.Demo) -> tuple[list[Page], list[Page]]:
    """The full HTML pages ``user`` may open with a GET, and those refused with a 403. Never a
    server error."""
    urls, _ = urls_of_routes(demo)
    client = Client()
    client.force_login(user)
    pages: list[Page] = []
    forbidden: list[Page] = []
    errors: list[str] = []
    for name, url in urls.items():
        if name in ("accounts:login", "admin:login"):
            continue  # a logged-in person is sent on from the log-in page
        answer = client.get(url)
        if answer.status_code >= 500:
            errors.append(f"{url}: {answer.status_code}")
        elif answer.status_code == 403:
            forbidden.append(Page(name, url))
        elif (
            answer.status_code == 200
            and answer["Content-Type"].startswith("text/html")
            and b"<html" in answer.content[:500]  # not an htmx fragment
        ):
            pages.append(Page(name, url))
    for name, kwargs, query in demo_data.states(demo):
        url = f"{reverse(name, kwargs=kwargs)}?{query}"
        answer = client.get(url)
        if answer.status_code == 200:
            pages.append(Page(f"{name}?{query}", url))
        elif answer.status_code >= 500:
            errors.append(f"{url}: {answer.status_code}")
    assert errors == []
    return pages, forbidden


# --- axe-core -------------------------------------------------------------------------------


def inject_axe(page: Any) -> None:
    """axe-core from npm, into the page. A script tag (Playwright's add_script_tag) is refused by
    the page's CSP (no nonce), so the file's source is evaluated instead: evaluation through the
    DevTools protocol is not subject to the page's CSP."""
    if page.evaluate("typeof window.axe") == "undefined":
        page.evaluate(AXE.read_text(encoding="utf-8"))


def axe_violations(page: Any) -> list[str]:
    """The serious and critical WCAG 2 A/AA violations on the page, one line per node."""
    inject_axe(page)
    violations = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(" ") + " : " + n.failureSummary),
            }));
        }""",
        WCAG_TAGS,
    )
    found = []
    for violation in violations:
        if violation["impact"] in BLOCKING:
            for node in violation["nodes"][:5]:
                found.append(f"{violation['id']} ({violation['impact']}): {node}")
    return found


def check_page(page: Any, url: str) -> list[str]:
    page.goto(url)
    try:  # what htmx loads as the page opens; a page that polls never goes quiet
        page.wait_for_load_state("networkidle", timeout=3000)
    except PlaywrightTimeout:
        print(f"{url} still busy after 3 s (polling)")
    return [f"{url}: {problem}" for problem in axe_violations(page)]


# --- Every page, every role -----------------------------------------------------------------


@pytest.mark.parametrize("role", [MARKETER, SUPPORT, ADMIN])
def test_every_page_of_each_role_passes_axe_with_no_console_error(
    page: Any, live_server: Any, browser_errors: list[str], demo: demo_data.Demo, role: str
) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    user = demo.people[role]
    pages, forbidden = pages_for(user, demo)
    nav_urls = {reverse(item.url_name) for item in _navigation() if user.has_perm(item.permission)}
    assert nav_urls <= {p.url for p in pages}, "every link of the role's navigation is checked"

    problems = check_page(page, f"{live_server.url}/accounts/login/")
    log_in(page, live_server, user.get_username())
    for found in pages:
        problems += check_page(page, live_server.url + found.url)
    assert problems == [], "\n".join(problems)
    assert browser_errors == []
    if role != ADMIN:
        assert forbidden, "the walk reaches pages this role may not open, and they answer 403"


def _navigation() -> Any:
    from segadmin.accounts.navigation import NAVIGATION

    return NAVIGATION


def test_the_pages_before_log_in_and_the_error_pages_pass_axe(
    page: Any, live_server: Any, browser_errors: list[str], demo: demo_data.Demo
) -> None:
    """The set-password link's page (no one logged in), then 403 and 404 as a logged-in
    Marketer sees them. The only console errors allowed are Chromium's own line for the
    document's status."""
    link = reverse("users:set_password", kwargs=demo_data.samples(demo)["users:set_password"])
    assert check_page(page, live_server.url + link) == []
    assert page.get_by_label("New password", exact=False).first.is_visible()
    log_in(page, live_server, demo.people[MARKETER].get_username())
    problems = check_page(page, f"{live_server.url}/workspaces/")
    problems += check_page(page, f"{live_server.url}/no-such-page/")
    assert problems == [], "\n".join(problems)
    statuses = [e for e in browser_errors if "the server responded with a status of" in e]
    assert len(statuses) == 2
    assert [e for e in browser_errors if e not in statuses] == []
