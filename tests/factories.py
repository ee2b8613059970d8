"""Stored rows and logged-in clients that tests across the packages build the same way."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.test import Client

from segadmin.credentials.models import Source, Workspace


def make_source(name: str, write_key: str, **extra: Any) -> Source:
    """A saved Source (US region unless ``extra`` says otherwise) holding ``write_key``."""
    extra.setdefault("region", "us")
    source = Source(name=name, **extra)
    source.set_write_key(write_key)
    source.save()
    return source


def make_workspace(token: str, name: str = "Acme", region: str = "us") -> Workspace:
    """A saved Workspace holding the Public API token ``token``."""
    workspace = Workspace(name=name, region=region)
    workspace.set_public_api_token(token)
    workspace.save()
    return workspace


def login(user: User) -> Client:
    """A test client with ``user`` logged in (no password round trip)."""
    client = Client()
    client.force_login(user)
    return client


def change_form(user: User, **fields: Any) -> dict[str, Any]:
    """The Django admin's user change form as it stands for ``user``, with ``fields`` changed;
    a field given as None is left out (as an unticked box is)."""
    data = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": user.email,
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "last_login_0": "",
        "last_login_1": "",
        "groups": [g.pk for g in user.groups.all()],
        "_save": "Save",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def limit_to(user: User, *, sources: Any = (), workspaces: Any = ()) -> None:
    """Limit ``user`` to ``sources`` and ``workspaces`` (as an Admin would on the Users page)."""
    from segadmin.accounts.limits import forget
    from segadmin.accounts.models import SourceLimit

    limit, _ = SourceLimit.objects.get_or_create(user=user)
    limit.sources.set(sources)
    limit.workspaces.set(workspaces)
    forget(user)
