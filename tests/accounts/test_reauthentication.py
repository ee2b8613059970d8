"""Re-authentication before sensitive actions (segadmin.accounts.reauth): adding or changing a
workspace token or a source write key, approving or rejecting, and Make an API call need a
log-in or a confirmation (password or second-factor code) in the last five minutes. Without
one, the form's GET and a forged POST alike are sent to confirm, and nothing is stored or sent;
after confirming with the password or with a code computed here, the page opens."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from segadmin.audit.models import AuditEntry
from segadmin.credentials.models import Source, Workspace
from tests.calls.conftest import WRITE_KEY
from tests.conftest import PASSWORD, mark_recently_authenticated
from tests.factories import make_source
from tests.second_factor import enrol, totp

pytestmark = pytest.mark.django_db

CONFIRM = "/accounts/reauthenticate/"
NEW_TOKEN = "sgp_NEWtokenAbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
NEW_KEY = "newWriteKeyAbCdEfGhIjKlMnOpQr012"


@pytest.fixture
def source(workspace: Workspace) -> Source:
    return make_source("Web", WRITE_KEY, workspace=workspace)


def stale(client: Client, user: Any) -> Client:
    """``client`` logged in as ``user`` six minutes ago, nothing confirmed since."""
    client.force_login(user)
    mark_recently_authenticated(client.session, user, at=time.time() - 360)
    return client


def actions(workspace: Workspace, source: Source) -> list[tuple[str, dict[str, Any]]]:
    """Each sensitive page with a POST that would change or send something."""
    return [
        (
            reverse("credentials:workspace_add"),
            {"name": "Forged", "region": "us", "token": NEW_TOKEN},
        ),
        (
            reverse("credentials:workspace_edit", args=[workspace.pk]),
            {"name": "Renamed", "region": "us", "token": NEW_TOKEN},
        ),
        (
            reverse("credentials:source_add"),
            {"name": "Forged", "region": "us", "write_key": NEW_KEY},
        ),
        (
            reverse("credentials:source_edit", args=[source.pk]),
            {"name": "Renamed", "region": "us", "write_key": NEW_KEY},
        ),
        (
            reverse("calls:api"),
            {
                "api": "tracking",
                "method": "POST",
                "url": "/v1/track",
                "source": str(source.pk),
                "body": '{"userId": "u1", "event": "Forged"}',
                "headers__mode": "rows",
                "query__mode": "rows",
                "action": "send",
            },
        ),
    ]


def nothing_changed(workspace: Workspace, source: Source, entries_before: int) -> None:
    workspace.refresh_from_db()
    source.refresh_from_db()
    assert workspace.name == "Acme" and workspace.public_api_token() != NEW_TOKEN
    assert source.name == "Web" and source.write_key() == WRITE_KEY
    assert not Workspace.objects.filter(name="Forged").exists()
    assert not Source.objects.filter(name="Forged").exists()
    assert AuditEntry.objects.count() == entries_before  # nothing recorded, nothing sent


def test_each_sensitive_page_and_forged_post_asks_to_confirm_first(
    client: Client, admin_user: Any, workspace: Workspace, source: Source, fake_segment: Any
) -> None:
    stale(client, admin_user)
    before = AuditEntry.objects.count()
    for path, data in actions(workspace, source):
        for response in (client.get(path), client.post(path, data)):
            assert response.status_code == 302, path
            assert response["Location"] == f"{CONFIRM}?next={path.replace('/', '%2F')}", path
        # htmx (the Send button of Make an API call): the whole page goes to confirm.
        htmx = client.post(path, data, HTTP_HX_REQUEST="true")
        assert htmx["HX-Redirect"].startswith(CONFIRM), path
    nothing_changed(workspace, source, before)
    assert fake_segment.messages() == []


def test_approving_or_rejecting_asks_to_confirm_first(client: Client, admin_user: Any) -> None:
    stale(client, admin_user)
    for decision in ("approve", "reject"):
        response = client.post(
            reverse("approvals:decide", args=[12345]), {"decision": decision, "comment": ""}
        )
        # Sent to confirm before the approval is even looked up (this one does not exist).
        assert response.status_code == 302
        assert response["Location"].startswith(CONFIRM)
        assert "next=%2Fapprovals%2F" in response["Location"]
    mark_recently_authenticated(client.session, admin_user)
    fresh = client.post(reverse("approvals:decide", args=[12345]), {"decision": "approve"})
    assert fresh.status_code == 404


def test_confirming_the_password_opens_each_page(
    client: Client, admin_user: Any, workspace: Workspace, source: Source
) -> None:
    stale(client, admin_user)
    for number, (path, _) in enumerate(actions(workspace, source)):
        assert client.get(path).status_code == 302
        if number == 0:
            # A wrong password is refused (and counts towards django-axes' lock-out).
            wrong = client.post(f"{CONFIRM}?next={path}", {"password": "wrong", "next": path})
            assert wrong.status_code == 200
            assert client.get(path).status_code == 302
        confirmed = client.post(f"{CONFIRM}?next={path}", {"password": PASSWORD, "next": path})
        assert confirmed["Location"] == path
        assert client.get(path).status_code == 200, path
        mark_recently_authenticated(client.session, admin_user, at=time.time() - 360)


def test_confirming_with_a_second_factor_code_opens_the_page_and_sends(
    client: Client, admin_user: Any, workspace: Workspace, source: Source, fake_segment: Any
) -> None:
    secret, _ = enrol(admin_user)
    fake_segment.add_write_key(WRITE_KEY)
    stale(client, admin_user)
    path, data = actions(workspace, source)[-1]  # Make an API call
    assert client.get(path)["Location"].startswith(CONFIRM)
    # The confirmation page offers the code as an alternative to the password.
    page = client.get(f"{CONFIRM}?next={path}").content.decode()
    assert reverse("mfa_reauthenticate") in page
    cache.clear()
    confirmed = client.post(
        f"{reverse('mfa_reauthenticate')}?next={path}", {"code": totp(secret), "next": path}
    )
    assert confirmed["Location"] == path
    assert client.get(path).status_code == 200
    sent = client.post(path, data)
    assert sent.status_code == 200
    assert len(fake_segment.messages()) == 1


def reauthenticated_entries() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action="user.reauthenticated").order_by("seq"))


def password_failures() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action="user.password_failed").order_by("seq"))


WRONG = "wrong-guess-Qx7pL"


def confirmation_form_token(client: Client, path: str) -> str:
    """Opens the confirmation page as a browser does; the form's CSRF token."""
    page = client.get(f"{CONFIRM}?next={path}")
    assert page.status_code == 200
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert match
    return match.group(1)


