"""A password typed into the username box (a common slip) is kept nowhere: a failed log-in under
a name that is no account's is recorded as "an unknown name (<keyed fingerprint>)", in the
audit log (every column, the chained fields included), its pages, its exports, the home page's
activity, django-axes' attempts and failure log, and the log lines. A real username is still
named, and the chain still verifies."""

from __future__ import annotations

import logging
import re

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client
from django.urls import reverse

from segadmin.audit.chain import verify_chain
from segadmin.audit.logins import UNKNOWN_NAME, axes_username, unknown_name
from segadmin.audit.models import AuditEntry
from tests.conftest import PASSWORD
from tests.factories import login
from tests.oidc.segadmin_sso import audit_events
from tests.second_factor import password_log_in

TYPED = "Sunny-Harbour-72!"  # somebody's password, typed where the username goes
WRONG = "not-the-password-8Qz"
FINGERPRINT = re.compile(rf"^{UNKNOWN_NAME} \([0-9a-f]{{8}}\)$")


def every_column(model: type, *, exclude: tuple[str, ...] = ()) -> str:
    """Every stored value of every row of ``model``, as text."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname not in exclude]
    return "\n".join(str(value) for row in model.objects.values_list(*names) for value in row)


def body(response) -> str:
    assert response.status_code == 200
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


@pytest.fixture
def failure_log(settings) -> None:
    settings.AXES_ENABLE_ACCESS_FAILURE_LOG = True  # off here; it must not keep the text either


def test_a_password_typed_as_the_username_is_kept_nowhere(
    client: Client, admin_user, failure_log, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = password_log_in(client, TYPED, WRONG)
    assert response.status_code == 200 and "_auth_user_id" not in client.session

    [failed] = audit_events("user.login_failed")
    assert FINGERPRINT.match(failed["target"])
    assert failed["target"] == unknown_name(TYPED)
    assert failed["details"] == {"method": "password", "provider": "", "reason": "unknown_username"}
    assert TYPED not in every_column(AuditEntry)
    assert TYPED.lower() not in every_column(AuditEntry).lower()
    [attempt] = AccessAttempt.objects.all()
    assert attempt.username == failed["target"]
    assert TYPED not in every_column(AccessAttempt)
    [logged] = AccessFailureLog.objects.all()
    assert logged.username == failed["target"]
    assert TYPED not in every_column(AccessFailureLog)
    assert caplog.records and TYPED not in caplog.text

    entry = AuditEntry.objects.get(action="user.login_failed")
    admin = login(admin_user)
    pages = {
        "list": body(admin.get(reverse("audit:list"))),
        "entry": body(admin.get(reverse("audit:entry", args=[entry.pk]))),
        "csv": body(admin.get(reverse("audit:export"), {"format": "csv"})),
        "jsonl": body(admin.get(reverse("audit:export"), {"format": "jsonl"})),
        "full": body(admin.get(reverse("audit:export"), {"format": "jsonl", "full": "1"})),
        "home": body(admin.get(reverse("home:index"))),
    }
    for name, text in pages.items():
        assert TYPED not in text, name
    for name in ("list", "entry", "csv", "jsonl", "full"):
        assert failed["target"] in pages[name], name
    assert verify_chain().ok


def test_the_same_text_gives_the_same_name_and_another_text_another(
    client: Client, db: None
) -> None:
    password_log_in(client, TYPED, WRONG)
    password_log_in(client, TYPED, "another-wrong-one-5Ty")
    password_log_in(client, "Other-Secret-99?", WRONG)
    first, again, other = (e["target"] for e in audit_events("user.login_failed"))
    assert first == again != other
    assert all(FINGERPRINT.match(name) for name in (first, other))
    # django-axes counts the two tries of one text as one name from one address.
    assert sorted(AccessAttempt.objects.values_list("username", "failures_since_start")) == sorted(
        [(first, 2), (other, 1)]
    )
    assert verify_chain().ok


def test_the_fingerprint_follows_the_audit_key(settings) -> None:
    settings.SEGADMIN_AUDIT_KEYS = ["one-key-for-the-test-0123456789abcdef"]
    under_one = unknown_name(TYPED)
    settings.SEGADMIN_AUDIT_KEYS = ["another-key-for-the-test-0123456789ab"]
    assert unknown_name(TYPED) != under_one
    assert TYPED not in under_one


def test_an_unknown_name_is_still_locked_out(client: Client, db: None) -> None:
    for _ in range(5):
        password_log_in(client, TYPED, WRONG)
    assert password_log_in(client, TYPED, WRONG).status_code == 429
    failures = audit_events("user.login_failed")
    assert [e["details"]["reason"] for e in failures] == ["unknown_username"] * 4 + [
        "locked_out"
    ] * 2
    assert {e["target"] for e in failures} == {unknown_name(TYPED)}
    assert TYPED not in every_column(AuditEntry) + every_column(AccessAttempt)


def test_a_real_username_is_still_named_in_any_case(
    client: Client, marketer, failure_log, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password_log_in(client, "maria", WRONG)
    password_log_in(client, "MARIA", WRONG)  # the log-in finds the account in any case
    assert [e["target"] for e in audit_events("user.login_failed")] == ["maria", "maria"]
    assert [e["details"]["reason"] for e in audit_events("user.login_failed")] == [
        "wrong_password"
    ] * 2
    # One lock-out count for the account, whatever the case typed.
    [attempt] = AccessAttempt.objects.all()
    assert (attempt.username, attempt.failures_since_start) == ("maria", 2)
    assert WRONG not in every_column(AuditEntry) + every_column(AccessAttempt)
    assert WRONG not in caplog.text
    # A successful log-in still clears the account's count (AXES_RESET_ON_SUCCESS).
    assert password_log_in(client, "maria", PASSWORD)["Location"] == "/"
    assert not AccessAttempt.objects.exists()
    assert verify_chain().ok


def test_axes_is_given_the_recorded_name(rf, marketer) -> None:
    request = rf.post("/accounts/login/", {"username": TYPED})
    assert axes_username(request, None) == unknown_name(TYPED)
    assert axes_username(request, {"username": "Maria"}) == "maria"
    assert axes_username(request, {"username": ""}) == ""
    assert axes_username(rf.post("/accounts/login/", {}), None) is None
