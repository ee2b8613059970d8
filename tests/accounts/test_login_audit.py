"""Password log-ins are audited as single sign-on's are: one ``user.logged_in`` per log-in
(method "password"), one ``user.login_failed`` per refused attempt (a wrong password, an unknown
username, a deactivated account, a lock-out), never the password; a re-authentication or a
second factor's step is no log-in of its own; a log-in through the provider stays one entry."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from allauth.account.signals import user_logged_in
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.urls import reverse

from segadmin.audit.logins import unknown_name
from segadmin.audit.models import AuditEntry
from tests.conftest import PASSWORD
from tests.oidc.segadmin_sso import audit_events
from tests.second_factor import enrol, password_log_in, totp

LOGIN = "/accounts/login/"
WRONG = "not-the-password-8Qz"


def everything_audited() -> str:
    return "".join(f"{e.username} {e.target_name} {e.details}" for e in AuditEntry.objects.all())


def test_a_password_log_in_writes_one_entry(client: Client, marketer) -> None:
    assert password_log_in(client, "maria", PASSWORD)["Location"] == "/"
    [entry] = AuditEntry.objects.filter(action="user.logged_in")
    assert (entry.username, entry.role, entry.target_name) == ("maria", "Marketer", "maria")
    assert entry.target_type == "user" and entry.target_id == str(marketer.pk)
    assert json.loads(entry.details) == {
        "method": "password",
        "provider": "",
        "role": "Marketer",
        "second_factor": None,
    }
    assert audit_events("user.login_failed") == []
    assert PASSWORD not in everything_audited()


def test_a_wrong_password_writes_one_failed_entry_without_the_password(
    client: Client, marketer
) -> None:
    response = password_log_in(client, "maria", WRONG)
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    [failed] = audit_events("user.login_failed")
    assert failed["target"] == "maria"
    assert failed["details"] == {"method": "password", "provider": "", "reason": "wrong_password"}
    assert audit_events("user.logged_in") == []
    assert WRONG not in everything_audited()


def test_an_unknown_username_is_not_named_as_typed(client: Client, db: None) -> None:
    # It may be a password typed into the wrong box (test_typed_password_not_kept.py).
    password_log_in(client, "nobody-here", WRONG)
    [failed] = audit_events("user.login_failed")
    assert failed["target"] == unknown_name("nobody-here")
    assert "nobody-here" not in everything_audited()
    assert failed["details"]["reason"] == "unknown_username"
    [entry] = AuditEntry.objects.filter(action="user.login_failed")
    assert entry.target_id == ""
    assert WRONG not in everything_audited()


def test_a_deactivated_account_is_refused_and_audited(client: Client, marketer) -> None:
    marketer.is_active = False
    marketer.save()
    assert password_log_in(client, "maria", PASSWORD).status_code == 200
    [failed] = audit_events("user.login_failed")
    assert (failed["target"], failed["details"]["reason"]) == ("maria", "inactive")
    assert PASSWORD not in everything_audited()


def test_each_attempt_up_to_the_lock_out_is_one_entry(client: Client, marketer) -> None:
    for _ in range(5):
        password_log_in(client, "maria", WRONG)
    locked = password_log_in(client, "maria", PASSWORD)  # the right one, while locked out
    assert locked.status_code == 429 and "_auth_user_id" not in client.session
    reasons = [e["details"]["reason"] for e in audit_events("user.login_failed")]
    # The fifth wrong password locks the name and address out; the sixth is not even tried.
    assert reasons == ["wrong_password"] * 4 + ["locked_out", "locked_out"]
    assert audit_events("user.logged_in") == []
    assert WRONG not in everything_audited() and PASSWORD not in everything_audited()


def test_a_second_factor_log_in_is_one_entry_naming_the_factor(client: Client, support) -> None:
    secret, _ = enrol(support)
    assert password_log_in(client, "sam", PASSWORD)["Location"] == reverse("mfa_authenticate")
    assert audit_events("user.logged_in") == []  # not in yet: the code is still asked for
    cache.clear()
    assert client.post(reverse("mfa_authenticate"), {"code": totp(secret)})["Location"] == "/"
    [logged_in] = audit_events("user.logged_in")
    assert logged_in["details"]["method"] == "password"
    assert logged_in["details"]["second_factor"] == "totp"
    assert audit_events("user.login_failed") == []


def test_a_re_authentication_is_no_log_in(client: Client, marketer) -> None:
    password_log_in(client, "maria", PASSWORD)
    url = reverse("account_reauthenticate")
    refused = client.post(url, {"password": WRONG})
    assert refused.status_code == 200
    assert client.post(url, {"password": PASSWORD}).status_code == 302
    assert len(audit_events("user.logged_in")) == 1  # the log-in itself
    assert audit_events("user.login_failed") == []
    assert WRONG not in everything_audited()


def test_a_single_sign_on_log_in_is_still_one_entry(marketer, db: None) -> None:
    # What allauth announces after a log-in through the provider (the browser test
    # tests/browser/test_sso_browser.py does it against a real provider).
    request = RequestFactory().get("/")
    request.session = {}  # type: ignore[assignment]
    request.user = marketer
    sociallogin: Any = SimpleNamespace(
        account=SimpleNamespace(extra_data={"groups": ["m"]}), state={"process": "login"}
    )
    user_logged_in.send(
        sender=type(marketer),
        request=request,
        response=None,
        user=marketer,
        sociallogin=sociallogin,
    )
    [entry] = audit_events("user.logged_in")
    assert entry["details"]["method"] == "single sign-on"
