"""Privacy requests (issue 15): Support and Admins file them (``accounts.file_privacy_requests``)
and read them; Marketers never see any of it (403 on every path). Approving is the Approvals
page's (``approvals/``), and an Admin may decide here too, never on their own request."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Max, Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from segadmin.accounts import limits
from segadmin.approvals.services import APPROVE, may_decide
from segadmin.audit import limits as limit_events
from segadmin.audit.log import Actor
from segadmin.credentials import crypto
from segadmin.credentials.fields import WorkspaceChoiceField
from segadmin.credentials.models import Workspace
from segadmin.privacy import flow
from segadmin.privacy.forms import PrivacyRequestForm
from segadmin.privacy.models import STUCK_AFTER, Chunk, PrivacyRequest, StatusChange
from segadmin.privacy.services import file_request
from segadmin.segment.client import ApiError
from segadmin.sending import privacy as sending_privacy

FILE = "accounts.file_privacy_requests"
SHOWN_IDS = 50
# A request this large shows the quota Segment last reported before it is filed.
LARGE = 1000


def last_quota(workspace_ids: list[int] | None = None) -> list[dict[str, Any]]:
    """The quota Segment last reported (create answers' headers), per workspace."""
    chunks = Chunk.objects.exclude(quota_remaining=None)
    if workspace_ids is not None:
        chunks = chunks.filter(request__workspace_id__in=workspace_ids)
    latest = (
        chunks.values("request__workspace_id")
        .annotate(last=Max("pk"))
        .values_list("last", flat=True)
    )
    return [
        {
            "workspace": chunk.request.workspace.name,
            "remaining": chunk.quota_remaining,
            "reset": chunk.quota_reset,
            "action": chunk.request.get_action_display(),
            "at": chunk.status_changed_at or chunk.checked_at,
        }
        for chunk in Chunk.objects.filter(pk__in=list(latest)).select_related("request__workspace")
    ]


def _readable(request: HttpRequest) -> QuerySet[PrivacyRequest]:
    """The privacy requests this person reads: a person limited to chosen workspaces, those
    of their workspaces (and their own)."""
    requests = PrivacyRequest.objects.all()
    allowed = limits.limits_of(request.user)
    if allowed.restricted:
        requests = requests.filter(
            Q(workspace_id__in=allowed.workspace_ids) | Q(requested_by_id=request.user.pk)
        )
    return requests


@permission_required(FILE, raise_exception=True)
def request_list(request: HttpRequest) -> HttpResponse:
    requests = (
        _readable(request).select_related("workspace", "source").order_by("-created_at", "-pk")
    )
    page = Paginator(requests, 50).get_page(request.GET.get("page"))
    return render(request, "privacy/list.html", {"page": page})


@permission_required(FILE, raise_exception=True)
def request_new(request: HttpRequest) -> HttpResponse:
    form = PrivacyRequestForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and not form.is_valid():
        limit_events.refused_in_form(
            actor=Actor.from_request(request), form=form, entrance="Privacy request"
        )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        filed = file_request(
            actor=Actor.from_request(request),
            workspace=data["workspace"],
            source=data["scope"],
            action=data["action"],
            subject_type=data["subject_type"],
            ids=form.id_list,
            reason=data["reason"],
            purge_kept_files=data["purge_kept_files"],
        )
        messages.success(
            request,
            f"Saved as waiting for approval ({filed.id_count} IDs). Nothing has been sent: "
            "an Admin other than you approves it under Approvals.",
        )
        return redirect("privacy:detail", filed.pk)
    return render(
        request,
        "privacy/new.html",
        {
            "form": form,
            "quotas": last_quota(_allowed_workspace_ids(request)),
            "large": LARGE,
        },
    )


def _allowed_workspace_ids(request: HttpRequest) -> list[int] | None:
    allowed = limits.limits_of(request.user)
    return sorted(allowed.workspace_ids) if allowed.restricted else None


@permission_required(FILE, raise_exception=True)
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, pk)


