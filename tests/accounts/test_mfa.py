"""The second factor (django-allauth's MFA): setting up an authenticator app with a code computed
here (RFC 6238), logging in with it and with a single-use recovery code, the audit entries (never
a secret), secrets encrypted at rest, and SEGADMIN_REQUIRE_MFA for Admins."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from cryptography.fernet import Fernet
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.urls import reverse, set_script_prefix

from segadmin.accounts import second_factor
from segadmin.audit.models import AuditEntry
from segadmin.credentials.models import Workspace
from tests.conftest import PASSWORD
from tests.second_factor import enrol, password_log_in, secret_on_page, totp
from tests.test_settings_startup import GOOD_AUDIT_KEY, GOOD_SECRET, ROOT

pytestmark = pytest.mark.django_db

ACTIVATE = "/accounts/2fa/totp/activate/"
AUTHENTICATE = "/accounts/2fa/authenticate/"


def events(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("seq"))


def set_up_authenticator_app(client: Client) -> str:
    """Through the pages, as a person does: confirm the password, read the secret, type the
    code. Returns the secret."""
    response = client.get(ACTIVATE)
    assert response.status_code == 302  # the password is asked for first
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    confirmed = client.post(
        f"{reverse('account_reauthenticate')}?next={ACTIVATE}",
        {"password": PASSWORD, "next": ACTIVATE},
    )
    assert confirmed["Location"] == ACTIVATE
    page = client.get(ACTIVATE)
    assert page.status_code == 200
    secret = secret_on_page(page.content.decode())
    done = client.post(ACTIVATE, {"code": totp(secret)})
    assert done.status_code == 302, done.content.decode()[:2000]
    assert done["Location"] == reverse("mfa_view_recovery_codes")
    return secret


def test_setting_up_an_authenticator_app_then_logging_in_with_its_code(
    client: Client, marketer, django_capture_on_commit_callbacks: Any, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    assert password_log_in(client, "maria", PASSWORD)["Location"] == "/"
    with django_capture_on_commit_callbacks(execute=True):
        secret = set_up_authenticator_app(client)
    # The secret is stored encrypted, and the recovery codes were made with it.
    stored = Authenticator.objects.get(user=marketer, type=Authenticator.Type.TOTP)
    assert secret not in json.dumps(stored.data)
    assert Authenticator.objects.filter(
        user=marketer, type=Authenticator.Type.RECOVERY_CODES
    ).exists()
    codes_page = client.get(reverse("mfa_view_recovery_codes")).content.decode()
    codes = (
        Authenticator.objects.get(user=marketer, type=Authenticator.Type.RECOVERY_CODES)
        .wrap()
        .get_unused_codes()
    )
    assert codes and all(code in codes_page for code in codes)
    added = events("user.second_factor_added")
    assert {e.target_name for e in added} == {"maria"}
    assert sorted(json.loads(e.details)["kind"] for e in added) == [
        "authenticator app",
        "recovery codes",
    ]

    client.post(reverse("accounts:logout"))
    first_step = password_log_in(client, "maria", PASSWORD)
    assert first_step["Location"] == AUTHENTICATE
    assert "_auth_user_id" not in client.session  # not in yet: the code is still asked for
    assert "Two-Factor Authentication" in client.get(AUTHENTICATE).content.decode()
    cache.clear()  # the code used to set up is spent; a new period's code is used here
    response = client.post(AUTHENTICATE, {"code": totp(secret)})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(marketer.pk)
    assert client.get("/").status_code == 200

    # Neither the secret nor a recovery code reached the logs or the audit log.
    everything = caplog.text + "".join(e.details for e in AuditEntry.objects.all())
    assert secret not in everything
    assert not any(code in everything for code in codes)


def test_a_wrong_code_is_refused_and_audited_without_the_code(client: Client, support) -> None:
    secret, _ = enrol(support)
    password_log_in(client, "sam", PASSWORD)
    wrong = "000000" if totp(secret) != "000000" else "111111"
    response = client.post(AUTHENTICATE, {"code": wrong})
    assert response.status_code == 200
    assert "Incorrect code" in response.content.decode()
    assert "_auth_user_id" not in client.session
    [failed] = events("user.second_factor_failed")
    assert failed.target_name == "sam"
    assert json.loads(failed.details) == {"during": "log-in", "kind": "authenticator app"}
    assert wrong not in failed.details


def test_a_recovery_code_logs_in_once(client: Client, support) -> None:
    _, codes = enrol(support)
    password_log_in(client, "sam", PASSWORD)
    response = client.post(AUTHENTICATE, {"code": codes[0]})
    assert response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(support.pk)

    again = Client()
    password_log_in(again, "sam", PASSWORD)
    refused = again.post(AUTHENTICATE, {"code": codes[0]})
    assert refused.status_code == 200 and "Incorrect code" in refused.content.decode()
    assert "_auth_user_id" not in again.session
    # Another of the codes still works.
    assert again.post(AUTHENTICATE, {"code": codes[1]})["Location"] == "/"


def test_the_second_factor_page_is_in_the_user_menu(client: Client, marketer) -> None:
    client.force_login(marketer)
    html = client.get("/").content.decode()
    assert f'href="{reverse("mfa_index")}"' in html and "Second factor" in html
    page = client.get(reverse("mfa_index"))
    assert page.status_code == 200
    assert "Authenticator App" in page.content.decode()


def test_secrets_are_re_encrypted_by_rotate_keys(support, settings) -> None:
    secret, codes = enrol(support)
    old = settings.SEGADMIN_ENCRYPTION_KEYS
    settings.SEGADMIN_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *old]
    call_command("rotate_keys", stdout=io.StringIO())
    settings.SEGADMIN_ENCRYPTION_KEYS = settings.SEGADMIN_ENCRYPTION_KEYS[:1]  # old key gone
    totp_auth = Authenticator.objects.get(user=support, type=Authenticator.Type.TOTP)
    assert totp_auth.wrap().validate_code(totp(secret))
    recovery = Authenticator.objects.get(user=support, type=Authenticator.Type.RECOVERY_CODES)
    assert recovery.wrap().get_unused_codes() == codes


# --- SEGADMIN_REQUIRE_MFA -------------------------------------------------------------------


@pytest.fixture
def mfa_required(settings: Any) -> None:
    settings.SEGADMIN_REQUIRE_MFA = True


@pytest.mark.parametrize("who", ["admin_user", "superuser"])
def test_an_admin_without_a_second_factor_is_sent_to_set_one_up(
    client: Client, mfa_required: None, persona: Any, who: str
) -> None:
    client.force_login(persona(who))
    for path in ("/", reverse("credentials:workspace_list"), reverse("users:list"), "/admin/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == reverse("mfa_index"), path
    page = client.get(reverse("mfa_index"))
    assert page.status_code == 200
    assert second_factor.SETUP_MESSAGE in page.content.decode()


def test_a_forged_post_of_an_admin_without_a_second_factor_does_nothing(
    client: Client, mfa_required: None, admin_user
) -> None:
    client.force_login(admin_user)
    response = client.post(
        reverse("credentials:workspace_add"),
        {"name": "Forged", "slug": "forged", "region": "us", "token": "sgp_" + "x" * 40},
    )
    assert response.status_code == 302 and response["Location"] == reverse("mfa_index")
    assert not Workspace.objects.filter(name="Forged").exists()
    # An htmx request is sent there as a whole page.
    fragment = client.get("/", HTTP_HX_REQUEST="true")
    assert fragment["HX-Redirect"] == reverse("mfa_index")


def test_the_set_up_pages_log_out_and_static_files_stay_reachable(
    client: Client, mfa_required: None, admin_user
) -> None:
    client.force_login(admin_user)
    assert client.get(reverse("mfa_index")).status_code == 200
    assert client.get(ACTIVATE)["Location"].startswith(reverse("account_reauthenticate"))
    assert client.get(reverse("account_reauthenticate")).status_code == 200
    static = client.get("/static/css/segadmin.css")
    assert static.get("Location") != reverse("mfa_index")
    assert client.post(reverse("accounts:logout"))["Location"] == reverse("accounts:login")


def test_once_set_up_the_admin_goes_on_and_cannot_remove_the_last_one(
    client: Client, mfa_required: None, admin_user
) -> None:
    password_log_in(client, "ada", PASSWORD)
    assert client.get("/")["Location"] == reverse("mfa_index")
    set_up_authenticator_app(client)
    assert client.get("/").status_code == 200
    # Removing it would leave the Admin without one: refused.
    response = client.post(reverse("mfa_deactivate_totp"))
    assert Authenticator.objects.filter(user=admin_user, type="totp").exists()
    assert response.status_code == 200
    assert "Admins must keep a second factor" in response.content.decode()


def test_the_allowed_paths_follow_the_script_prefix(mfa_required: None) -> None:
    """Reversed once per URLconf and script prefix: served under a sub-path, the sub-path's
    pages are the allowed ones, and back at the root the root's again."""
    allowed = second_factor.RequireSecondFactorMiddleware._allowed
    logout, setup = reverse("accounts:logout"), reverse("mfa_index")
    assert allowed(logout) and allowed(setup + "totp/activate/")
    set_script_prefix("/sub/")
    try:
        assert allowed("/sub" + logout) and allowed("/sub" + setup)
        assert not allowed(logout) and not allowed(setup)
    finally:
        set_script_prefix("/")
    assert allowed(logout) and not allowed("/sub" + logout)
    assert not allowed("/") and not allowed(reverse("users:list"))


