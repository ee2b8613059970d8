"""A refused form answers htmx with 200 (the browser logs no failed resource) and a plain post
with 422, both with one error summary at the top whose links name each control to fix: plain
fields, editor rows (their value, name or true/false choice) and an editor in JSON mode."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from segadmin.credentials.models import Source
from tests.calls.conftest import form_data, rows_data
from tests.factories import login

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def summary_links(response: Any) -> list[tuple[str, str]]:
    """(target id, link text) of each link in the page's error summary; every target is an
    element of the page, once."""
    html = response.content.decode()
    match = re.search(r"<div[^>]*data-error-summary[^>]*>(.*?)</div>", html, re.S)
    assert match, "the page has no error summary"
    links = [
        (target, " ".join(unescape(re.sub(r"<[^>]+>", "", text)).split()))
        for target, text in re.findall(r'<a href="#([^"]+)"[^>]*>(.*?)</a>', match.group(1), re.S)
    ]
    for target, _text in links:
        assert len(re.findall(rf'\bid="{re.escape(target)}"', html)) == 1, target
    return links


def bad_track(source: Source) -> dict[str, Any]:
    return form_data(
        source,
        user_id="u1",
        event="Order Completed",
        action="send",
        **rows_data(
            "properties",
            reserved={"revenue": ("number", "lots")},
            custom=[("", "text", "no name"), ("vip", "boolean", "maybe")],
        ),
    )


def test_a_refused_htmx_send_answers_200_with_a_summary_linking_each_row(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    response = marketer_client.post("/calls/track/", bad_track(source), **HTMX)
    assert response.status_code == 200
    assert "<html" not in response.content.decode()  # the form only, swapped in
    links = dict(summary_links(response))
    targets = list(links)
    # As the page shows them: the unnamed custom row's name box, the true/false row's choice,
    # then Revenue's value box (Segment's reserved fields come after the rows typed).
    assert re.fullmatch(r"id_properties__\d+_key", targets[0])
    assert links[targets[0]] == "Properties, a property without a name: Give this property a name."
    assert re.fullmatch(r"id_properties__\d+_bool", targets[1])
    assert re.fullmatch(r"id_properties__\d+_value", targets[2])
    assert links[targets[2]].startswith("Properties, Revenue: ")
    assert len(targets) == 3  # the editor's "3 rows need fixing" is said row by row instead
    assert "Nothing was sent: fix these 3 problems." in response.content.decode()
    assert fake_segment.requests == []


def test_a_plain_post_keeps_422_and_carries_the_same_summary(
    marketer_client: Client, source: Source
) -> None:
    plain = marketer_client.post("/calls/track/", bad_track(source))
    htmx = marketer_client.post("/calls/track/", bad_track(source), **HTMX)
    assert plain.status_code == 422
    assert "<html" in plain.content.decode()
    assert summary_links(plain) == summary_links(htmx)


def test_plain_fields_and_json_mode_are_linked(marketer_client: Client, source: Source) -> None:
    data = form_data(source, user_id="", anonymous_id="", event="")
    data.update({"traits__mode": "json", "traits__json": '{"a": '})
    response = marketer_client.post("/calls/identify/", data, **HTMX)
    assert response.status_code == 200
    links = summary_links(response)
    targets = [target for target, _text in links]
    assert "id_traits__json" in targets
    assert any(text.startswith("Traits: ") for target, text in links if target == "id_traits__json")


def test_a_missing_user_id_links_to_the_user_id_box(
    marketer_client: Client, source: Source
) -> None:
    response = marketer_client.post(
        "/calls/group/", form_data(source, user_id="", group_id=""), **HTMX
    )
    assert response.status_code == 200
    targets = [target for target, _text in summary_links(response)]
    assert "id_group_id" in targets


def test_make_an_api_call_refused_answers_htmx_200_with_links(
    admin_user: User, source: Source
) -> None:
    client = login(admin_user)
    data = {"api": "tracking", "source": "", "method": "POST", "url": "", "action": "send"}
    response = client.post("/calls/api/", data, **HTMX)
    assert response.status_code == 200
    targets = [target for target, _text in summary_links(response)]
    assert targets == ["id_source", "id_url"]
    assert client.post("/calls/api/", data).status_code == 422


def test_a_good_send_has_no_summary(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key("wk_CALLStestAbCdEfGhIjKlMnOpQrStUv")
    response = marketer_client.post(
        "/calls/track/",
        form_data(source, user_id="u1", event="Signed Up", action="send"),
        **HTMX,
    )
    assert response.status_code == 200
    assert "data-error-summary" not in response.content.decode()
    assert 'data-testid="result"' in response.content.decode()


def test_the_bulk_upload_and_credentials_forms_have_the_summary(
    marketer_client: Client, admin_user: User
) -> None:
    refused = marketer_client.post("/bulk/", {"call_type": "identify"})
    assert refused.status_code == 422
    assert "Nothing was imported" in refused.content.decode()
    assert "id_file" in [target for target, _text in summary_links(refused)]

    admin = login(admin_user)
    refused = admin.post("/sources/add/", {"name": ""})
    targets = [target for target, _text in summary_links(refused)]
    assert "id_name" in targets
    assert "Nothing was saved" in refused.content.decode()
