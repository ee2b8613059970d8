"""The send service: every send leaves the right audit entry, whatever happens to it."""

from __future__ import annotations

import base64
import json
import socket

import pytest
import requests
import responses
from django.db import transaction
from django.test import override_settings

from segadmin import sending
from segadmin.audit.chain import verify_chain
from segadmin.audit.log import Actor, TransactionOpen
from segadmin.audit.models import NO_ANSWER, AuditEntry, Kind, Outcome
from segadmin.credentials.crypto import SecretUnreadable
from segadmin.credentials.models import Source, Workspace
from segadmin.segment import client
from segadmin.segment.errors import MessageInvalid, UnsafeRequest
from segadmin.segment.messages import build_message
from tests.factories import make_source

pytestmark = pytest.mark.django_db

WRITE_KEY = "wk_live_0123456789abcdefSECRET"
TOKEN = "sgp_publicapitoken_0123456789SECRET"
TRACK_URL = "https://api.segment.io/v1/track"
BATCH_URL = "https://api.segment.io/v1/batch"


@pytest.fixture
def source() -> Source:
    return make_source("My site", WRITE_KEY)


@pytest.fixture
def workspace() -> Workspace:
    workspace = Workspace(name="Acme", region="us")
    workspace.set_public_api_token(TOKEN)
    workspace.save()
    return workspace


@pytest.fixture
def actor() -> Actor:
    # No User row: creating one hashes a password, which is slow; one test below uses a user.
    return Actor(user=None, username="maria", role="Marketer", ip="10.1.2.3", user_agent="pytest")


def track(**extra) -> dict:
    return build_message(
        "track", user_id="u-42", event="Order Completed", properties={"revenue": 9.5}, **extra
    )


def send_track(actor: Actor, source: Source, **kwargs) -> sending.Sent:
    return sending.send_message(actor=actor, source=source, message=track(), **kwargs)


def only_request_entry() -> AuditEntry:
    return AuditEntry.objects.get(kind=Kind.REQUEST)


# --- what a successful send records ---------------------------------------------------------


@responses.activate
def test_a_2xx_answer_is_recorded_as_sent_with_the_whole_request_and_response(marketer, source):
    actor = Actor(
        user=marketer, username="maria", role="Marketer", ip="10.1.2.3", user_agent="pytest"
    )
    responses.post(TRACK_URL, json={"success": True}, headers={"X-Request-Id": "r-1"})
    sent = send_track(actor, source)

    entry = only_request_entry()
    assert sent.entry.pk == entry.pk
    assert sent.result.ok
    assert entry.outcome == Outcome.SENT
    assert entry.outcome_label == "sent"
    assert entry.response_status == 200
    assert entry.attempts == 1
    assert entry.duration_ms is not None
    # who, where, what
    assert (entry.actor_user, entry.username, entry.role) == (marketer, "maria", "Marketer")
    assert (entry.ip, entry.user_agent) == ("10.1.2.3", "pytest")
    assert (entry.source, entry.source_ref, entry.source_name) == (
        source,
        str(source.pk),
        "My site",
    )
    assert (entry.api, entry.call_type, entry.method, entry.url) == (
        "tracking",
        "track",
        "POST",
        TRACK_URL,
    )
    assert (entry.user_id, entry.event) == ("u-42", "Order Completed")
    assert entry.message_id == sent.request.summary()["message_id"]
    assert entry.request_headers_data["Authorization"] == "Basic ****"
    assert entry.request_body_data["writeKey"] == "****"
    assert entry.request_body_data["properties"] == {"revenue": 9.5}
    # the answer lives on its own chained outcome row
    answer = entry.outcome_record
    assert answer.kind == Kind.OUTCOME
    assert json.loads(answer.response_body_bytes) == {"success": True}
    assert answer.response_headers_data["X-Request-Id"] == "r-1"
    assert verify_chain().ok


@responses.activate
def test_the_returned_entry_already_shows_the_outcome(actor, source):
    responses.post(TRACK_URL, json={"success": True})
    sent = send_track(actor, source)
    assert sent.entry.outcome == Outcome.SENT
    assert sent.entry.response_status == 200


