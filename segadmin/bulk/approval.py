"""A large import's approval (issue 15): approving it lets Start work; nothing starts by itself
(its uploader, or an Admin, presses Start, with the mapping they last checked)."""

from __future__ import annotations

from django.urls import reverse

from segadmin.approvals.models import Approval
from segadmin.approvals.registry import Handler
from segadmin.audit.log import Actor


def _approved(approval: Approval, actor: Actor) -> str:
    return "Approved: the import's uploader (or an Admin) can now press Start."


def _rejected(approval: Approval, actor: Actor) -> None:
    """Nothing to undo: the import stays a draft that cannot start."""


def _link(approval: Approval) -> str:
    return reverse("bulk:job", kwargs={"job_id": approval.target_id})


HANDLER = Handler(kind=Approval.Kind.BULK, approved=_approved, rejected=_rejected, link=_link)
