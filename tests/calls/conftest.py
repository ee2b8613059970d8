"""Fixtures for the call screens: a stored source and logged-in clients (the workspace and
``admin_client`` come from tests/conftest.py and pytest-django)."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from segadmin.credentials.models import Source
from tests.factories import login, make_source

WRITE_KEY = "wk_CALLStestAbCdEfGhIjKlMnOpQrStUv"


@pytest.fixture
def source(db: None) -> Source:
    return make_source("My site", WRITE_KEY)


@pytest.fixture
def marketer_client(marketer: User) -> Client:
    return login(marketer)


@pytest.fixture
def support_client(support: User) -> Client:
    return login(support)


def form_data(source: Source | None, **fields: Any) -> dict[str, Any]:
    """A call form's POST data: plain fields, plus editors given as dicts (sent as JSON mode)."""
    data: dict[str, Any] = {"action": "preview"}
    if source is not None:
        data["source"] = str(source.pk)
    for name, value in fields.items():
        if isinstance(value, dict) and name in EDITOR_NAMES:
            data[f"{name}__mode"] = "json"
            data[f"{name}__json"] = json.dumps(value)
        else:
            data[name] = value
    return data


EDITOR_NAMES = {"traits", "properties", "context", "integrations", "headers", "query"}


def preview_body(response: Any) -> dict[str, Any]:
    """The JSON body the preview panel shows, parsed from the page as a person would read it."""
    html = response.content.decode()
    match = re.search(r'<pre class="json" data-testid="preview-body">(.*?)</pre>', html, re.S)
    assert match, "the page shows no preview body"
    return json.loads(unescape(match.group(1)))


def errors_of(response: Any) -> dict[str, list[str]]:
    form = response.context["form"]
    return {name: [str(e) for e in errors] for name, errors in form.errors.items()}


def rows_data(
    name: str,
    *,
    reserved: dict[str, tuple[str, str]] | None = None,
    custom: list[tuple[str, str, str]] | None = None,
) -> dict[str, Any]:
    """An editor's POST data in form mode, as the browser sends it: parallel lists per row."""
    rows = [("r", key, type_, value) for key, (type_, value) in (reserved or {}).items()]
    rows += [("c", key, type_, value) for key, type_, value in custom or []]
    return {
        f"{name}__mode": "rows",
        f"{name}__kind": [r[0] for r in rows],
        f"{name}__key": [r[1] for r in rows],
        f"{name}__type": [r[2] for r in rows],
        f"{name}__value": ["" if r[2] == "boolean" else r[3] for r in rows],
        f"{name}__bool": [r[3] if r[2] == "boolean" else "" for r in rows],
    }


def editor_data(name: str, state: Any) -> dict[str, Any]:
    """What the browser posts for an editor drawn in this EditorState (rows or JSON)."""
    if state.mode == "json":
        return {f"{name}__mode": "json", f"{name}__json": state.json_text}
    rows = state.rows
    return {
        f"{name}__mode": "rows",
        f"{name}__kind": [row.kind for row in rows],
        f"{name}__key": [row.key for row in rows],
        f"{name}__type": [row.type for row in rows],
        f"{name}__value": [row.value for row in rows],
        f"{name}__bool": [row.value if row.type == "boolean" else "" for row in rows],
    }
