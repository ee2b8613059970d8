"""Privacy requests: filed by Support, approved by another Admin, sent in chunks of 5,000, and
followed to Finished, every step on the record (issue 15)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from segadmin.approvals.models import Approval, Decided
from segadmin.approvals.services import Refused, decide
from segadmin.audit.models import AuditEntry, AuditMessage
from segadmin.credentials.models import Source
from segadmin.privacy import flow
from segadmin.privacy.models import Chunk, PrivacyRequest
from tests.factories import login, make_source
from tests.privacy.conftest import actor_of, creates, filed

pytestmark = pytest.mark.django_db


def form(workspace, **changes):
    data = {
        "workspace": workspace.pk,
        "scope": "",
        "action": "SUPPRESS_WITH_DELETE",
        "subject_type": "USER_ID",
        "ids": "u1\nu2\n",
        "reason": "Ticket #123",
    }
    data.update(changes)
    return data


def test_support_files_a_request_that_waits_and_sends_nothing(fake, support, workspace):
    answer = login(support).post(reverse("privacy:new"), form(workspace), follow=True)
    assert answer.status_code == 200
    request = PrivacyRequest.objects.get()
    assert request.state == PrivacyRequest.State.WAITING
    assert request.id_list == ["u1", "u2"]
    assert request.approval.state == Approval.State.WAITING
    assert "Nothing has been sent" in answer.content.decode()
    assert creates(fake) == []
    entry = AuditEntry.objects.get(action="privacy.requested")
    assert entry.details_data["ids"] == ["u1", "u2"]
    assert entry.details_data["reason"] == "Ticket #123"
    assert entry.username == "sam"


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"reason": "  "}, "reason", "Give a reason"),
        ({"ids": ""}, "ids", "Enter at least one ID"),
        ({"ids": "\n".join(f"u{i}" for i in range(100_001))}, "ids", "at most 100,000"),
        ({"ids": "u1\x07"}, "ids", "control characters"),
        ({"action": "BURN"}, "action", "Select a valid choice"),
    ],
)
def test_bad_input_is_refused_next_to_the_field_and_nothing_is_saved(
    fake, support, workspace, changes, field, words
):
    answer = login(support).post(reverse("privacy:new"), form(workspace, **changes))
    assert answer.status_code == 200
    assert words in " ".join(answer.context["form"].errors[field])
    assert PrivacyRequest.objects.count() == 0


def test_a_source_of_another_workspace_is_refused(fake, support, workspace):
    other = make_source("Elsewhere", "wk_other_0123456789", segment_source_id="src_9")
    answer = login(support).post(reverse("privacy:new"), form(workspace, scope=other.pk))
    assert "is not a source of" in " ".join(answer.context["form"].errors["scope"])


def test_support_cannot_approve_by_any_path(fake, support, workspace):
    request = filed(support, workspace)
    client = login(support)
    assert client.get(reverse("approvals:list")).status_code == 403
    answer = client.post(
        reverse("approvals:decide", args=[request.approval.pk]), {"decision": "approve"}
    )
    assert answer.status_code == 403
    page = client.get(reverse("privacy:detail", args=[request.pk])).content.decode()
    assert 'value="approve"' not in page
    assert Approval.objects.get().state == Approval.State.WAITING
    assert creates(fake) == []


@pytest.mark.parametrize("who", ["admin_user", "superuser"])
def test_self_approval_is_refused_even_for_a_superuser(fake, workspace, persona, who):
    user = persona(who)
    request = filed(user, workspace)
    with pytest.raises(Refused, match="another Admin"):
        decide(approval_id=request.approval.pk, actor=actor_of(user), approve=True, comment="")
    answer = login(user).post(
        reverse("approvals:decide", args=[request.approval.pk]),
        {"decision": "approve"},
        follow=True,
    )
    assert "another Admin must approve" in answer.content.decode()
    assert Approval.objects.get().state == Approval.State.WAITING
    assert creates(fake) == []


def test_another_admin_approves_it_is_sent_and_followed_to_finished(
    fake, support, admin_user, workspace
):
    request = filed(support, workspace)
    client = login(admin_user)
    answer = client.post(
        reverse("approvals:decide", args=[request.approval.pk]),
        {"decision": "approve", "comment": "checked the ticket"},
        follow=True,
    )
    assert "Approved and sent to Segment in 1 call" in answer.content.decode()
    request.refresh_from_db()
    assert request.state == PrivacyRequest.State.SENT
    chunk = request.chunks.get()
    assert chunk.regulate_id and chunk.status == "INITIALIZED"
    [create] = creates(fake)
    assert json.loads(create.body) == {
        "regulationType": "SUPPRESS_WITH_DELETE",
        "subjectType": "USER_ID",
        "subjectIds": ["u1", "u2"],
    }
    for _ in range(2):
        client.post(reverse("privacy:refresh", args=[request.pk]))
    chunk.refresh_from_db()
    assert chunk.status == "FINISHED"
    assert list(chunk.changes.values_list("status", flat=True)) == [
        "INITIALIZED",
        "RUNNING",
        "FINISHED",
    ]
    page = client.get(reverse("privacy:detail", args=[request.pk])).content.decode()
    assert chunk.regulate_id in page and "Finished" in page
    assert "checked the ticket" in page
    approved = AuditEntry.objects.get(action="approval.approved")
    assert approved.username == "ada" and approved.details_data["comment"] == "checked the ticket"


def test_every_step_is_found_by_the_privacy_filter_and_on_each_users_lookup(
    fake, support, admin_user, workspace
):
    request = filed(support, workspace)
    admin = login(admin_user)
    admin.post(reverse("approvals:decide", args=[request.approval.pk]), {"decision": "approve"})
    admin.post(reverse("privacy:refresh", args=[request.pk]))
    steps = {
        "privacy.requested",
        "approval.requested",
        "approval.approved",
        "public:create_regulation",
        "privacy.status_changed",
        "public:get_regulation",
    }
    listed = admin.get(reverse("audit:list"), {"call_type": "privacy"}).content.decode()
    for step in steps - {"public:get_regulation"}:
        assert step in listed or step.split(":")[-1] in listed
    for user_id in ("u1", "u2"):
        found = set(
            AuditMessage.objects.filter(user_id=user_id).values_list(
                "entry__action", "entry__call_type"
            )
        )
        named = {action or call_type for action, call_type in found}
        assert steps - {"public:get_regulation", "approval.requested"} <= named
        page = login(support).get(
            reverse("lookup:index"), {"identifier_type": "user_id", "identifier": user_id}
        )
        text = page.content.decode()
        assert "privacy.requested" in text and "approval.approved" in text


def test_a_rejected_request_is_never_sent_and_the_decision_never_changes(
    fake, support, admin_user, superuser, workspace
):
    request = filed(support, workspace)
    decide(approval_id=request.approval.pk, actor=actor_of(admin_user), approve=False, comment="no")
    request.refresh_from_db()
    assert request.state == PrivacyRequest.State.REJECTED
    with pytest.raises(Refused, match="rejected already by ada"):
        decide(approval_id=request.approval.pk, actor=actor_of(superuser), approve=True, comment="")
    approval = Approval.objects.get()
    approval.comment = "changed"
    with pytest.raises(Decided):
        approval.save()
    assert creates(fake) == []


def test_ids_are_sent_in_calls_of_at_most_5000(fake, support, admin_user, workspace):
    ids = [f"user-{i}" for i in range(12_001)]
    request = filed(support, workspace, ids=ids)
    assert list(request.chunks.values_list("id_count", flat=True)) == [5000, 5000, 2001]
    decide(approval_id=request.approval.pk, actor=actor_of(admin_user), approve=True, comment="")
    flow.on_approved(request.approval, actor_of(admin_user))
    sent = [json.loads(create.body)["subjectIds"] for create in creates(fake)]
    assert [len(chunk) for chunk in sent] == [5000, 5000, 2001]
    assert [i for chunk in sent for i in chunk] == ids


def test_a_failed_chunk_is_retried_without_resending_the_others(
    fake, support, admin_user, workspace
):
    ids = [f"user-{i}" for i in range(11_000)]
    request = filed(support, workspace, ids=ids)
    decide(approval_id=request.approval.pk, actor=actor_of(admin_user), approve=True, comment="")
    fake.state.regulations.quota["sgp_TESTtokenAbCdEfGhIjKlMnOpQrStUvWxYz0123456789"] = 9_000
    flow.on_approved(request.approval, actor_of(admin_user))
    request.refresh_from_db()
    assert request.state == PrivacyRequest.State.NOT_SENT
    assert "quota 4000 left" in request.not_sent_reason
    states = list(request.chunks.values_list("state", flat=True))
    assert states == [Chunk.State.SENT, Chunk.State.FAILED, Chunk.State.PENDING]
    assert AuditEntry.objects.filter(action="privacy.not_sent").count() == 1
    page = login(support).get(reverse("privacy:detail", args=[request.pk])).content.decode()
    assert "Approved — not sent" in page and ">Retry<" in page

    fake.state.regulations.quota.clear()
    answer = login(support).post(reverse("privacy:retry", args=[request.pk]), follow=True)
    assert "every call reached Segment" in answer.content.decode()
    request.refresh_from_db()
    assert request.state == PrivacyRequest.State.SENT
    taken = [json.loads(c.body)["subjectIds"] for c in creates(fake)]
    assert [len(chunk) for chunk in taken] == [5000, 5000, 5000, 1000]  # the 2nd twice
    ok = [r for r in creates(fake) if r.status == 200]
    sent_ids = [i for r in ok for i in json.loads(r.body)["subjectIds"]]
    assert sorted(sent_ids) == sorted(ids)  # each ID taken once
    assert list(request.chunks.values_list("attempts", flat=True)) == [1, 2, 1]
    # A second Retry finds nothing to send.
    assert flow.retry(request, actor=actor_of(support)) is None


def test_a_token_without_the_privacy_scope_leaves_it_not_sent_with_the_reason(
    fake, support, admin_user, workspace
):
    fake.state.regulations.no_privacy.add("sgp_TESTtokenAbCdEfGhIjKlMnOpQrStUvWxYz0123456789")
    request = filed(support, workspace)
    decide(approval_id=request.approval.pk, actor=actor_of(admin_user), approve=True, comment="")
    message = flow.on_approved(request.approval, actor_of(admin_user))
    assert "privacy scope" in message
    request.refresh_from_db()
    assert request.state == PrivacyRequest.State.NOT_SENT


def test_a_source_scoped_request_goes_to_the_source_route(fake, support, admin_user, workspace):
    source = make_source("Site", "wk_site_0123456789", segment_source_id="src_1")
    Source.objects.filter(pk=source.pk).update(workspace=workspace)
    source.refresh_from_db()
    request = filed(support, workspace, source=source)
    decide(approval_id=request.approval.pk, actor=actor_of(admin_user), approve=True, comment="")
    flow.on_approved(request.approval, actor_of(admin_user))
    assert [c.path for c in creates(fake)] == ["/regulations/sources/src_1"]


def test_the_periodic_sync_moves_statuses_and_records_each_change(
    fake, support, admin_user, workspace
):
    request = filed(support, workspace)
    decide(approval_id=request.approval.pk, actor=actor_of(admin_user), approve=True, comment="")
    flow.on_approved(request.approval, actor_of(admin_user))
    assert flow.sync_all() == 1
    assert flow.sync_all() == 1
    assert flow.sync_all() == 0  # finished: nothing left to ask
    chunk = request.chunks.get()
    assert chunk.status == "FINISHED"
    changes = AuditEntry.objects.filter(action="privacy.status_changed").order_by("seq")
    assert [(e.username, e.details_data["to"]) for e in changes] == [
        ("privacy.sync", "RUNNING"),
        ("privacy.sync", "FINISHED"),
    ]


def test_a_failed_regulation_is_shown_failed(fake, support, admin_user, workspace):
    fake.state.regulations.outcome["sgp_TESTtokenAbCdEfGhIjKlMnOpQrStUvWxYz0123456789"] = "FAILED"
    request = filed(support, workspace)
    decide(approval_id=request.approval.pk, actor=actor_of(admin_user), approve=True, comment="")
    flow.on_approved(request.approval, actor_of(admin_user))
    flow.sync_all()
    flow.sync_all()
    page = login(support).get(reverse("privacy:detail", args=[request.pk])).content.decode()
    assert "Failed" in page


def test_the_suppressions_page_lists_what_segment_suppresses(fake, support, workspace):
    fake.state.regulations.suppressed["sgp_TESTtokenAbCdEfGhIjKlMnOpQrStUvWxYz0123456789"] = {
        "USER_ID": {"u7": None}
    }
    page = login(support).get(reverse("privacy:suppressions"), {"workspace": workspace.pk})
    assert "u7" in page.content.decode()
    assert AuditEntry.objects.filter(call_type="public:suppressions").count() == 1


def test_the_privacy_sync_is_a_registered_periodic_job(settings):
    from segadmin import periodic

    settings.SEGADMIN_PRIVACY_SYNC_MINUTES = 7
    [job] = [job for job in periodic.registered() if job.name == "privacy.sync"]
    assert job.every().total_seconds() == 7 * 60


def test_a_refused_request_lists_its_problems_at_the_top_linked_to_their_fields(
    fake, support, workspace
):
    answer = login(support).post(reverse("privacy:new"), form(workspace, ids="", reason=""))
    page = answer.content.decode()
    start = page.index("data-error-summary")
    summary = page[start : page.index("</div>", start)]
    assert "Nothing was saved: fix these 2 problems." in summary
    assert 'href="#id_ids"' in summary and "Enter at least one ID" in summary
    assert 'href="#id_reason"' in summary
