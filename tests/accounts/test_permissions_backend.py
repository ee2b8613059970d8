"""The permissions backend (segadmin.accounts.backends) reads the same permissions as Django's
ModelBackend, by one query, and leaves logging in to it."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from segadmin.accounts.backends import PermissionsBackend
from tests.conftest import make_user
from tests.factories import login

pytestmark = pytest.mark.django_db


def _fresh(pk: int) -> object:
    return get_user_model().objects.get(pk=pk)


@pytest.mark.parametrize("role", ["Marketer", "Support", "Admin"])
def test_each_role_has_the_permissions_the_model_backend_reads(role: str) -> None:
    user = make_user(f"p-{role.lower()}", role)
    ours = PermissionsBackend().get_all_permissions(_fresh(user.pk))
    assert ours
    assert ours == ModelBackend().get_all_permissions(_fresh(user.pk))


def test_a_permission_given_to_the_person_counts_and_is_read_in_one_query() -> None:
    user = make_user("p-own", "Marketer")
    extra = Permission.objects.get(codename="manage_users")
    user.user_permissions.add(extra)
    fresh = _fresh(user.pk)
    with CaptureQueriesContext(connection) as queries:
        assert fresh.has_perm("accounts.manage_users")  # type: ignore[attr-defined]
        assert fresh.has_perm("accounts.send_events")  # type: ignore[attr-defined]
        assert not fresh.has_perm("accounts.approve")  # type: ignore[attr-defined]
    assert len(queries.captured_queries) == 1
    assert PermissionsBackend().get_all_permissions(_fresh(user.pk)) == (
        ModelBackend().get_all_permissions(_fresh(user.pk))
    )


def test_an_inactive_person_has_no_permission() -> None:
    user = make_user("p-gone", "Admin")
    user.is_active = False
    user.save()
    assert not _fresh(user.pk).has_perm("accounts.send_events")  # type: ignore[attr-defined]


def test_a_superuser_still_has_every_permission() -> None:
    user = get_user_model().objects.create_superuser("p-root", "root@example.com", "x" * 20)
    assert _fresh(user.pk).has_perm("accounts.manage_users")  # type: ignore[attr-defined]


def test_logging_in_and_sessions_still_go_through_the_model_backend() -> None:
    user = make_user("p-login", "Marketer")
    user.set_password("a-long-password-123")
    user.save()
    request = RequestFactory().post("/accounts/login/")
    found = authenticate(request, username="p-login", password="a-long-password-123")
    assert found is not None
    assert found.backend == "django.contrib.auth.backends.ModelBackend"  # type: ignore[attr-defined]
    client = login(user)
    assert client.session["_auth_user_backend"] == "django.contrib.auth.backends.ModelBackend"


@pytest.mark.parametrize("role", ["Marketer", "Support", "Admin", None])
def test_the_role_permissions_and_limits_of_a_request_are_one_query(role: str | None) -> None:
    """The first of them asked reads all three (accounts.person): the same answers as each
    reader's own query, and no other query for the other two."""
    from segadmin.accounts import limits, roles

    user = make_user(f"q-{role or 'none'}", role)
    request = RequestFactory().get("/")
    request.user = _fresh(user.pk)
    with CaptureQueriesContext(connection) as queries:
        got_role = roles.request_role(request)
        perms = request.user.get_all_permissions()  # type: ignore[attr-defined]
        got_limits = limits.limits_of(request.user)
    assert len(queries.captured_queries) == 1
    assert got_role == roles.role_of(_fresh(user.pk)) == role
    assert perms == ModelBackend().get_all_permissions(_fresh(user.pk))
    assert got_limits == limits.read_limits(_fresh(user.pk)) == limits.UNRESTRICTED


def test_a_limited_persons_limits_are_still_read_in_full() -> None:
    from segadmin.accounts import limits, roles
    from tests.factories import limit_to, make_source

    user = make_user("q-limited", "Marketer")
    source = make_source("Limited to", "wk_limited_0123456789")
    limit_to(user, sources=[source])
    request = RequestFactory().get("/")
    request.user = _fresh(user.pk)
    assert roles.request_role(request) == "Marketer"
    got = limits.limits_of(request.user)
    assert got.restricted and got.source_ids == frozenset({source.pk})