@responses.activate
def test_a_large_response_body_is_kept_whole(actor, source):
    body = ("x" * 999 + "\n") * 1000  # 1,000,000 bytes
    responses.post(TRACK_URL, body=body, status=200)
    send_track(actor, source)
    answer = only_request_entry().outcome_record
    assert answer.response_body_text() == body
    assert len(bytes(answer.response_body)) < 100_000  # stored compressed


@responses.activate
def test_a_resend_points_at_the_entry_it_repeats(actor, source):
    responses.post(TRACK_URL, json={"success": True})
    first = send_track(actor, source)
    again = send_track(actor, source, related_to=first.entry, relation="send again")
    assert again.entry.related_to == first.entry
    assert again.entry.relation == "send again"


# --- each failure mode ----------------------------------------------------------------------


@responses.activate
def test_a_400_is_recorded_as_rejected_by_segment_with_its_body(actor, source):
    responses.post(TRACK_URL, status=400, json={"code": "invalid_json", "message": "Bad"})
    sent = send_track(actor, source)
    entry = only_request_entry()
    assert not sent.result.ok
    assert (entry.outcome, entry.response_status) == (Outcome.REJECTED, 400)
    assert entry.outcome_label == "rejected by Segment (HTTP 400)"
    assert json.loads(entry.outcome_record.response_body_bytes)["code"] == "invalid_json"


@responses.activate
def test_a_429_is_recorded_as_rejected_with_the_rate_limit_headers(actor, source):
    for _ in range(3):
        responses.post(
            TRACK_URL, status=429, body="", headers={"Retry-After": "30", "X-RateLimit-Reset": "30"}
        )
    send_track(actor, source)
    entry = only_request_entry()
    assert (entry.outcome, entry.response_status) == (Outcome.REJECTED, 429)
    assert entry.outcome_record.response_headers_data["Retry-After"] == "30"
    assert entry.attempts >= 1


@responses.activate
def test_a_500_is_recorded_as_rejected_with_the_number_of_attempts(actor, source):
    for _ in range(3):
        responses.post(TRACK_URL, status=500, body="oops")
    sent = send_track(actor, source)
    entry = only_request_entry()
    assert (entry.outcome, entry.response_status) == (Outcome.REJECTED, 500)
    assert entry.attempts == sent.result.attempts
    assert entry.outcome_record.response_body_text() == "oops"