def test_a_confirmation_by_password_is_on_the_record_once_and_a_wrong_one_too(
    client: Client, admin_user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The confirmation form as a browser posts it (the page first, its CSRF token): a wrong
    password is ``user.password_failed`` (during "confirmation"), as a wrong code is
    ``user.second_factor_failed``, never a failed log-in and never the password typed; the
    right one then is one ``user.reauthenticated`` (method "password")."""
    caplog.set_level(logging.DEBUG)
    browser = Client(enforce_csrf_checks=True)
    stale(browser, admin_user)
    path = reverse("calls:api")
    before = AuditEntry.objects.count()
    token = confirmation_form_token(browser, path)
    wrong = browser.post(
        f"{CONFIRM}?next={path}",
        {"csrfmiddlewaretoken": token, "password": WRONG, "next": path},
    )
    assert wrong.status_code == 200
    assert "Incorrect password" in wrong.content.decode()
    assert WRONG not in wrong.content.decode()
    [failed] = password_failures()
    assert (failed.username, failed.role) == ("ada", "Admin")
    assert (failed.target_type, failed.target_id, failed.target_name) == (
        "user",
        str(admin_user.pk),
        "ada",
    )
    assert failed.details_data == {"during": "confirmation"}
    assert AuditEntry.objects.count() == before + 1  # no failed log-in, no confirmation
    assert browser.get(path).status_code == 302  # nothing confirmed

    token = confirmation_form_token(browser, path)
    confirmed = browser.post(
        f"{CONFIRM}?next={path}",
        {"csrfmiddlewaretoken": token, "password": PASSWORD, "next": path},
    )
    assert confirmed["Location"] == path
    [entry] = reauthenticated_entries()
    assert (entry.username, entry.role) == ("ada", "Admin")
    assert (entry.target_type, entry.target_name) == ("user", "ada")
    assert entry.details_data == {"method": "password", "provider": "", "role": "Admin"}
    assert AuditEntry.objects.count() == before + 2
    assert browser.get(path).status_code == 200  # opening the page records nothing more
    assert len(reauthenticated_entries()) == 1 and len(password_failures()) == 1
    everything = caplog.text + "".join(e.details for e in AuditEntry.objects.all())
    assert WRONG not in everything and PASSWORD not in everything


def test_a_forged_confirmation_post_with_a_wrong_password_is_on_the_record_too(
    client: Client, admin_user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Posted straight to the confirmation address (no page opened, no next), as a script
    holding the session would: the password is tried, so the failure is recorded alike."""
    caplog.set_level(logging.DEBUG)
    stale(client, admin_user)
    wrong = client.post(CONFIRM, {"password": WRONG})
    assert wrong.status_code == 200
    assert WRONG not in wrong.content.decode()
    [failed] = password_failures()
    assert (failed.username, failed.target_name) == ("ada", "ada")
    assert failed.details_data == {"during": "confirmation"}
    assert not AuditEntry.objects.filter(action="user.login_failed").exists()
    assert reauthenticated_entries() == []
    assert WRONG not in caplog.text + failed.details
    # Then the right one, forged alike: one confirmation, nothing more for the failure.
    assert client.post(CONFIRM, {"password": PASSWORD}).status_code == 302
    assert len(reauthenticated_entries()) == 1 and len(password_failures()) == 1
    assert PASSWORD not in caplog.text
    # The audit log shows it, and not what was typed.
    for page in (reverse("audit:list"), reverse("audit:entry", args=[failed.pk])):
        html = client.get(page).content.decode()
        assert "user.password_failed" in html and WRONG not in html, page


def test_each_wrong_confirmation_up_to_the_lock_out_is_one_entry(
    client: Client, admin_user: Any
) -> None:
    """Wrong passwords on the confirmation page count towards django-axes' lock-out; each is
    one ``user.password_failed``, the ones at and after the lock-out saying so."""
    stale(client, admin_user)
    for _ in range(5):
        client.post(CONFIRM, {"password": WRONG})
    locked = client.post(CONFIRM, {"password": PASSWORD})  # the right one, while locked out
    assert locked.status_code == 429
    assert reauthenticated_entries() == []
    assert [entry.details_data for entry in password_failures()] == [
        {"during": "confirmation"}
    ] * 4 + [{"during": "confirmation", "reason": "locked_out"}] * 2
    assert not AuditEntry.objects.filter(action="user.login_failed").exists()
    everything = "".join(e.details for e in AuditEntry.objects.all())
    assert WRONG not in everything and PASSWORD not in everything


def test_a_cross_site_confirmation_post_tries_no_password_and_records_nothing(
    admin_user: Any,
) -> None:
    """Without the form's CSRF token the post is refused before any password is tried."""
    browser = Client(enforce_csrf_checks=True)
    stale(browser, admin_user)
    before = AuditEntry.objects.count()
    refused = browser.post(CONFIRM, {"password": WRONG})
    assert refused.status_code == 403
    assert WRONG not in refused.content.decode()
    assert AuditEntry.objects.count() == before


@pytest.mark.parametrize("kind", ["authenticator app", "recovery code"])
def test_a_confirmation_by_a_second_factor_is_on_the_record_once_and_a_wrong_code_as_before(
    client: Client, admin_user: Any, kind: str
) -> None:
    secret, codes = enrol(admin_user)
    stale(client, admin_user)
    path = reverse("calls:api")
    mfa_confirm = f"{reverse('mfa_reauthenticate')}?next={path}"
    cache.clear()
    wrong = client.post(mfa_confirm, {"code": "000000", "next": path})
    assert wrong.status_code == 200
    [failed] = AuditEntry.objects.filter(action="user.second_factor_failed")
    assert failed.details_data["during"] == "confirmation"
    assert reauthenticated_entries() == []
    code = totp(secret) if kind == "authenticator app" else codes[0]
    confirmed = client.post(mfa_confirm, {"code": code, "next": path})
    assert confirmed["Location"] == path
    [entry] = reauthenticated_entries()
    assert (entry.username, entry.role, entry.target_name) == ("ada", "Admin", "ada")
    assert entry.details_data == {
        "method": "second factor",
        "provider": "",
        "role": "Admin",
        "second_factor": "totp" if kind == "authenticator app" else "recovery_codes",
    }
    assert code not in entry.details and secret not in entry.details
    assert AuditEntry.objects.filter(action="user.second_factor_failed").count() == 1
    assert client.get(path).status_code == 200
    assert len(reauthenticated_entries()) == 1


def test_a_log_in_is_no_confirmation_on_the_record(client: Client, admin_user: Any) -> None:
    response = client.post(reverse("accounts:login"), {"username": "ada", "password": PASSWORD})
    assert response["Location"] == "/"
    assert AuditEntry.objects.filter(action="user.logged_in").count() == 1
    assert reauthenticated_entries() == []


def test_a_fresh_log_in_counts_for_five_minutes(client: Client, admin_user: Any) -> None:
    response = client.post(reverse("accounts:login"), {"username": "ada", "password": PASSWORD})
    assert response["Location"] == "/"
    assert client.get(reverse("credentials:workspace_add")).status_code == 200
    mark_recently_authenticated(client.session, admin_user, at=time.time() - 301)
    assert client.get(reverse("credentials:workspace_add")).status_code == 302


def test_other_pages_do_not_ask(client: Client, admin_user: Any, workspace: Workspace) -> None:
    stale(client, admin_user)
    for path in ("/", reverse("credentials:workspace_list"), reverse("calls:identify")):
        assert client.get(path).status_code == 200, path


# --- People who sign in only with single sign-on ----------------------------------------------

IDP = "https://idp.example.test"


@pytest.fixture
def sso_on(settings: Any) -> None:
    from types import SimpleNamespace

    from tests.oidc.segadmin_sso import configure

    configure(settings, SimpleNamespace(issuer=IDP, client_id="segadmin", client_secret="s3cret"))


def sso_only_admin(username: str = "alice.admin") -> Any:
    from allauth.account.models import EmailAddress
    from allauth.socialaccount.models import SocialAccount
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username, email=f"{username}@example.com")
    user.set_unusable_password()
    user.save()
    user.groups.add(Group.objects.get(name="Admin"))
    SocialAccount.objects.create(user=user, provider="sso", uid=f"sub-{username}")
    # A verified address made allauth offer a code by e-mail, a page segadmin does not serve.
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def test_a_person_signing_in_only_with_sso_is_asked_to_confirm_with_the_provider(
    client: Client, sso_on: None, source: Source
) -> None:
    stale(client, sso_only_admin())
    call = reverse("calls:api")
    answer = client.get(call)
    assert answer.status_code == 302
    assert answer["Location"] == f"/accounts/confirm/?next={call.replace('/', '%2F')}"
    page = client.get(answer["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "Confirm with Test IdP" in html
    # A POST (no provider call by a link), as allauth's "redirect" process: back to the page,
    # nobody logged in again. The fresh sign-in is asked for by the server, not by the form.
    assert 'action="/accounts/oidc/sso/login/"' in html
    assert '<input type="hidden" name="process" value="redirect">' in html
    assert f'<input type="hidden" name="next" value="{call}">' in html
    # The form's redirect to the provider is allowed by the page's CSP, and nothing else is.
    policy = page["Content-Security-Policy"]
    assert f"form-action 'self' {IDP}" in policy
    # A forged POST is still refused without sending.
    entries = AuditEntry.objects.count()
    forged = client.post(call, {"source": str(source.pk), "action": "send"})
    assert forged.status_code == 302
    assert forged["Location"].startswith("/accounts/confirm/")
    assert AuditEntry.objects.count() == entries


def test_the_provider_confirmation_page_keeps_next_on_this_site(
    client: Client, sso_on: None
) -> None:
    stale(client, sso_only_admin())
    html = client.get("/accounts/confirm/?next=https://evil.example/").content.decode()
    assert 'name="next" value="/"' in html
    assert "evil.example" not in html


def test_a_person_with_a_password_still_confirms_it_on_allauths_page(
    client: Client, sso_on: None, admin_user: Any
) -> None:
    stale(client, admin_user)
    answer = client.get(reverse("calls:api"))
    assert answer["Location"].startswith(CONFIRM)
    assert client.get("/accounts/confirm/").status_code == 403


def test_without_sso_a_person_with_no_password_cannot_confirm_and_is_told_why(
    client: Client, source: Source
) -> None:
    stale(client, sso_only_admin())  # linked, but single sign-on is not configured here
    answer = client.get(reverse("calls:api"))
    assert answer.status_code == 403
    assert "log out and log in again" in answer.content.decode()


def confirmation_coming_back(user: Any, account_of: Any, client: Client) -> tuple[Any, Any]:
    """The provider's answer to "Confirm with …" for the person logged in as ``user`` in
    ``client``'s session, carrying the provider account linked to ``account_of`` (None: an
    account linked to nobody), as allauth hands it to the adapter."""
    from allauth.socialaccount.models import SocialAccount, SocialLogin
    from django.contrib.sessions.backends.db import SessionStore
    from django.test import RequestFactory

    if account_of is not None:
        account = SocialAccount.objects.get(user=account_of)
        name = account_of.username
    else:
        account = SocialAccount(provider="sso", uid="sub-stranger")
        name = "stranger"
    started = time.time() - 20
    account.extra_data = {
        "id_token": {
            "nonce": "n0nce",
            "groups": ["admins"],
            "preferred_username": name,
            "auth_time": int(started) + 10,  # signed in at the provider after pressing Confirm
        }
    }
    sociallogin = SocialLogin(account=account, user=account_of)
    sociallogin.state = {"process": "redirect", "nonce": "n0nce", "confirm_started_at": started}
    request = RequestFactory().get("/accounts/oidc/sso/login/callback/")
    request.session = SessionStore(session_key=client.session.session_key)
    request.user = user
    return request, sociallogin


@pytest.mark.parametrize("whose", ["own", "another person's", "nobody's"])
def test_only_the_persons_own_provider_account_confirms(
    client: Client, sso_on: None, whose: str
) -> None:
    from allauth.core.exceptions import ImmediateHttpResponse

    from segadmin.accounts.reauth import recently_authenticated
    from segadmin.accounts.sso import SingleSignOnAdapter

    alice = sso_only_admin()
    sam = sso_only_admin("sam.support")
    stale(client, alice)
    account_of = {"own": alice, "another person's": sam, "nobody's": None}[whose]
    request, sociallogin = confirmation_coming_back(alice, account_of, client)
    adapter = SingleSignOnAdapter(request)
    if whose == "own":
        adapter.pre_social_login(request, sociallogin)
        assert recently_authenticated(request)
        # On the record: who confirmed, how and with which provider; no token, no claim.
        entry = AuditEntry.objects.get(action="user.reauthenticated")
        assert (entry.username, entry.role) == ("alice.admin", "Admin")
        assert (entry.target_type, entry.target_name) == ("user", "alice.admin")
        assert entry.details_data == {
            "method": "single sign-on",
            "provider": "Test IdP",
            "role": "Admin",
        }
        assert "n0nce" not in entry.details
        return
    with pytest.raises(ImmediateHttpResponse) as refused:
        adapter.pre_social_login(request, sociallogin)
    assert refused.value.response.status_code == 400
    assert b"someone other than the person logged in" in refused.value.response.content
    assert b"still logged in" in refused.value.response.content
    assert not recently_authenticated(request)
    entry = AuditEntry.objects.filter(action="user.login_failed").get()
    assert "confirm_other_account" in entry.details
    assert not AuditEntry.objects.filter(action="user.reauthenticated").exists()


def test_a_confirmation_by_someone_no_longer_in_a_mapped_group_does_not_count(
    client: Client, sso_on: None
) -> None:
    from allauth.core.exceptions import ImmediateHttpResponse

    from segadmin.accounts.reauth import recently_authenticated
    from segadmin.accounts.sso import SingleSignOnAdapter

    alice = sso_only_admin()
    stale(client, alice)
    request, sociallogin = confirmation_coming_back(alice, alice, client)
    sociallogin.account.extra_data["id_token"]["groups"] = ["catering"]
    with pytest.raises(ImmediateHttpResponse) as refused:
        SingleSignOnAdapter(request).pre_social_login(request, sociallogin)
    assert b"no longer puts you in a group" in refused.value.response.content
    assert not recently_authenticated(request)
    assert not alice.groups.exists()


@pytest.mark.parametrize(
    ("auth_time", "problem"),
    [
        ("an hour before", "the sign-in at the provider is older than the confirmation"),
        ("a minute before", "the sign-in at the provider is older than the confirmation"),
        ("missing", "the ID token carries no auth_time"),
        ("not a number", "the ID token carries no auth_time"),
    ],
)
def test_a_confirmation_whose_sign_in_at_the_provider_is_not_fresh_does_not_count(
    client: Client, sso_on: None, auth_time: str, problem: str
) -> None:
    """The provider answered from a sign-in older than the confirmation (its own session), or
    did not say when the person signed in: nothing is confirmed, and the refusal is audited."""
    from allauth.core.exceptions import ImmediateHttpResponse

    from segadmin.accounts.reauth import recently_authenticated
    from segadmin.accounts.sso import SingleSignOnAdapter

    alice = sso_only_admin()
    stale(client, alice)
    request, sociallogin = confirmation_coming_back(alice, alice, client)
    started = sociallogin.state["confirm_started_at"]
    claims = sociallogin.account.extra_data["id_token"]
    if auth_time == "missing":
        del claims["auth_time"]
    else:
        claims["auth_time"] = {
            "an hour before": int(started) - 3600,
            "a minute before": int(started) - 60,
            "not a number": str(int(started)),
        }[auth_time]
    with pytest.raises(ImmediateHttpResponse) as refused:
        SingleSignOnAdapter(request).pre_social_login(request, sociallogin)
    assert refused.value.response.status_code == 400
    assert b"did not ask you to sign in again" in refused.value.response.content
    assert b"still logged in" in refused.value.response.content
    assert not recently_authenticated(request)
    entry = AuditEntry.objects.filter(action="user.login_failed").get()
    assert entry.target_name == "alice.admin"
    assert entry.details_data["reason"] == "confirm_not_fresh"
    assert entry.details_data["problem"] == problem
    assert entry.details_data["method"] == "single sign-on"
    assert not AuditEntry.objects.filter(action="user.reauthenticated").exists()


def test_a_sign_in_within_the_clock_skew_of_the_confirmations_start_counts(
    client: Client, sso_on: None
) -> None:
    from segadmin.accounts.reauth import recently_authenticated
    from segadmin.accounts.sso import AUTH_TIME_SKEW_SECONDS, SingleSignOnAdapter

    alice = sso_only_admin()
    stale(client, alice)
    request, sociallogin = confirmation_coming_back(alice, alice, client)
    started = sociallogin.state["confirm_started_at"]
    sociallogin.account.extra_data["id_token"]["auth_time"] = int(started) - (
        AUTH_TIME_SKEW_SECONDS - 5
    )
    SingleSignOnAdapter(request).pre_social_login(request, sociallogin)
    assert recently_authenticated(request)
    assert AuditEntry.objects.filter(action="user.reauthenticated").count() == 1


def test_a_confirmation_asks_the_provider_for_a_fresh_sign_in_whatever_the_form_posted(
    client: Client, sso: Any
) -> None:
    """Against the real provider's discovery document: the form's post to allauth's log-in
    view, with or without the browser's own auth_params, goes to the provider with
    prompt=login and max_age=0, and the state keeps when the confirmation started."""
    from urllib.parse import parse_qs, urlsplit

    stale(client, sso_only_admin())
    before = time.time()
    for query in ("", "?auth_params=prompt%3Dnone%26max_age%3D99999", "?auth_params=prompt%3D"):
        answer = client.post(
            f"/accounts/oidc/sso/login/{query}", {"process": "redirect", "next": "/calls/api/"}
        )
        assert answer.status_code == 302, query
        location = urlsplit(answer["Location"])
        assert f"{location.scheme}://{location.netloc}" == sso.issuer
        params = parse_qs(location.query)
        assert params["prompt"] == ["login"], query
        assert params["max_age"] == ["0"], query
    states = client.session["socialaccount_states"]
    started = [state["confirm_started_at"] for state, *_ in states.values()]
    assert len(started) == 3
    assert all(before <= at <= time.time() for at in started)


def test_a_log_in_is_not_asked_to_sign_in_again_at_the_provider(client: Client, sso: Any) -> None:
    from urllib.parse import parse_qs, urlsplit

    answer = client.post("/accounts/oidc/sso/login/", {"process": "login"})
    params = parse_qs(urlsplit(answer["Location"]).query)
    assert "prompt" not in params
    assert "max_age" not in params
    [(state, *_)] = client.session["socialaccount_states"].values()
    assert "confirm_started_at" not in state
