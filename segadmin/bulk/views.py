"""Bulk import screens: upload, map and dry-run, start, watch the progress, download results.

Views orchestrate only: parsing reads the file, ``services`` creates, validates, starts and
cancels, the task sends. Marketers see their own imports; Support and Admins (who read every audit
entry) see everyone's. Changing an import (remap, dry run, start, cancel, resume) is its
uploader's or an Admin's; sending it needs the uploader to be allowed to send its calls.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from segadmin.accounts import limits
from segadmin.accounts.permissions import MANAGE_IMPORTS
from segadmin.audit import limits as limit_events
from segadmin.audit.log import Actor
from segadmin.audit.models import AuditEntry, Kind
from segadmin.bulk import parsing, rights, samples, services, uploads
from segadmin.bulk.forms import MappingForm, UploadForm
from segadmin.bulk.models import BulkJob, Status
from segadmin.bulk.plan import ERROR_COLUMN, field_label, unmapped_required
from segadmin.credentials import production
from segadmin.lib.htmx import HtmxHttpRequest
from segadmin.lib.ids import whole_number
from segadmin.lib.spreadsheet import csv_lines

PERMISSION = "accounts.bulk_import"
FAILURES_PER_PAGE = 100
JOBS_LISTED = 50


def _jobs_for(request: HttpRequest) -> QuerySet[BulkJob]:
    queryset = BulkJob.objects.select_related("source").defer(
        "examples", "proposals", "mapping", "dry_run", "columns"
    )
    if not request.user.has_perm("accounts.view_all_audit"):
        queryset = queryset.filter(created_by_id=request.user.pk)
    return _within_limits(request, queryset)


def _within_limits(request: HttpRequest, queryset: QuerySet[BulkJob]) -> QuerySet[BulkJob]:
    """A person limited to chosen sources reads their own imports and those of their sources."""
    allowed = limits.limits_of(request.user)
    if not allowed.restricted:
        return queryset
    return queryset.filter(Q(created_by_id=request.user.pk) | allowed.source_q("source__"))


def _job(request: HttpRequest, job_id: str) -> BulkJob:
    try:
        job_id = str(uuid.UUID(job_id))
    except ValueError:
        raise Http404("No such import.") from None
    queryset = BulkJob.objects.select_related("source")
    if not request.user.has_perm("accounts.view_all_audit"):
        queryset = queryset.filter(created_by_id=request.user.pk)
    return get_object_or_404(_within_limits(request, queryset), pk=job_id)


def _may_change(request: HttpRequest, job: BulkJob) -> bool:
    """Reading an import is for everyone who sees it; changing it, for its uploader or an
    Admin (Support reads every import but must not start, stop or remap another's)."""
    if job.created_by_id is not None and job.created_by_id == request.user.pk:
        return True
    return request.user.has_perm(MANAGE_IMPORTS)


def _change_refusal(job: BulkJob) -> str:
    name = job.created_by_name or "the person"
    return f"Only {name}, who uploaded this import, or an Admin may change it."


def _changeable_job(request: HttpRequest, job_id: str) -> BulkJob:
    """The job, when this person may change it: 404 when they may not see it, 403 (naming
    who may) when they may only read it."""
    job = _job(request, job_id)
    if not _may_change(request, job):
        raise PermissionDenied(_change_refusal(job))
    return job


@permission_required(PERMISSION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    status = 200
    if request.method == "POST":
        form = UploadForm(
            request.POST, request.FILES, user=request.user, refused=uploads.refusal(request)
        )
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                upload.seek(0)
                job = services.create_job(
                    stream=upload.file,
                    name=upload.name or "upload",
                    size=upload.size or 0,
                    call_type=form.cleaned_data["call_type"],
                    source=form.cleaned_data["source"],
                    user=request.user,
                    reason=form.cleaned_data.get("reason", ""),
                )
            except parsing.FileRefused as exc:
                form.add_error("file", str(exc))
            except services.SourceRefused as exc:
                form.add_error("source", str(exc))
                limit_events.refused(
                    actor=Actor.from_request(request),
                    entrance="Bulk import",
                    source=form.cleaned_data["source"],
                )
            except services.JobRefused as exc:
                form.add_error("call_type", str(exc))
            else:
                return redirect("bulk:job", job_id=job.pk)
        else:
            limit_events.refused_in_form(
                actor=Actor.from_request(request), form=form, entrance="Bulk import"
            )
        status = 422
    else:
        form = UploadForm(user=request.user)
    recent = list(_jobs_for(request)[:JOBS_LISTED])
    return render(request, "bulk/index.html", {"form": form, "jobs": recent}, status=status)


@permission_required(PERMISSION, raise_exception=True)
@require_safe
def sample(request: HttpRequest, call_type: str) -> HttpResponse:
    """A sample file to start from: the columns the mapping proposes for ``call_type``."""
    if call_type not in samples.SAMPLES:
        raise Http404("No sample for that call.")
    refusal = rights.upload_refusal(request.user, call_type)
    if refusal:
        raise PermissionDenied(refusal)
    response = HttpResponse(samples.sample_csv(call_type), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{samples.file_name(call_type)}"'
    return response


@permission_required(PERMISSION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def job_detail(request: HttpRequest, job_id: str) -> HttpResponse:
    job = _job(request, job_id)
    if job.status != Status.DRAFT:
        return _progress_page(request, job)
    status = 200
    reason_error = ""
    production_errors: list[str] = []
    if request.method == "POST":
        if not _may_change(request, job):
            raise PermissionDenied(_change_refusal(job))
        form = MappingForm(job, request.POST)
        if form.is_valid():
            job.mapping = form.cleaned_data["mapping"]
            try:
                if request.POST.get("action") == "start" and not services.approved(job):
                    job.save(update_fields=["mapping"])
                    reason = request.POST.get("reason", "").strip()[:2000]
                    latest = services.approval_of(job)
                    if latest is not None and latest.waiting:
                        form.add_error(None, services.approval_refusal(job))
                        status = 422
                    elif not reason:
                        if services.approval_outdated(job):
                            # Approved, but not this mapping: say why it is asked again.
                            form.add_error(None, services.approval_refusal(job))
                        reason_error = "Give a reason, e.g. the ticket or the campaign."
                        status = 422
                    else:
                        services.request_start_approval(job, Actor.from_request(request), reason)
                        messages.success(
                            request,
                            "Approval requested: an Admin other than the uploader decides under "
                            "Approvals; Start works once it is approved. Nothing was sent.",
                        )
                        return redirect("bulk:job", job_id=job.pk)
                elif request.POST.get("action") == "start":
                    job.save(update_fields=["mapping"])
                    try:
                        started = services.start(
                            job,
                            Actor.from_request(request),
                            confirm_production=request.POST.get(production.FIELD),
                        )
                    except services.ProductionNotConfirmed as exc:
                        # Said next to the confirmation box beside Start.
                        production_errors = [str(exc)]
                        form.add_error(
                            None,
                            "Nothing was started: confirm the Production source next to Start.",
                        )
                        status = 422
                    except services.StartRefused as exc:
                        form.add_error(None, str(exc))
                        status = 422
                    else:
                        if started:
                            messages.success(
                                request, f"Started: {job.total_rows:,} rows are queued."
                            )
                        return redirect("bulk:job", job_id=job.pk)
                else:
                    services.request_dry_run(job)
                    form = MappingForm(job)
            except services.JobRefused as exc:
                # The uploader may not send this call (any more): nothing is queued or checked.
                form.add_error(None, str(exc))
                status = 403
        else:
            status = 422
    else:
        form = MappingForm(job)
    context = {
        "job": job,
        "form": form,
        "field_label": field_label(job.call_type),
        # The plan's required names no column maps to (as the mapping was last saved).
        "unmapped_required": unmapped_required(job.planned or {}, job.mapping),
        **_change_context(request, job),
        "needs_approval": not services.approved(job),
        "approval": services.approval_of(job) if services.needs_approval(job) else None,
        "approval_rows": settings.SEGADMIN_APPROVAL_ROWS,
        "reason_error": reason_error,
        **_production_context(job, production_errors),
    }
    if context["can_change"]:
        # Dry run and Start are not offered for a job its uploader may not send.
        context["uploader_refusal"] = services.uploader_refusal(job)
    context.update(_dry_run_context(job))
    return render(request, "bulk/mapping.html", context, status=status)


def _production_context(job: BulkJob, errors: list[str]) -> dict[str, Any]:
    """The Production marker and Start's confirmation box (issue 16), for a job whose source
    is a Production one."""
    source = job.source
    if source is None or not source.production:
        return {"production_source": None}
    return {
        "production_source": source,
        "production_question": production.rows_question(source, job.total_rows),
        "production_errors": errors,
    }


def _purged_sentence(job: BulkJob) -> str:
    when = timezone.localtime(job.file_purged_at).strftime("%Y-%m-%d %H:%M")
    return (
        f"The uploaded file was purged on {when} (kept "
        f"{settings.SEGADMIN_BULK_RETENTION_DAYS} days after the import ended): its rows can no "
        "longer be downloaded. The counts, problems and audit entries stay."
    )


def _change_context(request: HttpRequest, job: BulkJob) -> dict[str, Any]:
    """Whether to offer the buttons that change the job, and why they are missing if not."""
    can_change = _may_change(request, job)
    return {
        "can_change": can_change,
        "change_refusal": "" if can_change else _change_refusal(job),
        "retention_days": settings.SEGADMIN_BULK_RETENTION_DAYS,
    }


def _dry_run_context(job: BulkJob) -> dict[str, Any]:
    dry = job.dry_run or None
    return {
        "dry": dry,
        "dry_running": bool(dry and dry.get("status") == "running"),
        "dry_failed": services.dry_run_failed(job),
        "dry_messages": [
            json.dumps(m, indent=2, ensure_ascii=False) for m in (dry or {}).get("messages", [])
        ],
    }


@permission_required(PERMISSION, raise_exception=True)
@require_safe
def dry_run_status(request: HtmxHttpRequest, job_id: str) -> HttpResponse:
    """The dry run section, polled while a worker checks a large file."""
    job = _job(request, job_id)
    context = _dry_run_context(job)
    response = render(request, "bulk/mapping.html#dry-run", {"job": job, **context})
    if context["dry_failed"] and request.htmx:
        # Start must go from the page too, not only from this section: reload it.
        response["HX-Refresh"] = "true"
    return response


def _rate(job: BulkJob) -> dict[str, Any]:
    """Rows per second so far and the time left at that pace (None until there is a pace)."""
    if not job.started_at or not job.processed:
        return {"rate": None, "eta": None}
    end = job.finished_at if job.is_finished and job.finished_at else timezone.now()
    seconds = max((end - job.started_at).total_seconds(), 0.001)
    rate = job.processed / seconds
    eta = job.remaining / rate if job.is_active and rate else None
    return {"rate": rate, "eta": _duration(eta) if eta is not None else None}


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _progress_context(request: HttpRequest, job: BulkJob) -> dict[str, Any]:
    return {
        "job": job,
        "stalled": services.is_stalled(job),
        **_rate(job),
        **_change_context(request, job),
    }


def _audit_url(pk: int) -> str | None:
    try:
        return reverse("audit:entry", args=[pk])
    except NoReverseMatch:
        return None


def _progress_page(request: HttpRequest, job: BulkJob) -> HttpResponse:
    context = _progress_context(request, job)
    if job.is_finished:
        after = request.GET.get("after", "")
        failures = job.failures.order_by("row")
        if (after_row := whole_number(after)) is not None:
            failures = failures.filter(row__gt=after_row)
        page = list(failures[: FAILURES_PER_PAGE + 1])
        context["failures"] = [
            {"result": f, "audit_url": _audit_url(f.audit_entry_id) if f.audit_entry_id else None}
            for f in page[:FAILURES_PER_PAGE]
        ]
        context["next_after"] = (
            page[FAILURES_PER_PAGE - 1].row if len(page) > FAILURES_PER_PAGE else None
        )
        context["requests"] = [
            {"entry": entry, "url": _audit_url(entry.pk)}
            for entry in AuditEntry.objects.filter(kind=Kind.REQUEST, bulk_job_id=str(job.pk))
            .only("pk", "seq", "created_at", "outcome", "response_status", "attempts")
            .order_by("seq")[:200]
        ]
    return render(request, "bulk/job.html", context)


@permission_required(PERMISSION, raise_exception=True)
@require_safe
def progress(request: HtmxHttpRequest, job_id: str) -> HttpResponse:
    job = _job(request, job_id)
    if job.is_finished and request.htmx:
        # The run is over: reload the page for the results (htmx follows HX-Refresh).
        response = render(request, "bulk/job.html#progress", _progress_context(request, job))
        response["HX-Refresh"] = "true"
        return response
    return render(request, "bulk/job.html#progress", _progress_context(request, job))


@permission_required(PERMISSION, raise_exception=True)
@require_POST
def cancel(request: HttpRequest, job_id: str) -> HttpResponse:
    job = _changeable_job(request, job_id)
    if services.cancel(job):
        messages.info(request, "Cancelled: no more rows will be sent after the ones in flight.")
    else:
        messages.info(request, "This import had already finished.")
    return redirect("bulk:job", job_id=job.pk)


@permission_required(PERMISSION, raise_exception=True)
@require_POST
def resume(request: HttpRequest, job_id: str) -> HttpResponse:
    job = _changeable_job(request, job_id)
    try:
        if services.resume(job):
            messages.info(request, "Resumed: a worker will carry on from the last recorded chunk.")
    except services.JobRefused as exc:
        # The job was ended as Failed with this reason; its page now says so too.
        messages.error(request, f"Not resumed: {exc}")
    return redirect("bulk:job", job_id=job.pk)


@permission_required(PERMISSION, raise_exception=True)
@require_safe
def error_report(request: HttpRequest, job_id: str) -> HttpResponseBase:
    """Every problem the dry run finds, as CSV (row, column, reason), streamed."""
    job = _job(request, job_id)
    if job.file_purged_at is not None:
        messages.info(request, _purged_sentence(job))
        return redirect("bulk:job", job_id=job.pk)

    def rows() -> Iterator[list[Any]]:
        yield ["row", "column", "reason"]
        for problem in services.iter_problems(job):
            yield [problem.row, problem.column, problem.reason]

    response = StreamingHttpResponse(csv_lines(rows()), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="errors-{job.pk}.csv"'
    return response


@permission_required(PERMISSION, raise_exception=True)
@require_safe
def failed_rows(request: HttpRequest, job_id: str) -> HttpResponseBase:
    """The rows that were not sent, as they were uploaded plus a segadmin_error column (a key
    in JSON Lines): fix them and upload the file again; the error column is skipped. CSV cells
    a spreadsheet would run get a ' in front, which the upload takes off again (parsing)."""
    job = _job(request, job_id)
    if job.file_purged_at is not None:
        messages.info(request, _purged_sentence(job))
        return redirect("bulk:job", job_id=job.pk)
    failures = job.failures.order_by("row").only("row", "cells", "problems").iterator(2000)
    if job.file_format == parsing.JSONL:

        def lines() -> Iterator[str]:
            for failure in failures:
                cells = dict(failure.cells)
                cells[ERROR_COLUMN] = failure.reason
                yield json.dumps(cells, ensure_ascii=False) + "\n"

        response = StreamingHttpResponse(lines(), content_type="application/x-ndjson")
        extension = "jsonl"
    else:
        columns = [c for c in job.columns if c != ERROR_COLUMN]
        keep = [i for i, c in enumerate(job.columns) if c != ERROR_COLUMN]

        def rows() -> Iterator[list[Any]]:
            yield [*columns, ERROR_COLUMN]
            for failure in failures:
                yield [*(failure.cells[i] for i in keep), failure.reason]

        response = StreamingHttpResponse(csv_lines(rows()), content_type="text/csv; charset=utf-8")
        extension = "csv"
    response["Content-Disposition"] = f'attachment; filename="failed-rows-{job.pk}.{extension}"'
    return response
