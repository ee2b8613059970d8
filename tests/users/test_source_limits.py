"""The Users page and source limits: each person's sign-in method, second factor and source
limits in the list; an Admin sets and lifts a person's limits, each change on the audit record;
other roles' forged POSTs are refused; a superuser's limits are a superuser's to set."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from django.urls import reverse

from segadmin.accounts import limits
from segadmin.accounts.models import SourceLimit
from segadmin.audit.models import AuditEntry
from tests.factories import limit_to, login, make_source, make_workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(db):
    return make_workspace("tok-shop-0123456789", name="Shop")


@pytest.fixture
def web(shop):
    return make_source("Web", "wk-web-0123456789", workspace=shop)


@pytest.fixture
def app(db):
    return make_source("App", "wk-app-0123456789")


def rows_of(client) -> dict[str, dict]:
    response = client.get(reverse("users:list"))
    assert response.status_code == 200
    return {row["user"].username: row for row in response.context["rows"]}


def test_the_list_shows_sign_in_second_factor_and_limits(
    admin_user, support, marketer, shop, app
) -> None:
    limit_to(support, workspaces=[shop], sources=[app])
    SocialAccount.objects.create(user=marketer, provider="openid_connect", uid="m-1")
    Authenticator.objects.create(user=admin_user, type=Authenticator.Type.TOTP, data={})
    Authenticator.objects.create(user=admin_user, type=Authenticator.Type.RECOVERY_CODES, data={})
    client = login(admin_user)
    rows = rows_of(client)
    assert rows["sam"]["limits"].text == "workspace Shop, source App"
    assert rows["maria"]["limits"].text == "Every source"
    assert rows["maria"]["sign_in"] == "Password and Single sign-on"
    assert rows["sam"]["sign_in"] == "Password"
    assert rows["ada"]["second_factor"] == "On: authenticator app, with recovery codes"
    assert rows["sam"]["second_factor"] == "None"
    html = client.get(reverse("users:list")).content.decode()
    for heading in ("Sign-in", "Second factor", "Source limits"):
        assert f'<th scope="col">{heading}</th>' in html
    assert "workspace Shop, source App" in html


def test_the_list_costs_the_same_queries_however_many_people_are_limited(
    admin_user, shop, app
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.conftest import make_user

    client = login(admin_user)

    def queries() -> int:
        client.get(reverse("users:list"))  # the session settles first
        with CaptureQueriesContext(connection) as seen:
            assert client.get(reverse("users:list")).status_code == 200
        return len(seen)

    limit_to(make_user("p0", "Marketer"), workspaces=[shop], sources=[app])
    one = queries()
    for i in range(1, 6):
        limit_to(make_user(f"p{i}", "Marketer"), workspaces=[shop], sources=[app])
    assert queries() == one


def test_an_admin_limits_a_person_and_it_is_audited(admin_user, support, shop, web, app) -> None:
    client = login(admin_user)
    response = client.post(
        reverse("users:limits", args=[support.pk]),
        {"workspaces": [shop.pk], "sources": [app.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "is limited to the workspaces and sources chosen" in response.content.decode()
    limits.forget(support)
    assert limits.may_use_source(support, web) and limits.may_use_source(support, app)
    assert limits.may_use_workspace(support, shop)
    (entry,) = AuditEntry.objects.filter(action="user.limits_changed")
    assert entry.target_name == "sam" and entry.actor_user_id == admin_user.pk
    assert entry.details_data == {
        "before": {"workspaces": [], "sources": []},
        "after": {"workspaces": ["Shop"], "sources": ["App"]},
    }
    # The detail page shows them, with the pickers' choices selected.
    page = client.get(reverse("users:detail", args=[support.pk])).content.decode()
    assert 'data-testid="person-limits">workspace Shop, source App<' in page
    assert f'<option value="{shop.pk}" selected>' in page


def test_choosing_nothing_lifts_the_limits(admin_user, support, app) -> None:
    limit_to(support, sources=[app])
    client = login(admin_user)
    response = client.post(reverse("users:limits", args=[support.pk]), {}, follow=True)
    assert "may use every source again" in response.content.decode()
    assert not SourceLimit.objects.exists()
    limits.forget(support)
    assert not limits.is_limited(support)
    (entry,) = AuditEntry.objects.filter(action="user.limits_changed")
    assert entry.details_data["after"] == {"workspaces": [], "sources": []}


def test_saving_the_same_limits_changes_and_records_nothing(admin_user, support, app) -> None:
    limit_to(support, sources=[app])
    client = login(admin_user)
    response = client.post(
        reverse("users:limits", args=[support.pk]), {"sources": [app.pk]}, follow=True
    )
    assert "nothing changed" in response.content.decode()
    assert not AuditEntry.objects.filter(action="user.limits_changed").exists()


def test_a_source_that_does_not_exist_is_refused(admin_user, support) -> None:
    response = login(admin_user).post(
        reverse("users:limits", args=[support.pk]), {"sources": ["999"]}
    )
    assert response.status_code == 400
    assert "That source does not exist any more" in response.content.decode()
    assert not SourceLimit.objects.exists()


@pytest.mark.parametrize("who", ["marketer", "support"])
def test_other_roles_cannot_set_limits(who, persona, admin_user, app) -> None:
    response = login(persona(who)).post(
        reverse("users:limits", args=[admin_user.pk]), {"sources": [app.pk]}
    )
    assert response.status_code == 403
    assert not SourceLimit.objects.exists()


def test_only_a_superuser_may_limit_a_superuser(admin_user, superuser, app) -> None:
    response = login(admin_user).post(
        reverse("users:limits", args=[superuser.pk]), {"sources": [app.pk]}
    )
    assert response.status_code == 400
    assert "only a superuser may change them" in response.content.decode()
    assert not SourceLimit.objects.exists()
