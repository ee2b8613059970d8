"""Fixtures for the call screens: a stored source and logged-in clients (the workspace and
``admin_client`` come from tests/conftest.py and pytest-django)."""

from __future__ import annotations

import json
import re
from html import unescape
from html.parser import HTMLParser
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


class _FormReader(HTMLParser):
    """What a browser would submit from the first ``<form method="post">`` with a class."""

    def __init__(self, css_class: str) -> None:
        super().__init__(convert_charrefs=True)
        self.css_class = css_class
        self.values: list[tuple[str, str]] = []
        self._in_form = self._done = False
        self._select: str | None = None
        self._first_option: str | None = None
        self._selected = False
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if (
            tag == "form"
            and not self._done
            and a.get("method", "").lower() == "post"
            and self.css_class in a.get("class", "").split()
        ):
            self._in_form = True
        if not self._in_form:
            return
        name = a.get("name")
        if tag == "input" and name and "disabled" not in a:
            kind = a.get("type", "text").lower()
            if kind in ("radio", "checkbox") and "checked" not in a:
                return
            if kind not in ("submit", "button", "file"):
                self.values.append((name, a.get("value", "")))
        elif tag == "select" and name:
            self._select, self._first_option, self._selected = name, None, False
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._first_option is None:
                self._first_option = value
            if "selected" in a and not self._selected:
                self._selected = True
                self.values.append((self._select, value))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._in_form:
            self._in_form, self._done = False, True
        elif tag == "select" and self._select is not None:
            if not self._selected and self._first_option is not None:
                self.values.append((self._select, self._first_option))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.values.append((self._textarea, self._text.removeprefix("\n")))
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data


def submitted_form(html: str, css_class: str) -> dict[str, str]:
    """The fields of the page's POST form of ``css_class`` as a browser would send them."""
    reader = _FormReader(css_class)
    reader.feed(html)
    return dict(reader.values)


def open_call(page: Any, live_server: Any, call_type: str, source: Source, user_id: str) -> None:
    """Open the ``call_type`` screen in the browser, choose ``source`` and type ``user_id``."""
    page.goto(f"{live_server.url}/calls/{call_type}/")
    page.get_by_label("Source").select_option(str(source.pk))
    page.get_by_label("User ID").fill(user_id)


def search_and_choose(page: Any, label: str, text: str) -> None:
    """Type ``text`` into the searchable select (tom-select) labelled ``label`` and press
    Enter, as a person picks the first match."""
    box = page.get_by_role("combobox", name=label, exact=True)
    box.locator("xpath=ancestor::div[contains(@class, 'ts-control')]").click()
    box.fill(text)
    box.press("Enter")
