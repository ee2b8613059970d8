"""Single sign-on in Chromium against a real OpenID Connect provider (npm oidc-provider on a
loopback port, tests/oidc/provider.mjs): roles from groups, the refusal of a person in no mapped
group, log-out, a role change at the next log-in, an altered state and a wrong nonce, and
password log-in turned off with a break-glass superuser."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.models import Group, User

from segadmin.accounts.navigation import NAVIGATION
from tests.browser.test_audit_browser import shot
from tests.conftest import PASSWORD
from tests.oidc.segadmin_sso import (
    CALLBACK_PATH,
    PROVIDER_NAME,
    all_audit_text,
    audit_events,
    sso_log_in,
    sso_log_out,
)

pytestmark = pytest.mark.django_db(transaction=True)


def labels_for(role: str) -> list[str]:
    """The navigation a person of ``role`` sees (NAVIGATION filtered by the role's permissions)."""
    codenames = set(Group.objects.get(name=role).permissions.values_list("codename", flat=True))
    return [item.label for item in NAVIGATION if item.permission.split(".")[1] in codenames]


def nav_labels(page: Any) -> list[str]:
    return [text.strip() for text in page.locator("ul.main-nav a.nav-link").all_inner_texts()]


def assert_logged_out(page: Any, live_server: Any) -> None:
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url


def test_a_marketing_person_logs_in_as_a_marketer_and_logs_out(
    page, live_server, browser_errors, sso
) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.get_by_role("button", name=f"Log in with {PROVIDER_NAME}").is_visible()
    sso_log_in(page, live_server, sso, "mallory.marketing")
    assert page.get_by_test_id("whoami").inner_text().split() == ["mallory.marketing", "Marketer"]
    assert nav_labels(page) == labels_for("Marketer")
    assert "Users" not in nav_labels(page)
    assert "User lookup" not in nav_labels(page)

    user = User.objects.get(username="mallory.marketing")
    assert list(user.groups.values_list("name", flat=True)) == ["Marketer"]
    assert not user.has_usable_password()
    assert user.email == "mallory.marketing@example.com"
    assert SocialAccount.objects.get(user=user).provider == "sso"
    [created] = audit_events("user.created")
    assert created["target"] == "mallory.marketing"
    assert created["details"]["roles"] == ["Marketer"]
    assert created["details"]["sign_in"] == "single sign-on"
    [logged_in] = audit_events("user.logged_in")
    assert logged_in["username"] == "mallory.marketing"
    assert logged_in["role"] == "Marketer"
    assert logged_in["details"]["groups"] == ["marketing"]
    assert logged_in["details"]["provider"] == PROVIDER_NAME

    sso_log_out(page, live_server, sso)
    assert_logged_out(page, live_server)
    assert sso.client_secret not in all_audit_text()
    assert browser_errors == []


def test_log_out_ends_the_session_at_the_provider_too(
    page, live_server, browser_errors, sso
) -> None:
    """The next person at the browser pressing "Log in with …" is asked who they are, not
    signed straight in as the one who logged out."""
    sso_log_in(page, live_server, sso, "alice.admin")
    page.get_by_test_id("whoami").click()
    page.get_by_role("button", name="Log out").click()
    # segadmin's session is over before the provider is asked.
    page.wait_for_url(f"{sso.issuer}/session/end**")
    assert "client_id=" in page.url and "post_logout_redirect_uri=" in page.url
    assert page.get_by_role("heading", name="Test identity provider: sign out").is_visible()
    shot(page, "sso-provider-sign-out")
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/")
    assert page.get_by_role("button", name=f"Log in with {PROVIDER_NAME}").is_visible()
    shot(page, "sso-after-provider-sign-out")
    assert_logged_out(page, live_server)

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("button", name=f"Log in with {PROVIDER_NAME}").click()
    page.wait_for_url(f"{sso.issuer}/interaction/**")
    assert page.get_by_label("Username").is_visible()
    sso_log_in(page, live_server, sso, "sam.support")
    assert page.get_by_test_id("whoami").inner_text().split() == ["sam.support", "Support"]
    assert browser_errors == []


def test_staying_signed_in_at_the_provider_still_logs_out_of_segadmin(
    page, live_server, browser_errors, sso
) -> None:
    sso_log_in(page, live_server, sso, "mallory.marketing")
    page.get_by_test_id("whoami").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{sso.issuer}/session/end**")
    page.get_by_role("button", name="No, stay signed in").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/")
    assert_logged_out(page, live_server)
    assert browser_errors == []


def test_a_support_person_logs_in_as_support(page, live_server, browser_errors, sso) -> None:
    sso_log_in(page, live_server, sso, "sam.support")
    assert page.get_by_test_id("whoami").inner_text().split() == ["sam.support", "Support"]
    assert nav_labels(page) == labels_for("Support")
    assert "User lookup" in nav_labels(page)
    assert "Users" not in nav_labels(page)
    assert browser_errors == []


def test_a_person_in_both_marketing_and_admins_gets_the_higher_role(page, live_server, sso) -> None:
    sso_log_in(page, live_server, sso, "alice.admin")
    assert page.get_by_test_id("whoami").inner_text().split() == ["alice.admin", "Admin"]
    assert "Users" in nav_labels(page)


def test_a_person_in_no_mapped_group_is_refused_with_a_clear_page(
    page, live_server, browser_errors, sso
) -> None:
    sso_log_in(page, live_server, sso, "oscar.outsider", expect_home=False)
    assert page.get_by_role("heading", name="You have no access to segadmin").is_visible()
    assert "oscar.outsider" in page.get_by_test_id("sso-refused").inner_text()
    assert not User.objects.filter(username="oscar.outsider").exists()
    [failed] = audit_events("user.login_failed")
    assert failed["target"] == "oscar.outsider"
    assert failed["details"]["reason"] == "no_mapped_group"
    assert failed["details"]["groups"] == ["finance"]
    assert audit_events("user.logged_in") == []
    assert_logged_out(page, live_server)
    # The refusal page answers 403 (console shows it as a failed resource): nothing else.
    assert all("403" in error for error in browser_errors), browser_errors


def test_a_role_change_at_the_provider_is_the_role_at_the_next_log_in(
    page, live_server, sso
) -> None:
    sso_log_in(page, live_server, sso, "sam.support")
    assert page.get_by_test_id("whoami").inner_text().split() == ["sam.support", "Support"]
    sso_log_out(page, live_server, sso)

    sso.set_groups("sam.support", ["marketing"])
    sso_log_in(page, live_server, sso, "sam.support")
    assert page.get_by_test_id("whoami").inner_text().split() == ["sam.support", "Marketer"]
    assert nav_labels(page) == labels_for("Marketer")
    user = User.objects.get(username="sam.support")
    assert list(user.groups.values_list("name", flat=True)) == ["Marketer"]
    [changed] = audit_events("role.changed")
    assert changed["target"] == "sam.support"
    assert changed["username"] == f"single sign-on ({PROVIDER_NAME})"
    assert changed["details"]["before"] == {"roles": ["Support"]}
    assert changed["details"]["after"] == {"roles": ["Marketer"]}
    assert changed["details"]["groups"] == ["marketing"]

    # Out of every mapped group: refused, and the account keeps no role.
    sso_log_out(page, live_server, sso)
    sso.set_groups("sam.support", ["finance"])
    sso_log_in(page, live_server, sso, "sam.support", expect_home=False)
    assert page.get_by_role("heading", name="You have no access to segadmin").is_visible()
    assert not user.groups.exists()
    assert audit_events("role.changed")[-1]["details"]["after"] == {"roles": []}
    assert audit_events("user.login_failed")[-1]["details"]["reason"] == "no_mapped_group"
    assert_logged_out(page, live_server)


def _hold_the_way_back(page: Any) -> dict[str, str]:
    """Submits the provider's consent itself and keeps the address it sends the browser back
    to (segadmin's callback, with the code and the state), without going there. (Playwright
    does not intercept the redirects a navigation follows, so the form's post is taken.)"""
    caught: dict[str, str] = {}

    def hold(route: Any) -> None:
        response = route.fetch(max_redirects=0)
        location = urljoin(route.request.url, response.headers["location"])
        while CALLBACK_PATH not in location:
            response = page.request.get(location, max_redirects=0)
            location = urljoin(location, response.headers["location"])
        caught["url"] = location
        route.fulfill(status=200, content_type="text/html", body="<title>held</title><p>held")

    page.route("**/interaction/*/confirm", hold)
    return caught


def test_an_altered_state_is_refused_and_audited(page, live_server, browser_errors, sso) -> None:
    caught = _hold_the_way_back(page)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("button", name=f"Log in with {PROVIDER_NAME}").click()
    page.get_by_label("Username").fill("mallory.marketing")
    page.get_by_label("Password").fill("sso-test-password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_function("document.title === 'held'")
    query = parse_qs(urlparse(caught["url"]).query)
    assert query["code"] and query["state"]
    query["state"] = [query["state"][0][:-2] + "xx"]
    altered = f"{live_server.url}{CALLBACK_PATH}?{urlencode(query, doseq=True)}"
    response = page.goto(altered)
    assert response.status == 400
    assert page.get_by_role("heading", name=f"Log-in with {PROVIDER_NAME} failed").is_visible()
    assert "could not be matched" in page.get_by_test_id("sso-failed").inner_text()
    assert not User.objects.filter(username="mallory.marketing").exists()
    [failed] = audit_events("user.login_failed")
    assert failed["details"]["reason"] == "state"
    assert sso.client_secret not in page.content()
    assert_logged_out(page, live_server)
    # The same answer with its own state still works (the altered one spent nothing).
    page.goto(caught["url"].replace("http://127.0.0.1:", "http://localhost:"))
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_test_id("whoami").inner_text().split() == ["mallory.marketing", "Marketer"]


def test_an_id_token_with_another_nonce_is_refused_and_audited(page, live_server, sso) -> None:
    sso.issue_wrong_nonce()
    sso_log_in(page, live_server, sso, "mallory.marketing", expect_home=False)
    assert page.get_by_role("heading", name=f"Log-in with {PROVIDER_NAME} failed").is_visible()
    assert "did not match this log-in" in page.get_by_test_id("sso-failed").inner_text()
    assert not User.objects.filter(username="mallory.marketing").exists()
    [failed] = audit_events("user.login_failed")
    assert failed["details"]["reason"] == "nonce"
    assert failed["target"] == "mallory.marketing"
    assert audit_events("user.logged_in") == []
    assert_logged_out(page, live_server)


def test_cancelling_at_the_provider_is_a_failed_log_in_on_the_record(
    page, live_server, sso
) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("button", name=f"Log in with {PROVIDER_NAME}").click()
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_url(f"{live_server.url}{CALLBACK_PATH}**")
    assert "cancelled" in page.get_by_test_id("sso-failed").inner_text()
    [failed] = audit_events("user.login_failed")
    assert failed["details"]["reason"] == "cancelled"
    assert failed["details"]["provider_error"] == "access_denied"


def test_with_password_log_in_off_only_a_break_glass_superuser_uses_a_password(
    page, live_server, browser_errors, settings, sso, marketer, superuser
) -> None:
    settings.SEGADMIN_PASSWORD_LOGIN = False
    settings.SEGADMIN_BREAK_GLASS_USERS = ["root"]
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.get_by_role("button", name=f"Log in with {PROVIDER_NAME}").is_visible()
    assert page.get_by_label("Password").count() == 0
    assert page.get_by_role("button", name="Log in", exact=True).count() == 0

    # A forged password post (the form is not there) is refused, and audited.
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        f"{live_server.url}/accounts/login/",
        form={"csrfmiddlewaretoken": token, "username": "maria", "password": PASSWORD},
        headers={"Referer": f"{live_server.url}/accounts/login/"},
    )
    assert response.status == 200
    assert "Password log-in is turned off" in response.text()
    assert_logged_out(page, live_server)
    [failed] = audit_events("user.login_failed")
    assert failed["target"] == "maria"
    assert failed["details"] == {
        "method": "password",
        "provider": "",
        "reason": "password_login_off",
    }

    # The break-glass superuser has the password form at ?break-glass.
    page.goto(f"{live_server.url}/accounts/login/?break-glass")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_test_id("whoami").inner_text().startswith("root")
    assert browser_errors == []


def test_an_account_of_the_same_name_not_linked_to_the_provider_is_not_taken_over(
    page, live_server, sso
) -> None:
    from tests.conftest import make_user

    local = make_user("alice.admin", None)
    sso_log_in(page, live_server, sso, "alice.admin", expect_home=False)
    assert "already has an account of that name" in page.get_by_test_id("sso-failed").inner_text()
    assert not SocialAccount.objects.exists()
    assert not local.groups.exists()
    assert User.objects.filter(username__istartswith="alice").count() == 1
    assert audit_events("user.login_failed")[-1]["details"]["reason"] == "username_taken"
    assert_logged_out(page, live_server)


def test_the_single_sign_on_pages_pass_axe(
    page, live_server, browser_errors, settings, sso
) -> None:
    from tests.browser.test_accessibility import axe_violations

    problems = []
    page.goto(f"{live_server.url}/accounts/login/")
    problems += axe_violations(page)
    settings.SEGADMIN_PASSWORD_LOGIN = False
    page.goto(f"{live_server.url}/accounts/login/")
    problems += axe_violations(page)
    sso_log_in(page, live_server, sso, "oscar.outsider", expect_home=False)
    assert page.get_by_test_id("sso-refused").is_visible()
    problems += axe_violations(page)
    page.context.clear_cookies()
    sso.issue_wrong_nonce()
    sso_log_in(page, live_server, sso, "mallory.marketing", expect_home=False)
    assert page.get_by_test_id("sso-failed").is_visible()
    problems += axe_violations(page)
    assert problems == [], "\n".join(problems)
    # The refusal (403) and the failure (400): Chromium's own line for each status, nothing else.
    assert len(browser_errors) == 2, browser_errors
    assert all("the server responded with a status of" in e for e in browser_errors)


def test_single_sign_on_returns_to_the_page_that_asked_for_a_log_in(page, live_server, sso) -> None:
    page.goto(f"{live_server.url}/lookup/")
    assert "/accounts/login/?next=/lookup/" in page.url
    page.get_by_role("button", name=f"Log in with {PROVIDER_NAME}").click()
    page.get_by_label("Username").fill("sam.support")
    page.get_by_label("Password").fill("sso-test-password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{live_server.url}/lookup/")
    assert page.get_by_test_id("whoami").inner_text().split() == ["sam.support", "Support"]


def test_a_new_person_whose_email_another_account_has_is_created_without_it(
    page, live_server, sso
) -> None:
    from tests.conftest import make_user

    make_user("maria", "Marketer", email="mallory.marketing@example.com")
    sso_log_in(page, live_server, sso, "mallory.marketing")
    assert page.get_by_test_id("whoami").inner_text().split() == ["mallory.marketing", "Marketer"]
    created = User.objects.get(username="mallory.marketing")
    assert created.email == ""
    assert User.objects.get(username="maria").email == "mallory.marketing@example.com"


def test_with_the_provider_down_log_in_with_it_fails_on_a_page_and_passwords_still_work(
    page, live_server, browser_errors, settings, marketer, refused_url
) -> None:
    """The provider's port closed: "Log in with …" answers segadmin's failure page (502,
    naming the provider, not its address), on the record; the password form still logs in."""
    from types import SimpleNamespace

    from tests.oidc.segadmin_sso import configure

    secret = "client-secret-of-a-provider-that-is-down"
    configure(
        settings, SimpleNamespace(issuer=refused_url, client_id="segadmin", client_secret=secret)
    )
    page.goto(f"{live_server.url}/accounts/login/")
    with page.expect_response(lambda r: r.url.endswith("/accounts/oidc/sso/login/")) as answer:
        page.get_by_role("button", name=f"Log in with {PROVIDER_NAME}").click()
    assert answer.value.status == 502
    page.wait_for_load_state()
    assert page.get_by_role("heading", name=f"Log-in with {PROVIDER_NAME} failed").is_visible()
    text = page.get_by_test_id("sso-failed").inner_text()
    assert f"could not reach {PROVIDER_NAME}" in text
    assert refused_url.split("//")[1] not in page.content() and secret not in page.content()
    shot(page, "sso-provider-down")
    [failed] = audit_events("user.login_failed")
    assert failed["details"]["reason"] == "provider_unreachable"
    assert failed["details"]["exception"] == "ConnectionError"
    assert secret not in all_audit_text()
    page.get_by_role("link", name="Back to the log-in page").click()
    page.get_by_label("Username").fill(marketer.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(f"{live_server.url}/")
    # Chromium reports the page's own 502 on its console; nothing else went wrong.
    assert [e for e in browser_errors if "status of 502 (Bad Gateway)" not in e] == []
