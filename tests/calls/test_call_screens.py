"""The call screens around the send: who may open them, the preview, failures, secrets."""

from __future__ import annotations

import base64
from html import unescape
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from segadmin.audit.models import AuditEntry
from segadmin.credentials.models import Source
from tests.calls.conftest import WRITE_KEY, errors_of, form_data
from tests.factories import login

pytestmark = pytest.mark.django_db

SCREENS = ["identify", "track", "page", "screen", "group", "alias", "api"]
ALLOWED = {
    "marketer": {"identify", "track", "page", "screen", "group", "alias"},
    "support": {"identify"},
    "admin_user": set(SCREENS),
    "superuser": set(SCREENS),
    "no_role_user": set(),
}
LABELS = {
    "identify": "Identify",
    "track": "Track",
    "page": "Page",
    "screen": "Screen",
    "group": "Group",
    "alias": "Alias",
    "api": "Make an API call",
}


@pytest.mark.parametrize("who", list(ALLOWED))
@pytest.mark.parametrize("screen", SCREENS)
def test_each_role_opens_only_its_screens(who: str, screen: str, persona: Any) -> None:
    client = login(persona(who))
    response = client.get(f"/calls/{screen}/")
    assert response.status_code == (200 if screen in ALLOWED[who] else 403)
    posted = client.post(f"/calls/{screen}/", {"action": "send"})
    assert posted.status_code in ((200, 422) if screen in ALLOWED[who] else (403,))


@pytest.mark.parametrize("who", list(ALLOWED))
def test_the_navigation_shows_each_role_its_screens(who: str, persona: Any) -> None:
    html = login(persona(who)).get("/").content.decode()
    for screen, label in LABELS.items():
        link = f'href="/calls/{screen}/">{label}</a>'
        assert (link in html) == (screen in ALLOWED[who]), label


def test_marketers_and_support_cannot_open_make_an_api_call(marketer: User, support: User) -> None:
    for user in (marketer, support):
        assert login(user).get("/calls/api/").status_code == 403


def test_support_cannot_open_track_to_alias(support_client: Client) -> None:
    for screen in ("track", "page", "screen", "group", "alias"):
        assert support_client.get(f"/calls/{screen}/").status_code == 403


def test_the_screens_carry_the_contract_labels(admin_client: Client, source: Source) -> None:
    html = admin_client.get("/calls/track/").content.decode()
    for label in (
        "Source",
        "User ID",
        "Anonymous ID",
        "Timestamp",
        "Event Name",
        "Currency",
        "Revenue",
        "Value",
        "Properties",
        ">Preview<",
        ">Send<",
        "New UUID",
    ):
        assert label in html, label
    assert admin_client.get("/calls/identify/").content.decode().count(">Traits<") == 1


def test_the_source_select_lists_only_enabled_sources_and_no_write_key(
    marketer_client: Client, source: Source
) -> None:
    disabled = Source(name="Old app", region="eu", enabled=False)
    disabled.set_write_key("wk_disabled_0123456789")
    disabled.save()
    html = marketer_client.get("/calls/identify/").content.decode()
    assert "My site (US)" in html
    assert "Old app" not in html
    assert WRITE_KEY not in html
    assert source.write_key_hint not in html
    response = marketer_client.post("/calls/identify/", form_data(disabled, user_id="u"))
    assert "That source does not exist or is disabled" in errors_of(response)["source"][0]


def test_send_another_keeps_the_source(marketer_client: Client, source: Source) -> None:
    html = marketer_client.get(f"/calls/track/?source={source.pk}").content.decode()
    assert f'<option value="{source.pk}" selected>' in html


def forbidden_forms(secret: str) -> list[str]:
    return [
        secret,
        base64.b64encode(f"{secret}:".encode()).decode(),
        base64.b64encode(secret.encode()).decode().rstrip("="),
    ]


