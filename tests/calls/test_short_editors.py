"""Short call forms: the editors open with the rows a person types; Segment's reserved fields
wait in a pool that "Add a trait" / "Add a property" offers (a folded list without JavaScript),
and a reserved name typed in a custom row gets the reserved field's verdict."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from segadmin.calls.spec import GROUP_TRAITS, IDENTIFY_TRAITS, PAGE_PROPERTIES, TRACK_PROPERTIES
from segadmin.credentials.models import Source
from tests.calls.conftest import errors_of, form_data, preview_body, rows_data
from tests.calls.test_planned_forms import element

pytestmark = pytest.mark.django_db

EDITORS = [
    ("identify", "traits", IDENTIFY_TRAITS),
    ("track", "properties", TRACK_PROPERTIES),
    ("page", "properties", PAGE_PROPERTIES),
    ("group", "traits", GROUP_TRAITS),
]


def keys_in(html: str) -> list[str]:
    return re.findall(r'data-kv-key="([^"]+)"', html)


@pytest.mark.parametrize(("call_type", "name", "reserved"), EDITORS)
def test_an_editor_opens_with_one_empty_custom_row_and_the_reserved_fields_folded_away(
    call_type: str, name: str, reserved: Any, marketer_client: Client
) -> None:
    html = marketer_client.get(f"/calls/{call_type}/").content.decode()
    custom = element(html, f'data-testid="{name}-custom-rows"')
    assert custom.count('class="kv-row kv-custom') == 1
    assert f'name="{name}__key" value=""' in custom
    shown = element(html, "data-kv-shown")
    assert keys_in(shown) == []  # no reserved row stands between the person and Send
    pool = element(html, f'data-kv-pool="{name}"')
    assert pool.startswith("<details") and " open" not in pool.split(">", 1)[0]
    # Every reserved field is in the pool, with its type and Segment's meaning.
    assert keys_in(pool) == [r.path for r in reserved]
    assert html.index(f'data-testid="{name}-custom-rows"') < html.index("data-kv-pool")
    for field in reserved:
        row = element(pool, f'data-kv-key="{field.path}"')
        assert field.description.replace("'", "&#x27;").replace('"', "&quot;") in row
        assert 'data-kv-types="' in row


def test_the_pool_names_each_fields_type_for_the_picker(marketer_client: Client) -> None:
    html = marketer_client.get("/calls/identify/").content.decode()
    assert 'data-kv-key="age" data-kv-types="number"' in html
    assert 'data-kv-key="company.id" data-kv-types="text or number"' in html
    assert 'data-kv-key="birthday" data-kv-types="date-time"' in html
    # Address and company fold into groups, each one picker entry's heading.
    assert 'data-kv-group="address"' in html and 'data-kv-group="company"' in html
    assert "Reserved by Segment: 25 more traits" in html


def test_a_reserved_field_with_a_value_is_shown_with_the_typed_rows(
    marketer_client: Client, source: Source
) -> None:
    data = form_data(
        source,
        user_id="u-1",
        **rows_data(
            "traits",
            reserved={"email": ("text", "ada@example.com"), "address.city": ("text", "Paris")},
            custom=[("plan", "text", "pro")],
        ),
    )
    response = marketer_client.post("/calls/identify/", data)
    assert response.status_code == 200
    html = response.content.decode()
    shown = element(html, "data-kv-shown")
    # The whole address group comes along, open, with its other parts to fill in.
    assert keys_in(shown) == [
        "email",
        "address.street",
        "address.city",
        "address.state",
        "address.postalCode",
        "address.country",
    ]
    assert '<details class="kv-group" data-kv-group="address" open>' in shown
    assert "email" not in keys_in(element(html, 'data-kv-pool="traits"'))
    # The typed custom row stays first, and an empty one follows to type the next.
    custom = element(html, 'data-testid="traits-custom-rows"')
    assert custom.count('class="kv-row kv-custom') == 2
    assert preview_body(response)["traits"] == {
        "email": "ada@example.com",
        "address": {"city": "Paris"},
        "plan": "pro",
    }


def test_a_draft_opens_with_its_reserved_values_shown(
    marketer_client: Client, source: Source
) -> None:
    # Switching JSON -> form shows what the JSON holds: reserved values come out of the pool.
    response = marketer_client.post(
        "/calls/editor/identify_traits/switch/",
        {
            "editor": "traits",
            "to": "rows",
            "traits__mode": "json",
            "traits__json": '{"firstName": "Ada", "seats": 3}',
        },
    )
    html = response.content.decode()
    assert keys_in(element(html, "data-kv-shown")) == ["firstName"]
    custom = element(html, 'data-testid="traits-custom-rows"')
    assert 'value="seats"' in custom
    # Switched to the form to type: the cursor goes to the empty row, and only there.
    assert custom.count(" autofocus") == 1
    assert re.search(r'name="traits__key" value=""[^>]* autofocus>', custom)
    back = marketer_client.post(
        "/calls/editor/identify_traits/switch/",
        {"editor": "traits", "to": "json", "traits__mode": "rows"},
    )
    assert "autofocus" not in back.content.decode()


SAME_VERDICT = [
    ("identify", "traits", "age", "number", "36"),
    ("identify", "traits", "age", "number", "ten"),
    ("identify", "traits", "birthday", "datetime", "1990-02-30"),
    ("identify", "traits", "birthday", "datetime", "1990-05-04"),
    ("identify", "traits", "createdAt", "datetime", "2024-05-01T09:30"),
    ("identify", "traits", "email", "text", "not-an-email"),
    ("identify", "traits", "company.employee_count", "number", "12"),
    ("identify", "traits", "company.employee_count", "number", "a dozen"),
    ("group", "traits", "createdAt", "datetime", "2024-13-01"),
    ("track", "properties", "revenue", "number", "19,99 €"),
    ("track", "properties", "revenue", "number", "19.99"),
    ("track", "properties", "currency", "text", "EURO"),
    ("track", "properties", "currency", "text", "EUR"),
]


def outcome(response: Any) -> dict[str, Any]:
    """What a person sees of a submission: the status, the errors, the rows' messages, the
    warnings, and the traits or properties previewed."""
    html = response.content.decode()
    form = response.context["form"]
    return {
        "status": response.status_code,
        "errors": errors_of(response),
        "row_errors": re.findall(r'<div class="kv-error[^"]*" role="alert">([^<]*)</div>', html),
        "warnings": [p.message for p in form.warnings],
        "sent": form.message and {k: form.message.get(k) for k in ("traits", "properties")},
    }


@pytest.mark.parametrize(("call_type", "name", "key", "type_", "value"), SAME_VERDICT)
@pytest.mark.parametrize("custom_type", ["text", "keep"])
def test_a_reserved_field_typed_as_a_custom_row_gets_the_same_verdict_and_words(
    call_type: str,
    name: str,
    key: str,
    type_: str,
    value: str,
    custom_type: str,
    marketer_client: Client,
    source: Source,
) -> None:
    base = {"user_id": "u-1", "event": "Order Completed", "group_id": "g-1"}
    as_reserved = marketer_client.post(
        f"/calls/{call_type}/",
        form_data(source, **base, **rows_data(name, reserved={key: (type_, value)})),
    )
    typed = type_ if custom_type == "keep" else "text"  # "text": the custom row's default
    as_custom = marketer_client.post(
        f"/calls/{call_type}/",
        form_data(source, **base, **rows_data(name, custom=[(key, typed, value)])),
    )
    assert outcome(as_custom) == outcome(as_reserved)


def test_a_reserved_name_given_by_a_custom_row_and_its_own_is_refused_with_words(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    data = form_data(
        source,
        user_id="u-1",
        action="send",
        **rows_data(
            "traits",
            reserved={"email": ("text", "a@example.com")},
            custom=[("email", "text", "b@example.com")],
        ),
    )
    response = marketer_client.post("/calls/identify/", data)
    assert response.status_code == 422
    assert "“email” is used by two rows: give each trait once." in response.content.decode()
    assert fake_segment.requests == []
