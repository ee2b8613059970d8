"""Two Admins approving at once make one approval and one call to Segment (PostgreSQL: real
concurrent transactions; SQLite serialises every writer and is skipped)."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from segadmin.approvals.models import Approval
from segadmin.approvals.registry import handler_for
from segadmin.approvals.services import Refused, decide
from segadmin.audit.models import AuditEntry
from tests.audit.conftest import postgres_only
from tests.conftest import make_user
from tests.privacy.conftest import actor_of, creates, filed

pytestmark = [pytest.mark.django_db(transaction=True), postgres_only]

ADMINS = 6


def test_concurrent_approvals_give_one_approval_and_one_call(fake, workspace):
    support = make_user("sam", "Support")
    admins = [make_user(f"admin{n}", "Admin") for n in range(ADMINS)]
    request = filed(support, workspace)
    start = threading.Barrier(ADMINS)
    won: list[str] = []
    refused: list[str] = []
    errors: list[BaseException] = []

    def approve(user) -> None:
        try:
            actor = actor_of(user)
            start.wait()
            try:
                approval = decide(
                    approval_id=request.approval.pk, actor=actor, approve=True, comment=""
                )
            except Refused as exc:
                refused.append(str(exc))
                return
            won.append(user.username)
            handler = handler_for(approval.kind)
            assert handler is not None
            handler.approved(approval, actor)
        except BaseException as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=approve, args=(admin,)) for admin in admins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(won) == 1
    assert len(refused) == ADMINS - 1
    assert all("approved already" in message for message in refused)
    assert Approval.objects.get().decided_by_name == won[0]
    assert len(creates(fake)) == 1
    assert AuditEntry.objects.filter(action="approval.approved").count() == 1
    assert AuditEntry.objects.filter(call_type="public:create_regulation").count() == 1
