"""In Chromium, under the real CSP: a send done with the keyboard alone (log in, the navigation,
the form, Send), and every main page at a phone's width (390 px) without horizontal scrolling."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from segadmin.accounts.navigation import NAVIGATION
from segadmin.accounts.roles import ADMIN, MARKETER, SUPPORT
from segadmin.audit.models import AuditEntry
from tests import demo_data
from tests.browser.test_accessibility import axe_violations
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo(fake_segment: Any) -> demo_data.Demo:
    fake_segment.seed_demo()
    return demo_data.build(calls=6)


def focused(page: Any) -> str:
    return page.evaluate(
        """() => { const e = document.activeElement;
                   return `${e.tagName} ${e.name || ""} ${(e.innerText || "").trim()}`; }"""
    )


def tab_to(page: Any, selector: str, *, most: int = 60) -> None:
    """Press Tab until the element matching ``selector`` has the focus (failing after ``most``
    presses): it is reachable with the keyboard, in a sensible order."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} never took the focus; the focus is on {focused(page)}")


def test_a_marketer_sends_an_identify_with_the_keyboard_alone(
    page: Any, live_server: Any, browser_errors: list[str], demo: demo_data.Demo, fake_segment: Any
) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/accounts/login/")
    tab_to(page, "input[name=username]")
    page.keyboard.type("maria")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/")

    # The skip link is the first stop, and takes the focus past the navigation.
    page.keyboard.press("Tab")
    assert focused(page).startswith("A  Skip to the content")
    # The navigation, then Identify.
    tab_to(page, "nav a[href='/calls/identify/']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/calls/identify/")

    tab_to(page, "select[name=source]")
    page.keyboard.type("Backend")  # a closed select picks the option typed
    assert page.locator("select[name=source] option:checked").inner_text().startswith("Backend")
    # The change sends htmx's redraw of the editor (calls/planned.py), which disables Send
    # until it answers; Tab skips a disabled button, so wait for it before tabbing to Send.
    expect(page.locator("button[value=send]")).to_be_enabled()
    # Send with no user: refused, the focus on the error summary, whose link leads to the field.
    tab_to(page, "button[value=send]")
    page.keyboard.press("Enter")
    page.get_by_test_id("form-errors").wait_for()
    # forms.js moves the focus once htmx has settled the swap, a moment after the summary shows.
    on_summary = "() => document.activeElement.matches('[data-error-summary]')"
    page.wait_for_function(on_summary, timeout=5000)
    assert axe_violations(page) == []  # the refused form too (error summary, invalid fields)
    tab_to(page, "[data-testid=error-link]", most=3)
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.name") in ("user_id", "anonymous_id")
    page.evaluate("() => document.activeElement.blur()")
    page.locator("body").focus()

    tab_to(page, "input[name=user_id]")
    page.keyboard.type("user-kb-1")
    tab_to(page, "input[name=traits__key]")
    page.keyboard.type("favourite_colour")
    tab_to(page, "input[name=traits__value]")
    page.keyboard.type("teal")
    tab_to(page, "button[value=send]")
    page.keyboard.press("Enter")

    page.get_by_test_id("result").wait_for()
    assert page.get_by_test_id("result-status").inner_text() == "200"
    [message] = [m for m in fake_segment.messages("/v1/identify") if m["userId"] == "user-kb-1"]
    assert message["traits"] == {"favourite_colour": "teal"}
    assert browser_errors == []


# --- 390 px wide ------------------------------------------------------------------------------

PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("role", [MARKETER, SUPPORT, ADMIN])
def test_the_main_pages_fit_a_phone_without_horizontal_scrolling(
    browser: Any, live_server: Any, demo: demo_data.Demo, role: str
) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    user = demo.people[role]
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(user.get_username())
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")

    urls = ["/"] + [reverse(i.url_name) for i in NAVIGATION if user.has_perm(i.permission)]
    samples = demo_data.samples(demo)
    own = AuditEntry.objects.filter(username=user.get_username(), kind="request").first()
    urls += [reverse("audit:entry", kwargs={"pk": own.pk})] if own else []
    if user.has_perm("accounts.view_tracking_plans"):
        urls.append(reverse("plans:detail", kwargs=samples["plans:detail"]))
    if role == MARKETER:
        urls.append(reverse("bulk:job", kwargs=samples["bulk:job"]))
    too_wide = []
    for url in urls:
        page.goto(live_server.url + url)
        page.wait_for_load_state("load")
        scroll, width = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        if scroll > width:
            wide = page.evaluate(
                """(w) => [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > w + 1)
                    .filter(e => !e.parentElement.closest('.table-responsive, pre, .overflow-auto'))
                    .slice(0, 3).map(e => e.tagName + '.' + [...e.classList].join('.')
                                          + ' ' + (e.innerText || '').slice(0, 30))""",
                width,
            )
            too_wide.append(f"{url}: {scroll} px wide for {width} ({wide})")
    assert len(urls) >= 5
    assert too_wide == [], "\n".join(too_wide)
    assert errors == []
    context.close()