@pytest.mark.parametrize("who", ["marketer", "support"])
def test_others_are_not_forced_and_may_set_one_up(
    client: Client, mfa_required: None, persona: Any, who: str
) -> None:
    client.force_login(persona(who))
    assert client.get("/").status_code == 200
    assert client.get(reverse("mfa_index")).status_code == 200


def test_the_requirement_is_off_unless_set(client: Client, admin_user) -> None:
    client.force_login(admin_user)
    assert client.get("/").status_code == 200


def required_when_started_with(**env: str) -> str:
    """SEGADMIN_REQUIRE_MFA as the real settings read it in a fresh interpreter."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); "
            "from django.conf import settings; print(settings.SEGADMIN_REQUIRE_MFA)",
        ],
        cwd=ROOT,
        env={
            "PATH": os.environ["PATH"],
            "DJANGO_SETTINGS_MODULE": "segadmin.settings",
            "SECRET_KEY": GOOD_SECRET,
            "SEGADMIN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "SEGADMIN_AUDIT_KEY": GOOD_AUDIT_KEY,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_requirement_is_on_without_debug_and_off_for_make_run(tmp_path: Path) -> None:
    assert required_when_started_with(SEGADMIN_ENV_FILE="none", DEBUG="false") == "True"
    assert required_when_started_with(SEGADMIN_ENV_FILE="none", DEBUG="true") == "False"
    assert (
        required_when_started_with(
            SEGADMIN_ENV_FILE="none", DEBUG="false", SEGADMIN_REQUIRE_MFA="false"
        )
        == "False"
    )
    # `make run`'s .env leaves it off, even if DEBUG is later turned off in it.
    env_file = tmp_path / ".env"
    subprocess.run([sys.executable, "scripts/make_env.py", str(env_file)], cwd=ROOT, check=True)
    content = env_file.read_text().replace("DEBUG=true", "DEBUG=false")
    env_file.write_text(content)
    assert required_when_started_with(SEGADMIN_ENV_FILE=str(env_file)) == "False"
