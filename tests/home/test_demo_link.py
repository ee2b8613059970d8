"""Under `make demo` every page links to what the local fake of Segment received."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent.parent


@override_settings(SEGADMIN_FAKE_SEGMENT_URL="http://127.0.0.1:8765")
def test_under_the_demo_every_page_links_to_what_the_fake_received(admin_client: Client) -> None:
    for url in ("/", "/calls/identify/", "/audit/"):
        html = admin_client.get(url).content.decode()
        assert 'href="http://127.0.0.1:8765/_fake/"' in html, url
        assert "See what the fake received" in html


def test_without_the_demo_there_is_no_such_link(admin_client: Client) -> None:
    html = admin_client.get("/").content.decode()
    assert "_fake/" not in html
    assert 'data-testid="demo-footer"' not in html


@override_settings(SEGADMIN_FAKE_SEGMENT_URL="http://127.0.0.1:8765")
def test_the_log_in_page_does_not_show_it(client: Client) -> None:
    html = client.get("/accounts/login/").content.decode()
    assert "_fake/" not in html


def test_make_demo_sets_the_address_of_the_fake_it_starts() -> None:
    makefile = (ROOT / "Makefile").read_text()
    demo = makefile[makefile.index("\ndemo:") : makefile.index("\nfake:")]
    assert "--port $(FAKE_PORT)" in demo
    assert re.search(r"SEGADMIN_FAKE_SEGMENT_URL=http://127\.0\.0\.1:\$\(FAKE_PORT\)", demo)