@responses.activate
def test_a_timeout_is_recorded_as_failed_with_the_reason(actor, source):
    for _ in range(3):
        responses.post(TRACK_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    send_track(actor, source)
    entry = only_request_entry()
    assert entry.outcome == Outcome.FAILED
    assert entry.response_status is None
    assert entry.error.startswith("timed out")
    assert entry.outcome_label == f"failed: {entry.error}"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_refused_connection_is_recorded_as_failed_connection_refused(actor, source):
    with override_settings(SEGMENT_TRACKING_API_URL=f"http://127.0.0.1:{closed_port()}"):
        sent = send_track(actor, source)
    entry = only_request_entry()
    assert sent.result.status is None
    assert entry.outcome == Outcome.FAILED
    assert entry.error == "connection refused"
    assert entry.outcome_label == "failed: connection refused"
    assert verify_chain().ok


class Killed(BaseException):
    """Stands for the process being killed while it waits for Segment."""


def test_a_process_killed_mid_call_leaves_the_entry_with_no_answer_recorded(
    actor, source, monkeypatch
):
    def die(request, *, profile):
        raise Killed

    monkeypatch.setattr(client, "send", die)
    with pytest.raises(Killed):
        send_track(actor, source)
    entry = only_request_entry()
    assert entry.outcome is None
    assert entry.outcome_label == NO_ANSWER
    assert not AuditEntry.objects.filter(kind=Kind.OUTCOME).exists()
    assert verify_chain().ok


def test_a_bug_in_the_client_is_still_recorded_as_a_failure(actor, source, monkeypatch):
    def broken(request, *, profile):
        raise ValueError("boom")

    monkeypatch.setattr(client, "send", broken)
    with pytest.raises(ValueError):
        send_track(actor, source)
    entry = only_request_entry()
    assert entry.outcome == Outcome.FAILED
    assert "internal error" in entry.error


# --- refused before anything is recorded or sent --------------------------------------------


@responses.activate
def test_an_invalid_message_is_refused_before_anything_is_recorded_or_sent(actor, source):
    message = build_message("track", event="No ids")
    with pytest.raises(MessageInvalid) as caught:
        sending.send_message(actor=actor, source=source, message=message)
    assert "no_user_anon_id" in caught.value.codes()
    assert not AuditEntry.objects.exists()
    assert len(responses.calls) == 0


@responses.activate
def test_a_batch_checks_every_message_unless_its_caller_just_did(actor, source):
    bad = build_message("track", event="No ids")
    with pytest.raises(MessageInvalid) as caught:
        sending.send_batch(actor=actor, source=source, messages=[bad])
    assert "no_user_anon_id" in caught.value.codes()
    assert not AuditEntry.objects.exists() and len(responses.calls) == 0


@responses.activate
def test_a_batch_whose_messages_were_checked_is_still_held_to_segments_limits(actor, source):
    message = build_message("track", user_id="u1", event="Order Completed")
    with pytest.raises(MessageInvalid) as caught:
        sending.send_batch(
            actor=actor, source=source, messages=[message] * 2_501, checked=sending.Checked(None)
        )
    assert "batch_too_many_items" in caught.value.codes()
    assert not AuditEntry.objects.exists() and len(responses.calls) == 0


@responses.activate
def test_it_refuses_to_send_inside_a_transaction(actor, source):
    with (
        pytest.raises(TransactionOpen, match="inside a database transaction"),
        transaction.atomic(),
    ):
        send_track(actor, source)
    assert not AuditEntry.objects.exists()
    assert len(responses.calls) == 0


@responses.activate
def test_an_unreadable_write_key_is_a_clear_error_and_nothing_is_recorded(actor, source):
    Source.objects.filter(pk=source.pk).update(write_key_encrypted="gAAAAA-not-a-token")
    source.refresh_from_db()
    with pytest.raises(SecretUnreadable, match='source "My site"'):
        send_track(actor, source)
    assert not AuditEntry.objects.exists()
    assert len(responses.calls) == 0


@responses.activate
def test_an_unsafe_raw_path_is_refused_before_anything_is_recorded(actor, source):
    with pytest.raises(UnsafeRequest):
        sending.send_raw(
            actor=actor,
            api="tracking",
            source=source,
            method="POST",
            path="//evil.example/v1/track",
            headers={},
            query={},
            body="{}",
        )
    assert not AuditEntry.objects.exists()


# --- batches, raw calls, the Public API -------------------------------------------------------


@responses.activate
def test_a_batch_is_one_entry_carrying_the_bulk_job_id(actor, source):
    responses.post(BATCH_URL, json={"success": True})
    batch = [track(), track()]
    sent = sending.send_batch(actor=actor, source=source, messages=batch, bulk_job_id="job-7")
    entry = only_request_entry()
    assert sent.entry == entry
    assert (entry.call_type, entry.bulk_job_id, entry.outcome) == ("batch", "job-7", "sent")
    assert entry.user_id == "u-42"
    assert len(entry.request_body_data["batch"]) == 2


@responses.activate
def test_a_raw_public_api_call_is_recorded_under_its_workspace(actor, workspace):
    responses.get("https://api.segmentapis.com/sources", json={"data": {"sources": []}})
    sent = sending.send_raw(
        actor=actor,
        api="public",
        workspace=workspace,
        method="GET",
        path="/sources",
        headers={},
        query={"pagination.count": "10"},
        body=None,
    )
    entry = only_request_entry()
    assert sent.result.status == 200
    assert (entry.workspace, entry.workspace_name, entry.api) == (workspace, "Acme", "public")
    assert entry.url.startswith("https://api.segmentapis.com/sources?")
    assert entry.request_headers_data["Authorization"] == "Bearer ****"


@responses.activate
def test_listing_sources_records_one_entry_per_page_and_masks_their_write_keys(actor, workspace):
    other_key = "wk_of_another_source_0123456789"
    page = {
        "data": {
            "sources": [
                {
                    "id": "s1",
                    "slug": "site",
                    "name": "Site",
                    "enabled": True,
                    "writeKeys": [other_key],
                },
            ],
            "pagination": {"current": "MA==", "next": "MQ=="},
        }
    }
    last = {"data": {"sources": [], "pagination": {"current": "MQ==", "next": None}}}
    responses.get("https://api.segmentapis.com/sources", json=page)
    responses.get("https://api.segmentapis.com/sources", json=last)
    transport = sending.workspace_transport(actor=actor, workspace=workspace)
    sources = client.list_sources(token=TOKEN, region="us", transport=transport)

    assert [list(s.write_keys) for s in sources] == [[other_key]]
    entries = AuditEntry.objects.filter(kind=Kind.REQUEST).order_by("seq")
    assert [e.call_type for e in entries] == ["public:list_sources"] * 2
    assert all(e.workspace == workspace and e.outcome == "sent" for e in entries)
    stored = json.loads(entries[0].outcome_record.response_body_bytes)
    assert stored["data"]["sources"][0]["writeKeys"] == ["****"]


# --- no secret, in any encoding, in any audit row -------------------------------------------


def secret_forms(secret: str) -> list[str]:
    raw = secret.encode()
    return [
        secret,
        base64.b64encode(raw).decode(),
        base64.b64encode(raw + b":").decode().rstrip("="),
        base64.urlsafe_b64encode(raw + b":").decode().rstrip("="),
    ]


def all_audit_text() -> str:
    parts = []
    for entry in AuditEntry.objects.all():
        for field in AuditEntry._meta.concrete_fields:
            parts.append(str(getattr(entry, field.attname)))
        parts.append(json.dumps(entry.request_body_data))
        parts.append(entry.response_body_text())
    return "\n".join(parts)


@responses.activate
def test_no_audit_row_holds_a_secret_in_any_encoding(actor, source, workspace):
    # Segment would never echo a key, but if an answer did, it must not reach the log.
    responses.post(TRACK_URL, body=f"echo {WRITE_KEY} {secret_forms(WRITE_KEY)[2]}")
    responses.post(BATCH_URL, status=400, json={"writeKey": WRITE_KEY})
    responses.get(
        "https://api.segmentapis.com/",
        json={"data": {"workspace": {"id": "w1", "slug": "acme", "name": "Acme"}}},
        headers={"X-Echo": TOKEN},
    )
    send_track(actor, source)
    sending.send_batch(actor=actor, source=source, messages=[track()])
    client.get_workspace(
        token=TOKEN,
        region="us",
        transport=sending.workspace_transport(actor=actor, workspace=workspace),
    )
    text = all_audit_text()
    assert AuditEntry.objects.count() == 6
    for secret in (WRITE_KEY, TOKEN):
        for form in secret_forms(secret):
            assert form not in text


# --- against the local fake of Segment, over real loopback HTTP ------------------------------


def test_a_send_to_the_fake_is_accepted_and_recorded_as_sent(fake_segment, actor, source):
    fake_segment.add_write_key(WRITE_KEY, "src-1")
    sent = send_track(actor, source)
    assert sent.entry.outcome == Outcome.SENT
    [received] = fake_segment.messages("/v1/track")
    assert received["messageId"] == sent.entry.message_id
    assert sent.entry.url == f"{fake_segment.url}/v1/track"


@pytest.mark.parametrize(
    ("faults", "outcome", "status"),
    [
        ([400], Outcome.REJECTED, 400),
        ([{"status": 429, "retry_after": 30}] * 2, Outcome.REJECTED, 429),
        ([500, 500], Outcome.REJECTED, 500),
        (["drop", "drop"], Outcome.FAILED, None),
    ],
)
def test_each_failure_of_the_fake_leaves_the_right_entry(
    fake_segment, actor, source, faults, outcome, status
):
    fake_segment.queue_faults(faults)
    sent = send_track(actor, source)
    entry = only_request_entry()
    assert (entry.outcome, entry.response_status) == (outcome, status)
    assert entry.attempts == sent.result.attempts
    if outcome == Outcome.FAILED:
        assert entry.error == sent.result.error
        assert entry.outcome_label.startswith("failed: ")
    assert verify_chain().ok


def test_a_500_then_a_200_from_the_fake_is_sent_after_two_attempts(fake_segment, actor, source):
    fake_segment.queue_faults([500])
    sent = send_track(actor, source)
    entry = only_request_entry()
    assert (entry.outcome, entry.attempts) == (Outcome.SENT, 2)
    assert sent.result.attempts == 2
