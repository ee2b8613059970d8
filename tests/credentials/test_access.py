"""Only Admins (accounts.manage_credentials) may open the Workspaces and Sources pages."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from segadmin.credentials.models import Source, Workspace

pytestmark = pytest.mark.django_db

PAGES = [
    ("credentials:workspace_list", False),
    ("credentials:workspace_add", False),
    ("credentials:workspace_detail", "workspace"),
    ("credentials:workspace_edit", "workspace"),
    ("credentials:workspace_delete", "workspace"),
    ("credentials:workspace_import", "workspace"),
    ("credentials:source_list", False),
    ("credentials:source_add", False),
    ("credentials:source_edit", "source"),
    ("credentials:source_delete", "source"),
]
EXPECTED = {
    "no_role_user": 403,
    "marketer": 403,
    "support": 403,
    "admin_user": 200,
    "superuser": 200,
}


def _url(name: str, needs: str | bool, source: Source) -> str:
    if needs == "workspace":
        return reverse(name, args=[source.workspace_id])
    if needs == "source":
        return reverse(name, args=[source.pk])
    return reverse(name)


@pytest.mark.parametrize(("url_name", "needs"), PAGES)
@pytest.mark.parametrize(("persona_name", "expected"), EXPECTED.items())
def test_each_role_gets_the_credentials_pages_it_may_use(
    persona: Callable[[str], User],
    source: Source,
    url_name: str,
    needs: str | bool,
    persona_name: str,
    expected: int,
) -> None:
    client = Client()
    client.force_login(persona(persona_name))
    assert client.get(_url(url_name, needs, source)).status_code == expected


@pytest.mark.parametrize(("url_name", "needs"), PAGES)
def test_an_anonymous_visitor_is_sent_to_the_login_page(
    client: Client, source: Source, url_name: str, needs: str | bool
) -> None:
    response = client.get(_url(url_name, needs, source))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize("persona_name", ["marketer", "support"])
def test_marketers_and_support_cannot_change_delete_test_or_import(
    persona: Callable[[str], User], source: Source, persona_name: str
) -> None:
    client = Client()
    client.force_login(persona(persona_name))
    workspace = source.workspace
    assert workspace is not None
    posts = [
        (reverse("credentials:workspace_add"), {"name": "X", "region": "us", "token": "t" * 20}),
        (reverse("credentials:workspace_edit", args=[workspace.pk]), {"name": "X", "region": "us"}),
        (reverse("credentials:workspace_delete", args=[workspace.pk]), {}),
        (reverse("credentials:workspace_test", args=[workspace.pk]), {}),
        (reverse("credentials:workspace_import", args=[workspace.pk]), {"action": "list"}),
        (reverse("credentials:source_add"), {"name": "X", "region": "us", "write_key": "k" * 20}),
        (reverse("credentials:source_edit", args=[source.pk]), {"name": "X", "region": "us"}),
        (reverse("credentials:source_delete", args=[source.pk]), {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert Workspace.objects.get().name == "Acme"
    assert Source.objects.get().name == "Web"


def test_the_navigation_shows_sources_and_workspaces_to_admins_only(
    admin_user: User, marketer: User
) -> None:
    client = Client()
    client.force_login(admin_user)
    page = client.get(reverse("home:index")).text
    assert ">Sources</a>" in page and ">Workspaces</a>" in page
    client.force_login(marketer)
    page = client.get(reverse("home:index")).text
    assert ">Sources</a>" not in page and ">Workspaces</a>" not in page


def test_test_connection_only_answers_a_post(admin_client: Client, workspace: Workspace) -> None:
    response = admin_client.get(reverse("credentials:workspace_test", args=[workspace.pk]))
    assert response.status_code == 405
