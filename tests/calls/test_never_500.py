"""Whatever is typed or forged into a call form, the answer is a page, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segadmin.calls.editors import EDITORS
from segadmin.calls.spec import VALUE_TYPES
from segadmin.credentials.models import Source

pytestmark = pytest.mark.django_db

SCREENS = ["identify", "track", "page", "screen", "group", "alias", "api"]
PLAIN_FIELDS = [
    "source", "workspace", "api", "method", "url", "body", "user_id", "anonymous_id",
    "event", "name", "category", "group_id", "previous_id", "message_id", "timestamp_0",
    "timestamp_1", "generated_message_id", "action",
]  # fmt: skip
EDITOR_NAMES = ["traits", "properties", "context", "integrations", "headers", "query"]
EDITOR_PARTS = ["mode", "json", "kind", "key", "type", "value", "bool"]

# Text a person might type or paste, plus the characters that break naive code.
_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "-1",
            "1e999",
            "NaN",
            "true",
            "null",
            "{}",
            "[]",
            '{"a": ',
            "[1, 2",
            '{"revenue": "x"}',
            "2024-02-30T10:00",
            "2024-03-31T02:30",
            "9999-12-31T23:59",
            "UTC",
            "Europe/Paris",
            "Nope/Zone",
            "rows",
            "json",
            "r",
            "c",
            "boolean",
            "number",
            "list",
            "object",
            "datetime",
            "email",
            "address.city",
            "currency",
            "revenue",
            "/v1/track",
            "//evil",
            "https://x",
            "..",
            "\x00",
            "\r\n",
            "é" * 50,
            "x" * 40_000,
            "99999999999999999999999",
            "send",
            "preview",
        ]
    ),
)
_values = st.one_of(_text, st.lists(_text, max_size=4))
_keys = st.one_of(
    st.sampled_from(PLAIN_FIELDS),
    st.builds(
        lambda editor, part: f"{editor}__{part}",
        st.sampled_from(EDITOR_NAMES),
        st.sampled_from(EDITOR_PARTS),
    ),
)
_forms = st.dictionaries(_keys, _values, max_size=14)


@pytest.fixture
def admin_with_source(admin_client: Client, source: Source) -> Client:
    return admin_client


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(screen=st.sampled_from(SCREENS), data=_forms, use_source=st.booleans())
def test_random_form_input_never_produces_a_500(
    screen: str, data: dict[str, Any], use_source: bool, admin_with_source: Client, source: Source
) -> None:
    if use_source:
        data = {**data, "source": str(source.pk)}
    data["action"] = "preview"  # sending would reach for the network; preview runs everything else
    response = admin_with_source.post(f"/calls/{screen}/", data)
    assert response.status_code in (200, 422)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kind=st.sampled_from(sorted(EDITORS)),
    name=st.sampled_from(EDITOR_NAMES),
    to=st.sampled_from(["rows", "json", "", "x"]),
    data=_forms,
    types=st.lists(st.sampled_from([*VALUE_TYPES, "bogus"]), max_size=4),
)
def test_random_editor_switches_never_produce_a_500(
    kind: str,
    name: str,
    to: str,
    data: dict[str, Any],
    types: list[str],
    admin_with_source: Client,
) -> None:
    data = {**data, "editor": name, "to": to, f"{name}__type": types}
    response = admin_with_source.post(f"/calls/editor/{kind}/switch/", data)
    assert response.status_code == 200


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("forged", ["99999999999999999999999", str(2**63), str(-(2**63) - 1)])
def test_a_source_number_no_key_can_hold_is_refused_not_a_500(
    screen: str, forged: str, admin_with_source: Client
) -> None:
    # Found by the property test above: the plain SELECT of the chosen source handed SQLite a
    # number its driver cannot bind (OverflowError), where the ORM answers no rows.
    response = admin_with_source.post(
        f"/calls/{screen}/", {"source": forged, "workspace": forged, "action": "preview"}
    )
    assert response.status_code == 422
    assert Source.enabled_by_pk(int(forged)) is None


# Digits str.isdigit() takes and int() refuses ("¹", "²") or reads (Arabic-Indic "٣" is 3).
NOT_ASCII_DIGITS = ["¹", "²³", "٣", "1²"]


@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("forged", NOT_ASCII_DIGITS)
def test_a_source_of_digits_that_are_not_ascii_is_refused_not_a_500(
    screen: str, forged: str, admin_with_source: Client
) -> None:
    # Found by the property test above: "¹" passed isdigit() and int() raised ValueError.
    response = admin_with_source.post(
        f"/calls/{screen}/", {"source": forged, "workspace": forged, "action": "preview"}
    )
    assert response.status_code == 422
    assert admin_with_source.get(f"/calls/{screen}/", {"source": forged}).status_code == 200