def _detail(
    request: HttpRequest, pk: int, *, release_error: tuple[int, str] | None = None
) -> HttpResponse:
    filed = get_object_or_404(
        _readable(request)
        .select_related("workspace", "source", "approval")
        .prefetch_related(
            Prefetch(
                "chunks",
                queryset=Chunk.objects.prefetch_related(
                    Prefetch("changes", queryset=StatusChange.objects.order_by("seen_at", "pk"))
                ),
            )
        ),
        pk=pk,
    )
    approval = filed.approval
    ids = filed.id_list
    chunks = list(filed.chunks.all())
    context: dict[str, Any] = {
        "filed": filed,
        "approval": approval,
        "ids": ids[:SHOWN_IDS],
        "more_ids": max(0, len(ids) - SHOWN_IDS),
        "chunks": chunks,
        "sent_calls": sum(1 for chunk in chunks if chunk.state == Chunk.State.SENT),
        # Polling stops while a call is stuck: an Admin may be ticking its release box.
        "polling": filed.state == PrivacyRequest.State.SENDING
        and not any(chunk.stuck for chunk in chunks),
        "may_release": request.user.has_perm(APPROVE),
        "release_error": release_error,
        "stuck_minutes": int(STUCK_AFTER.total_seconds() // 60),
        "why_not_decide": may_decide(request.user, approval) if approval else "",
        "can_refresh": filed.state in (PrivacyRequest.State.SENT, PrivacyRequest.State.NOT_SENT),
        "can_retry": filed.state == PrivacyRequest.State.NOT_SENT,
        "quotas": last_quota([filed.workspace_id]) if filed.id_count >= LARGE else [],
    }
    template = "privacy/detail.html#progress" if request.GET.get("part") == "progress" else None
    return render(request, template or "privacy/detail.html", context)


@require_POST
@permission_required(FILE, raise_exception=True)
def request_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    filed = get_object_or_404(_readable(request).select_related("workspace"), pk=pk)
    problems = flow.refresh(filed, actor=Actor.from_request(request))
    for problem in problems:
        messages.error(request, f"Segment's status could not be read. {problem}")
    if not problems:
        messages.success(request, "Statuses read from Segment.")
    return redirect("privacy:detail", pk)


@require_POST
@permission_required(FILE, raise_exception=True)
def request_retry(request: HttpRequest, pk: int) -> HttpResponse:
    filed = get_object_or_404(_readable(request).select_related("workspace"), pk=pk)
    done = flow.retry(filed, actor=Actor.from_request(request))
    if done is None:
        messages.warning(request, "This request is not waiting for a retry: nothing was sent.")
    elif done.state == PrivacyRequest.State.SENT:
        messages.success(request, "Sent: every call reached Segment.")
    elif done.state == PrivacyRequest.State.SENDING:
        messages.info(request, "Sending again in the background: this page shows when it is sent.")
    else:
        messages.error(request, f"Still not sent: {done.not_sent_reason}")
    return redirect("privacy:detail", pk)


@require_POST
@permission_required(FILE, raise_exception=True)
@permission_required(APPROVE, raise_exception=True)
def request_release(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    """An Admin releases a call stuck in "sending" (its process died): Retry may then send it
    again, although Segment may have received it; the box saying so must be ticked."""
    filed = get_object_or_404(_readable(request).select_related("workspace"), pk=pk)
    if request.POST.get("understood") != "yes":
        return _detail(
            request,
            pk,
            release_error=(
                number,
                "Tick the box: Segment may have received this call, and Retry sends it again.",
            ),
        )
    problem = flow.release(filed, number, actor=Actor.from_request(request))
    if problem:
        messages.error(request, problem)
    else:
        messages.warning(
            request,
            f"Call {number} released: it shows as not sent, and Retry sends it again. Segment "
            "may have received it already.",
        )
    return redirect("privacy:detail", pk)


@permission_required(FILE, raise_exception=True)
def suppressions(request: HttpRequest) -> HttpResponse:
    field = WorkspaceChoiceField(required=False)
    field.limit_to(request.user)
    chosen: Workspace | None = None
    error = ""
    found: list[Any] = []
    if request.GET.get("workspace"):
        try:
            chosen = field.clean(request.GET["workspace"])
        except ValidationError as exc:
            error = "That workspace does not exist: choose another."
            if field.refused is not None:
                error = " ".join(exc.messages)
                limit_events.refused(
                    actor=Actor.from_request(request),
                    entrance="Current suppressions",
                    workspace=field.refused,  # type: ignore[arg-type]
                )
    if chosen is not None:
        try:
            answer = sending_privacy.list_suppressions(
                actor=Actor.from_request(request), workspace=chosen
            )
        except (crypto.SecretUnreadable, crypto.EncryptionNotConfigured) as exc:
            answer = ApiError("secret", str(exc), None)
        if isinstance(answer, ApiError):
            error = answer.message
        else:
            found = answer
    return render(
        request,
        "privacy/suppressions.html",
        {
            "workspaces": limits.allowed_workspaces(
                request.user, Workspace.objects.order_by("name")
            ),
            "chosen": chosen,
            "error": error,
            "found": found,
        },
    )
