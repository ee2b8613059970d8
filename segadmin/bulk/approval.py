"""A large import's approval (issue 15): approving it lets Start work; nothing starts by itself
(its uploader, or an Admin, presses Start, with the mapping they last checked)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from segadmin.accounts import limits
from segadmin.approvals.models import Approval
from segadmin.approvals.registry import Handler
from segadmin.audit.log import Actor
from segadmin.bulk.models import BulkJob


def _approved(approval: Approval, actor: Actor) -> str:
    return "Approved: the import's uploader (or an Admin) can now press Start."


def _rejected(approval: Approval, actor: Actor) -> None:
    """Nothing to undo: the import stays a draft that cannot start."""


def _link(approval: Approval) -> str:
    return reverse("bulk:job", kwargs={"job_id": approval.target_id})


def _outside_limits(approval: Approval, user: Any) -> str:
    job = BulkJob.objects.select_related("source").filter(pk=approval.target_id).first()
    if job is None or job.source is None or limits.may_use_source(user, job.source):
        return ""
    return (
        f"This import sends to the source “{job.source.name}”, and an Admin limited you to "
        "other sources: another Admin must decide."
    )


HANDLER = Handler(
    kind=Approval.Kind.BULK,
    approved=_approved,
    rejected=_rejected,
    link=_link,
    outside_limits=_outside_limits,
)
