"""An audit entry's page, Send again and Edit and send (end to end against the local fake),
and Verify integrity."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from segadmin.audit.chain import verify_chain
from segadmin.audit.log import record_event
from segadmin.audit.models import AuditEntry, Kind
from tests.audit.entries import WRITE_KEY, actor_for, add_call, make_source
from tests.factories import login

pytestmark = pytest.mark.django_db


def page(client: Client, entry: AuditEntry) -> str:
    response = client.get(reverse("audit:entry", args=[entry.pk]))
    assert response.status_code == 200
    return response.content.decode()


# --- the entry page -------------------------------------------------------------------------


def test_the_entry_page_shows_request_and_response_side_by_side_with_secrets_masked(
    admin_user,
) -> None:
    source = make_source()
    entry = add_call(
        user=admin_user,
        source=source,
        call_type="identify",
        user_id="u-9",
        traits={"email": "u9@example.com"},
        status=200,
        attempts=2,
    )
    html = page(login(admin_user), entry)
    assert 'data-testid="request"' in html and 'data-testid="response"' in html
    assert "&quot;email&quot;: &quot;u9@example.com&quot;" in html  # pretty-printed JSON
    assert "&quot;writeKey&quot;: &quot;****&quot;" in html
    assert "Basic ****" in html
    assert WRITE_KEY not in html
    assert re.search(r'data-testid="attempts">2 <span[^>]*>\(1 retry\)', html)
    assert "&quot;success&quot;: true" in html
    assert entry.hash in html and entry.prev_hash in html
    assert "ada (Admin)" in html and "10.0.0.7" in html


def test_an_entry_without_an_outcome_says_no_answer_recorded(admin_user) -> None:
    entry = add_call(user=admin_user, answered=False)
    html = page(login(admin_user), entry)
    assert 'data-testid="no-answer"' in html
    assert "No answer recorded." in html


def test_a_failed_entry_shows_the_reason(admin_user) -> None:
    entry = add_call(user=admin_user, status=None, error="timed out after 5 s")
    assert "failed: timed out after 5 s" in page(login(admin_user), entry)


def test_an_event_entry_shows_what_changed(admin_user) -> None:
    source = make_source()
    event = record_event(
        actor=actor_for(admin_user),
        action="credential.changed",
        target_type="source",
        target_id=source.pk,
        target_name="Web",
        details={"changed": ["name", "write key"]},
    )
    html = page(login(admin_user), event)
    assert "credential.changed" in html and "write key" in html


def test_an_outcome_row_opens_its_request_entry(admin_user) -> None:
    entry = add_call(user=admin_user)
    outcome = AuditEntry.objects.get(kind=Kind.OUTCOME, request_entry=entry)
    response = login(admin_user).get(reverse("audit:entry", args=[outcome.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("audit:entry", args=[entry.pk]) + "#outcome"


def test_a_marketer_cannot_open_someone_elses_entry(marketer, support) -> None:
    theirs = add_call(user=support)
    mine = add_call(user=marketer)
    client = login(marketer)
    assert client.get(reverse("audit:entry", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("audit:entry", args=[mine.pk])).status_code == 200
    assert client.post(reverse("audit:send_again", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("audit:edit_and_send", args=[theirs.pk])).status_code == 404


def test_previous_and_next_skip_entries_a_marketer_may_not_see(marketer, support) -> None:
    first = add_call(user=marketer)
    hidden_before = add_call(user=support)
    middle = add_call(user=marketer, answered=False)
    hidden_after = add_call(user=support)
    last = add_call(user=marketer)
    response = login(marketer).get(reverse("audit:entry", args=[middle.pk]))
    assert (response.context["previous"].pk, response.context["next"].pk) == (first.pk, last.pk)
    html = response.content.decode()
    assert f'href="{reverse("audit:entry", args=[first.pk])}"' in html
    assert f'href="{reverse("audit:entry", args=[last.pk])}"' in html
    for theirs in (hidden_before, hidden_after):
        assert reverse("audit:entry", args=[theirs.pk]) not in html
        assert f"#{theirs.seq}" not in html


def test_previous_and_next_step_over_outcome_rows_to_the_neighbouring_entries(admin_user):
    first = add_call(user=admin_user)
    middle = add_call(user=admin_user)
    last = add_call(user=admin_user)
    response = login(admin_user).get(reverse("audit:entry", args=[middle.pk]))
    assert (response.context["previous"].pk, response.context["next"].pk) == (first.pk, last.pk)


def test_the_first_and_the_last_entry_have_one_neighbour(marketer) -> None:
    first = add_call(user=marketer)
    last = add_call(user=marketer)
    client = login(marketer)
    response = client.get(reverse("audit:entry", args=[first.pk]))
    assert (response.context["previous"], response.context["next"].pk) == (None, last.pk)
    response = client.get(reverse("audit:entry", args=[last.pk]))
    assert (response.context["previous"].pk, response.context["next"]) == (first.pk, None)


def test_related_entries_list_only_what_a_marketer_may_see(marketer, support) -> None:
    source = make_source()
    mine = add_call(user=marketer, source=source, call_type="identify", traits={"a": 1})
    resend = add_call(
        user=support,
        source=source,
        call_type="identify",
        traits={"a": 1},
        related_to=mine,
        relation="send again",
    )
    html = page(login(marketer), mine)
    assert 'data-testid="related"' not in html
    assert reverse("audit:entry", args=[resend.pk]) not in html
    # Support reads every entry, and sees the link both ways.
    assert reverse("audit:entry", args=[resend.pk]) in page(login(support), mine)
    assert reverse("audit:entry", args=[mine.pk]) in page(login(support), resend)


def test_an_unknown_entry_is_not_found(admin_user) -> None:
    assert login(admin_user).get(reverse("audit:entry", args=[987654])).status_code == 404


def test_the_entry_page_costs_a_fixed_number_of_queries(admin_user, django_assert_num_queries):
    source = make_source()
    first = add_call(user=admin_user, source=source)
    for _ in range(3):
        add_call(user=admin_user, source=source, related_to=first, relation="send again")
    client = login(admin_user)
    client.get(reverse("audit:entry", args=[first.pk]))
    # session, user, the person (permissions, role and source limits: one query); entry,
    # outcome row, related, neighbours, then the resend checks (source) and the template's
    # related list.
    with django_assert_num_queries(8):
        client.get(reverse("audit:entry", args=[first.pk]))


# --- Send again -----------------------------------------------------------------------------


@pytest.fixture
def live_source(fake_segment):
    fake_segment.add_write_key(WRITE_KEY)
    return make_source()


def test_send_again_sends_the_same_message_id_and_links_both_entries(
    fake_segment, live_source, admin_user
) -> None:
    client = login(admin_user)
    original = add_call(
        user=admin_user,
        source=live_source,
        user_id="u-1",
        event="Order Completed",
        properties={"revenue": 10},
        status=None,
        error="connection refused",
    )
    assert "Send again</button>" in page(client, original)

    response = client.post(reverse("audit:send_again", args=[original.pk]), follow=True)
    html = response.content.decode()
    resend = AuditEntry.objects.get(related_to=original)
    assert resend.relation == "send again"
    assert resend.message_id == original.message_id
    assert resend.outcome == "sent"
    assert f"Sent again as entry #{resend.seq}" in html
    assert 'data-testid="original-link"' in html

    received = fake_segment.messages("/v1/track")
    assert [m["messageId"] for m in received] == [original.message_id]
    assert received[0]["properties"] == {"revenue": 10}
    # It keeps the time the message was first sent (the original had no timestamp).
    # (The fake corrects "timestamp" for clock skew as Segment does; what was sent is
    # "originalTimestamp".)
    assert received[0]["originalTimestamp"].startswith(original.request_body_data["sentAt"][:19])

    back = page(client, original)
    assert f"#{resend.seq}</a> — send again" in back
    assert verify_chain().ok


def test_send_again_needs_the_role_to_send_that_call(fake_segment, live_source, support):
    original = add_call(user=support, source=live_source, event="Order Completed")
    client = login(support)
    assert "Your role may not send Track calls." in page(client, original)
    response = client.post(reverse("audit:send_again", args=[original.pk]), follow=True)
    assert "Not sent again: Your role may not send Track calls." in response.content.decode()
    assert not AuditEntry.objects.filter(related_to=original).exists()
    assert fake_segment.messages() == []


def test_send_again_refuses_when_the_source_was_disabled(fake_segment, live_source, admin_user):
    original = add_call(user=admin_user, source=live_source)
    live_source.enabled = False
    live_source.save()
    response = login(admin_user).post(reverse("audit:send_again", args=[original.pk]), follow=True)
    assert "is disabled" in response.content.decode()
    assert fake_segment.messages() == []


def test_send_again_is_offered_only_for_single_tracking_calls(admin_user) -> None:
    event = record_event(
        actor=actor_for(admin_user),
        action="role.changed",
        target_type="user",
        target_id=1,
        target_name="maria",
    )
    client = login(admin_user)
    assert "Send again" not in page(client, event)
    response = client.post(reverse("audit:send_again", args=[event.pk]), follow=True)
    assert "Only single Identify, Track" in response.content.decode()


def test_send_again_only_answers_post(admin_user) -> None:
    entry = add_call(user=admin_user)
    assert login(admin_user).get(reverse("audit:send_again", args=[entry.pk])).status_code == 405


# --- Edit and send --------------------------------------------------------------------------


def test_edit_and_send_opens_the_call_screen_filled_and_links_the_new_send(
    fake_segment, live_source, admin_user
) -> None:
    client = login(admin_user)
    original = add_call(
        user=admin_user,
        source=live_source,
        call_type="identify",
        user_id="u-7",
        traits={"plan": "free", "email": "u7@example.com"},
        context={"ip": "203.0.113.9"},
        timestamp="2026-01-02T03:04:05+00:00",
    )
    response = client.get(reverse("audit:edit_and_send", args=[original.pk]))
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith(reverse("calls:identify") + "?draft=")

    screen = client.get(url)
    form = screen.context["form"]
    assert form.initial["user_id"] == "u-7"
    assert form.initial["traits"] == {"plan": "free", "email": "u7@example.com"}
    assert form.initial["context"] == {"ip": "203.0.113.9"}  # library is segadmin's own
    assert form.initial["source"] == live_source.pk
    assert form.initial["timestamp"].isoformat() == "2026-01-02T03:04:05+00:00"
    html = screen.content.decode()
    assert "Filled in from entry" in html
    token = re.search(r'name="draft" value="([^"]+)"', html).group(1)

    response = client.post(
        reverse("calls:identify"),
        {
            "action": "send",
            "draft": token,
            "source": live_source.pk,
            "user_id": "u-7",
            "traits__mode": "json",
            "traits__json": '{"plan": "pro"}',
            "context__mode": "json",
            "context__json": "{}",
            "integrations__mode": "json",
            "integrations__json": "{}",
            "timestamp_0": "",
            "timestamp_1": "UTC",
        },
    )
    assert response.status_code == 200, response.content.decode()[:2000]
    edited = AuditEntry.objects.get(related_to=original)
    assert edited.relation == "edit and send"
    assert edited.message_id and edited.message_id != original.message_id
    assert edited.outcome == "sent"
    assert fake_segment.messages("/v1/identify")[0]["traits"] == {"plan": "pro"}
    assert f"#{edited.seq}</a> — edit and send" in page(client, original)


def test_a_draft_is_only_read_by_its_own_call_screen(live_source, admin_user) -> None:
    client = login(admin_user)
    original = add_call(user=admin_user, source=live_source, call_type="identify", traits={"a": 1})
    url = client.get(reverse("audit:edit_and_send", args=[original.pk]))["Location"]
    token = url.split("draft=")[1]
    track = client.get(reverse("calls:track"), {"draft": token})
    assert track.status_code == 200
    assert "user_id" not in track.context["form"].initial
    assert client.get(reverse("calls:identify"), {"draft": "forged"}).status_code == 200


def test_edit_and_send_needs_the_role_to_send_that_call(live_source, support) -> None:
    original = add_call(user=support, source=live_source, event="Order Completed")
    response = login(support).get(reverse("audit:edit_and_send", args=[original.pk]), follow=True)
    assert "Cannot edit and send: Your role may not send Track calls." in (
        response.content.decode()
    )


# --- Verify integrity -----------------------------------------------------------------------


def test_verify_integrity_shows_the_chain_checks_out(admin_user) -> None:
    add_call(user=admin_user)
    client = login(admin_user)
    assert client.get(reverse("audit:verify")).status_code == 200
    html = client.post(reverse("audit:verify")).content.decode()
    assert "The audit log is intact." in html
    assert "2 entries checked" in html


def test_verify_integrity_shows_the_first_break(admin_user) -> None:
    from tests.audit.conftest import tamper

    entry = add_call(user=admin_user, user_id="honest")
    tamper("UPDATE audit_auditentry SET user_id = 'forged' WHERE id = %s", [entry.pk])
    html = login(admin_user).post(reverse("audit:verify")).content.decode()
    assert "The audit log has been tampered with." in html
    assert f"seq {entry.seq}" in html and "changed row" in html


@pytest.mark.parametrize("persona_name", ["marketer", "support"])
def test_only_admins_export_and_verify(persona, persona_name) -> None:
    client = login(persona(persona_name))
    assert client.get(reverse("audit:verify")).status_code == 403
    assert client.post(reverse("audit:verify")).status_code == 403
    assert client.get(reverse("audit:export")).status_code == 403