def test_the_preview_masks_the_credential_and_sends_nothing(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    response = marketer_client.post(
        "/calls/identify/", form_data(source, user_id="u-1", traits={"plan": "pro"})
    )
    html = unescape(response.content.decode())
    assert response.status_code == 200
    assert "https://" not in response.context["panel"]["request"]["url"]  # the fake's base
    assert "/v1/identify" in html
    assert "Basic ****" in html
    assert '"writeKey": "****"' in html
    assert "curl -X POST" in html
    assert '-u "$SEGMENT_WRITE_KEY:"' in html
    assert " of 32,000 bytes" in html
    for form in forbidden_forms(WRITE_KEY):
        assert form not in html
    assert fake_segment.requests == []
    assert not AuditEntry.objects.exists()


def test_a_send_result_never_shows_the_write_key(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    data = {**form_data(source, user_id="u-1"), "action": "send"}
    html = marketer_client.post("/calls/identify/", data).content.decode()
    assert "Sent: Segment accepted the request." in html
    for form in forbidden_forms(WRITE_KEY):
        assert form not in html


def test_an_answer_that_echoes_the_write_key_is_shown_masked(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    echoed = " ".join([*forbidden_forms(WRITE_KEY), WRITE_KEY.encode().hex()])
    fake_segment.queue_faults([{"status": 400, "body": f"bad key: {echoed}"}])
    data = {**form_data(source, user_id="u-1"), "action": "send"}
    response = marketer_client.post("/calls/identify/", data)
    panel = response.context["panel"]
    assert panel["verdict"] == "Not sent: Segment refused the request."
    assert panel["body"] == "bad key: **** **** **** ****"
    html = response.content.decode()
    for form in [*forbidden_forms(WRITE_KEY), WRITE_KEY.encode().hex()]:
        assert form not in html


def test_htmx_gets_only_the_panel_of_a_valid_preview(
    marketer_client: Client, source: Source
) -> None:
    response = marketer_client.post(
        "/calls/identify/", form_data(source, user_id="u"), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div class="card shadow-sm" data-testid="preview">')
    assert response["HX-Retarget"] == "#call-panel"
    assert "<html" not in html and "<form" not in html


def test_htmx_gets_only_the_form_and_panel_of_a_refused_one(
    marketer_client: Client, source: Source
) -> None:
    response = marketer_client.post(
        "/calls/identify/", form_data(source, user_id=""), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="call"')
    assert "<html" not in html


def test_a_server_error_from_segment_is_shown_as_not_sent_with_its_audit_entry(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    fake_segment.queue_faults([500, 500])
    data = {**form_data(source, user_id="u-1"), "action": "send"}
    response = marketer_client.post("/calls/identify/", data)
    panel = response.context["panel"]
    assert response.status_code == 200
    assert panel["status"] == 500
    assert panel["attempts"] == 2  # the one quick retry of an interactive send
    html = response.content.decode()
    assert "Not sent: Segment had a temporary problem. Try again." in html
    assert AuditEntry.objects.filter(pk=panel["entry_id"]).exists()


def test_a_refusal_from_segment_shows_its_answer(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    fake_segment.add_write_key(WRITE_KEY)
    fake_segment.queue_faults([400])
    data = {**form_data(source, user_id="u-1"), "action": "send"}
    response = marketer_client.post("/calls/identify/", data)
    assert response.context["panel"]["status"] == 400
    assert "Not sent: Segment refused the request." in response.content.decode()


def test_no_answer_from_segment_is_a_clear_message_not_a_500(
    marketer_client: Client, source: Source, settings: Any
) -> None:
    settings.SEGMENT_TRACKING_API_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    data = {**form_data(source, user_id="u-1"), "action": "send"}
    response = marketer_client.post("/calls/identify/", data)
    assert response.status_code == 200
    panel = response.context["panel"]
    assert panel["status"] is None
    assert "Not sent: no answer from Segment (connection refused)" in response.content.decode()
    assert AuditEntry.objects.filter(pk=panel["entry_id"]).exists()


def test_an_unreadable_write_key_is_a_clear_message_not_a_500(
    marketer_client: Client, source: Source, fake_segment: Any
) -> None:
    Source.objects.filter(pk=source.pk).update(write_key_encrypted="gAAAAA-not-a-token")
    data = {**form_data(source, user_id="u-1"), "action": "send"}
    response = marketer_client.post("/calls/identify/", data)
    assert response.status_code == 200
    html = unescape(response.content.decode())
    assert 'The write key of source "My site"' in html
    assert "cannot be decrypted" in html
    assert fake_segment.requests == []


def test_the_timestamp_keeps_its_timezone_visible_and_defaults_to_utc(
    marketer_client: Client,
) -> None:
    html = marketer_client.get("/calls/identify/").content.decode()
    assert 'type="datetime-local"' in html
    assert 'aria-label="Timezone of the timestamp"' in html
    assert '<option value="UTC">UTC</option>' in html.replace(" selected", "") or "UTC" in html
    assert html.index('value="UTC"') < html.index('value="Europe/Paris"')


def test_a_timestamp_is_sent_with_the_offset_of_its_timezone(
    marketer_client: Client, source: Source
) -> None:
    data = form_data(
        source, user_id="u", timestamp_0="2024-01-15T08:00", timestamp_1="America/New_York"
    )
    response = marketer_client.post("/calls/identify/", data)
    assert response.context["form"].message["timestamp"] == "2024-01-15T08:00:00.000-05:00"


def test_a_time_that_happens_twice_is_refused_rather_than_guessed(
    marketer_client: Client, source: Source
) -> None:
    data = form_data(
        source, user_id="u", timestamp_0="2024-10-27T02:30", timestamp_1="Europe/Paris"
    )
    response = marketer_client.post("/calls/identify/", data)
    assert "happens twice in Europe/Paris" in errors_of(response)["timestamp"][0]


# --- Editor fragments -----------------------------------------------------------------------


def test_switching_an_editor_to_json_keeps_the_types(marketer_client: Client) -> None:
    from tests.calls.conftest import rows_data

    data = {
        "editor": "traits",
        "to": "json",
        **rows_data(
            "traits",
            reserved={"age": ("number", "30")},
            custom=[("vip", "boolean", "true"), ("gone", "null", "")],
        ),
    }
    html = marketer_client.post("/calls/editor/identify_traits/switch/", data).content.decode()
    assert "Traits (JSON)" in html
    assert "&quot;age&quot;: 30" in html
    assert "&quot;vip&quot;: true" in html
    assert "&quot;gone&quot;: null" in html


def test_switching_invalid_json_back_to_the_form_says_where(marketer_client: Client) -> None:
    data = {"editor": "traits", "to": "rows", "traits__mode": "json", "traits__json": "{\n  x"}
    html = marketer_client.post("/calls/editor/identify_traits/switch/", data).content.decode()
    assert "at line 2, column 3" in html
    assert 'name="traits__mode" value="json"' in html


def test_a_new_row_is_a_fragment_with_every_type(marketer_client: Client) -> None:
    html = marketer_client.get("/calls/editor/identify_traits/row/?editor=traits").content.decode()
    for label in (
        "text",
        "number",
        "true/false",
        "null",
        "date-time",
        "list (JSON)",
        "object (JSON)",
    ):
        assert f">{label}</option>" in html
    assert 'name="traits__key"' in html


def test_editor_fragments_refuse_unknown_editors_and_people_without_a_role(
    marketer_client: Client, no_role_user: User
) -> None:
    assert marketer_client.get("/calls/editor/nope/row/?editor=x").status_code == 404
    assert marketer_client.get("/calls/editor/context/row/?editor=X-1").status_code == 400
    outsider = login(no_role_user)
    assert outsider.get("/calls/editor/context/row/?editor=context").status_code == 403
