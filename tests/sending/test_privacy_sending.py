"""Regulations through the sending layer: each create audited once, the IDs in the index."""

from __future__ import annotations

import pytest

from segadmin.audit.log import Actor
from segadmin.audit.models import AuditEntry, AuditMessage, Outcome
from segadmin.segment.client.regulations import Created, CreateFailed
from segadmin.sending import privacy
from tests.conftest import TOKEN

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(fake_segment, workspace):
    fake_segment.add_workspace(TOKEN, id="ws_1")
    fake_segment.add_source(id="src_1", token=TOKEN, write_keys=["wk"])
    return fake_segment


ACTOR = Actor(user=None, username="ada", role="Admin", ip="10.0.0.1", user_agent="pytest")


def send(workspace, ids=("u1", "u2"), source_id=None, kind="SUPPRESS_WITH_DELETE"):
    return privacy.send_regulation(
        actor=ACTOR,
        workspace=workspace,
        source_id=source_id,
        regulation_type=kind,
        subject_type="USER_ID",
        subject_ids=list(ids),
    )


def test_a_create_is_recorded_with_each_id_in_the_message_index(fake, workspace):
    sent = send(workspace)
    assert isinstance(sent.answer, Created)
    assert sent.answer.quota.remaining == 109998
    entry = AuditEntry.objects.get(pk=sent.entry.pk)
    assert entry.call_type == "public:create_regulation"
    assert entry.outcome == Outcome.SENT
    assert entry.request_body_data["subjectIds"] == ["u1", "u2"]
    assert TOKEN not in entry.request_headers
    rows = AuditMessage.objects.filter(entry=entry).order_by("position")
    assert [(r.user_id, r.call_type) for r in rows] == [("u1", "privacy"), ("u2", "privacy")]


def test_a_source_create_goes_to_the_source_route(fake, workspace):
    sent = send(workspace, source_id="src_1")
    assert isinstance(sent.answer, Created)
    assert fake.requests[-1].path == "/regulations/sources/src_1"


def test_a_server_error_is_not_retried(fake, workspace):
    fake.queue_faults([503])
    sent = send(workspace)
    assert isinstance(sent.answer, CreateFailed)
    assert [r.path for r in fake.requests] == ["/regulations"]
    assert AuditEntry.objects.get(pk=sent.entry.pk).attempts == 1


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        ({"privacy": False}, "privacy scope"),
        ({"quota": 1}, "quota 1 left"),
    ],
)
def test_refusals_say_why(fake, workspace, setup, words):
    fake.state.regulations.no_privacy.clear()
    if "privacy" in setup:
        fake.state.regulations.no_privacy.add(TOKEN)
    if "quota" in setup:
        fake.state.regulations.quota[TOKEN] = setup["quota"]
    sent = send(workspace)
    assert isinstance(sent.answer, CreateFailed)
    assert words in sent.answer.error.message


def test_a_dropped_connection_is_a_failure_in_words(fake, workspace):
    fake.queue_faults(["drop"])
    sent = send(workspace)
    assert isinstance(sent.answer, CreateFailed)
    assert sent.answer.error.kind == "network"
    assert AuditEntry.objects.get(pk=sent.entry.pk).outcome == Outcome.FAILED


def test_status_and_suppressions_are_read_and_recorded(fake, workspace):
    regulate_id = send(workspace, kind="SUPPRESS_ONLY").answer.regulate_id
    status = privacy.get_regulation(actor=ACTOR, workspace=workspace, regulate_id=regulate_id)
    assert status.status == "RUNNING"
    assert status.destinations[0]["name"] == "Fake destination"
    suppressed = privacy.list_suppressions(actor=ACTOR, workspace=workspace)
    assert [(s.subject_type, s.subject_ids) for s in suppressed] == [("USER_ID", ("u1", "u2"))]
    assert AuditEntry.objects.filter(call_type="public:get_regulation").count() == 1
    assert AuditEntry.objects.filter(call_type="public:suppressions").count() == 1
