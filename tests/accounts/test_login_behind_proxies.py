"""Log-in throttling behind load balancers: with TRUSTED_PROXY_COUNT set, django-axes keys a
lock on the client's address as the proxies report it in X-Forwarded-For, so one attacker
does not lock everyone out; without it X-Forwarded-For is ignored, so nobody escapes a lock by
writing the header. The audit log records the same address."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.urls import reverse

from segadmin import settings as project_settings
from segadmin.audit.log import Actor
from tests.conftest import PASSWORD
from tests.test_settings_startup import GOOD_SECRET, ROOT, start

pytestmark = pytest.mark.django_db
BALANCER = "10.0.0.2"  # every request reaches segadmin from here
ATTACKER, SAM = "198.51.100.7", "203.0.113.9"


@pytest.fixture
def behind_one_proxy(settings) -> None:
    for name, value in project_settings.trusted_proxy_settings(1).items():
        setattr(settings, name, value)


def log_in(forwarded_for: str, password: str, username: str = "sam") -> int:
    """One log-in attempt through the balancer; the status code of the answer."""
    client = Client(REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR=forwarded_for)
    response = client.post(reverse("accounts:login"), {"username": username, "password": password})
    return response.status_code


def test_an_attacker_behind_the_proxy_does_not_lock_out_the_user_it_attacks(
    behind_one_proxy, support
) -> None:
    for _ in range(5):
        log_in(ATTACKER, "wrong")
    assert log_in(ATTACKER, PASSWORD) == 429  # the attacker's address is locked for sam
    assert log_in(SAM, PASSWORD) == 302  # sam, behind the same balancer, is not


def test_writing_ones_own_x_forwarded_for_does_not_escape_the_lock(
    behind_one_proxy, support
) -> None:
    # The balancer appends the address that connected to it: whatever the client wrote
    # stands to its left, and only the right-most entry counts.
    for n in range(5):
        log_in(f"192.0.2.{n + 1}, {ATTACKER}", "wrong")
    assert log_in(f"{SAM}, {ATTACKER}", PASSWORD) == 429
    assert log_in(SAM, PASSWORD) == 302


def test_without_trusted_proxies_x_forwarded_for_is_ignored(support) -> None:
    # Every attempt comes from the connection's address, whatever the header says: the
    # attacker cannot reset the lock by changing it (and must not be able to).
    for n in range(5):
        log_in(f"192.0.2.{n + 1}", "wrong")
    assert log_in(SAM, PASSWORD) == 429


def test_the_audit_log_records_the_address_the_proxies_report(behind_one_proxy, rf) -> None:
    request = rf.get("/", HTTP_X_FORWARDED_FOR=f"192.0.2.1, {SAM}", REMOTE_ADDR=BALANCER)
    request.user = AnonymousUser()
    assert Actor.from_request(request).ip == SAM


def test_without_trusted_proxies_the_audit_log_records_the_connections_address(rf) -> None:
    request = rf.get("/", HTTP_X_FORWARDED_FOR=SAM, REMOTE_ADDR=BALANCER)
    request.user = AnonymousUser()
    assert Actor.from_request(request).ip == BALANCER


def test_two_proxies_take_the_second_address_from_the_right() -> None:
    # A CDN in front of the balancer: the CDN appends the client, the balancer the CDN.
    script = (
        "import django; django.setup()\n"
        "from django.test import RequestFactory\n"
        "from axes.helpers import get_client_ip_address\n"
        "r = RequestFactory().get('/', HTTP_X_FORWARDED_FOR='192.0.2.1, 203.0.113.9, "
        "198.51.100.1', REMOTE_ADDR='10.0.0.2')\n"
        "print(get_client_ip_address(r))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            "PATH": os.environ["PATH"],
            "SEGADMIN_ENV_FILE": "none",
            "DJANGO_SETTINGS_MODULE": "segadmin.settings",
            "SECRET_KEY": GOOD_SECRET,
            "SEGADMIN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "SEGADMIN_AUDIT_KEY": GOOD_SECRET,
            "TRUSTED_PROXY_COUNT": "2",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == SAM


def test_a_negative_proxy_count_is_refused_at_start_up() -> None:
    result = start(
        SECRET_KEY=GOOD_SECRET,
        SEGADMIN_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        TRUSTED_PROXY_COUNT="-1",
    )
    assert result.returncode != 0
    assert "TRUSTED_PROXY_COUNT" in result.stderr
