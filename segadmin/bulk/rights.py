"""Who may send a bulk import: asked by the screens (upload, dry run, Start, Resume) and by the
worker before each chunk, always with the uploader read afresh."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from segadmin.accounts.limits import read_limits, source_refusal
from segadmin.accounts.permissions import BULK_IMPORT, may_send
from segadmin.bulk.models import BulkJob, CallType


class JobRefused(Exception):
    """The import may not be sent (by this person, or any more); the message says why."""


class SourceRefused(JobRefused):
    """The person may not use the import's source (their source limits): said next to Source."""


def _call_label(call_type: str) -> str:
    return CallType(call_type).label if call_type in CallType.values else call_type


def upload_refusal(user: Any, call_type: str) -> str:
    """Why ``user`` may not upload an import of ``call_type`` ("" when they may): the calls a
    person may send in bulk are the calls they may send one by one."""
    if not user.has_perm(BULK_IMPORT):
        return "Your role may not run bulk imports."
    if not may_send(user, call_type):
        return f"Your role may not send {_call_label(call_type)} calls, so it cannot import them."
    return ""


def source_upload_refusal(user: Any, source: Any) -> str:
    """Why ``user`` may not import to ``source`` ("" when they may): their source limits."""
    if not read_limits(user).allows_source(source):
        return source_refusal(source)
    return ""


def outside_limits(job: BulkJob, user: Any) -> bool:
    """Whether the job's source is outside ``user``'s source limits now (read afresh)."""
    return job.source_id is not None and not read_limits(user).allows_source(job.source)


def uploader_refusal(job: BulkJob) -> str:
    """Why the job's uploader may not send it now ("" when they may). Asked when the job is
    planned, started, resumed and by the worker before each chunk, with the uploader read
    afresh: a role taken away, a deactivation or a deletion since the upload stops the job."""
    name = job.created_by_name or "The person"
    user = None
    if job.created_by_id is not None:
        user = get_user_model().objects.filter(pk=job.created_by_id).first()
    who = f"{name}, who uploaded this import,"
    if user is None:
        return f"{who} was deleted."
    if not user.is_active:
        return f"{who} is deactivated."
    if not user.has_perm(BULK_IMPORT):
        return f"{who} may no longer run bulk imports."
    if not may_send(user, job.call_type):
        return f"{who} may not send {_call_label(job.call_type)} calls."
    if outside_limits(job, user):
        # An Admin limited them to other sources after the upload: refused at start (and
        # before every chunk), never sent on their behalf.
        return (
            f"{who} may no longer send to the source “{job.source_name}”: an Admin limited "
            "them to other sources."
        )
    return ""


def check_uploader(job: BulkJob) -> None:
    """JobRefused, with the reason, when the job's uploader may not send it now."""
    problem = uploader_refusal(job)
    if problem:
        raise JobRefused(problem)


def stopped_because(problem: str) -> str:
    """The error an import ended for ``problem`` (a refusal above) carries on its page."""
    return f"{problem} The import was stopped before sending anything more."
