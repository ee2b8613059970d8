"""The audit log's pages: the list, an entry, export, verify, "Send again" and "Edit and send".

The list pages newest-first by ``seq`` with a keyset cursor (``?before=<seq>`` for older,
``?after=<seq>`` for newer), never OFFSET, so the last page of a million rows costs what the
first does. Nothing here decrypts anything: entries are stored with their secrets masked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q, Subquery
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from segadmin import sending
from segadmin.accounts import limits
from segadmin.accounts.permissions import may_send
from segadmin.audit import cells, drafts, export
from segadmin.audit import limits as limit_events
from segadmin.audit.backlog import backlog
from segadmin.audit.chain import verify_chain
from segadmin.audit.filters import INDEXED_FIELDS, AuditFilterForm, may_read, visible_entries
from segadmin.audit.log import Actor
from segadmin.audit.models import AuditEntry, AuditEntryQuerySet, Kind
from segadmin.credentials import production
from segadmin.credentials.crypto import EncryptionNotConfigured, SecretUnreadable
from segadmin.lib import userjson
from segadmin.lib.ids import whole_number
from segadmin.lib.reason import reason_field
from segadmin.segment import rules
from segadmin.segment.errors import MessageInvalid
from segadmin.segment.messages import CALL_TYPES

PAGE_SIZE = 50
# The list never loads bodies or headers: only what a row shows.
LIST_COLUMNS = (
    "id",
    "seq",
    "kind",
    "created_at",
    "username",
    "role",
    "action",
    "target_type",
    "target_name",
    "source_name",
    "workspace_name",
    "api",
    "call_type",
    "method",
    "user_id",
    "anonymous_id",
    "event",
    "message_id",
    "relation",
    "related_to_id",
    "outcome",
    "error",
    "response_status",
    "attempts",
    "bulk_job_id",
)
LINK_COLUMNS = (
    "id",
    "seq",
    "kind",
    "created_at",
    "username",
    "call_type",
    "relation",
    "outcome",
    "error",
    "response_status",
    "request_entry_id",
    "action",
    "target_type",
    "target_name",
    "method",
    "url",
)
# Everyone with a role reads the audit log (Marketers their own entries only).
READ_PERMISSION = "accounts.send_identify"


def can_read_audit(user: Any) -> bool:
    return bool(user.has_perm(READ_PERMISSION) or user.has_perm("accounts.view_all_audit"))


def audit_reader(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not can_read_audit(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


# --- keyset pagination ----------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    entries: list[AuditEntry]
    has_newer: bool
    has_older: bool

    @property
    def newer_cursor(self) -> int | None:
        return self.entries[0].seq if self.entries and self.has_newer else None

    @property
    def older_cursor(self) -> int | None:
        return self.entries[-1].seq if self.entries and self.has_older else None


def keyset_page(
    queryset: AuditEntryQuerySet,
    *,
    before: int | None = None,
    after: int | None = None,
    size: int | None = None,
) -> Page:
    """One page, newest first. ``before``: entries older than that seq; ``after``: the page
    of entries just newer than it (``after=0`` is the oldest page). Two queries at most."""
    size = size or PAGE_SIZE
    if after is not None:
        rows = list(queryset.filter(seq__gt=after).order_by("seq")[: size + 1])
        has_newer = len(rows) > size
        rows = rows[:size][::-1]
        edge = rows[-1].seq if rows else after + 1
        has_older = queryset.filter(seq__lt=edge).exists()
        return Page(rows, has_newer, has_older)
    narrowed = queryset.filter(seq__lt=before) if before is not None else queryset
    rows = list(narrowed.order_by("-seq")[: size + 1])
    has_older = len(rows) > size
    rows = rows[:size]
    if before is None:
        return Page(rows, False, has_older)
    edge = rows[0].seq if rows else before - 1
    return Page(rows, queryset.filter(seq__gt=edge).exists(), has_older)


def _cursor(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    cursor = whole_number(value)
    if cursor is None:
        raise ValueError(value)
    return cursor


# --- the list -------------------------------------------------------------------------------

# The filters answered from the message index (audit.backlog: a bulk import's batches wait a
# moment for their rows there).
_INDEXED = INDEXED_FIELDS


@audit_reader
@require_safe
def entry_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    see_all = user.has_perm("accounts.view_all_audit")
    form = AuditFilterForm(request.GET or None, see_all=see_all, user=user)
    form.freeze_choices()
    page = Page([], False, False)
    cursor_error = ""
    try:
        before, after = _cursor(request.GET.get("before")), _cursor(request.GET.get("after"))
    except ValueError:
        before = after = None
        cursor_error = "That page link is broken: showing the newest entries instead."
    if form.is_bound and not form.is_valid():
        pass  # the errors are shown beside the fields; no list for filters that mean nothing
    else:
        entries = form.apply(visible_entries(user)).only(*LIST_COLUMNS)
        page = keyset_page(entries, before=before, after=after)
    # An entry's own ID columns hold its first message's IDs; the filters also find the
    # messages further inside a batch, and the row then shows the one that was found.
    found = form.cleaned_data if form.is_bound and form.is_valid() else {}
    rows = cells.list_rows(
        page.entries,
        entry_base=reverse("audit:list"),
        zone=timezone.get_current_timezone(),
        found_user_id=found.get("user_id") or "",
        found_anonymous_id=found.get("anonymous_id") or "",
        found_email=found.get("email") or "",
    )
    context = {
        # A search by ID or email while an import's batches wait for their index rows.
        "index_backlog": backlog() if any(found.get(name) for name in _INDEXED) else None,
        "form": form,
        "page": page,
        "see_all": see_all,
        "filtered": bool(form.active()),
        "cursor_error": cursor_error,
        "query": form.query_string(),
        "newer_query": form.query_string(after=page.newer_cursor),
        "older_query": form.query_string(before=page.older_cursor),
        "oldest_query": form.query_string(after=0),
        "can_export": user.has_perm("accounts.export_audit"),
        "rows": rows,
        "zone": timezone.get_current_timezone_name(),
    }
    return render(request, "audit/list.html", context)


# --- one entry ------------------------------------------------------------------------------


def _visible_entry(request: HttpRequest, pk: int) -> AuditEntry:
    entry = AuditEntry.objects.filter(pk=pk).first()
    if entry is None:
        raise Http404("No such audit entry.")
    if not may_read(request.user, entry):
        # Not "forbidden": a Marketer (or a person limited to chosen sources) learns nothing
        # about other people's entries.
        raise Http404("No such audit entry.")
    return entry


def _neighbours(user: Any, entry: AuditEntry) -> tuple[AuditEntry | None, AuditEntry | None]:
    """The entries just before and after ``entry`` among those ``user`` may read (a Marketer's
    own; outcome rows are shown on their request's page), in one query: the seq just below
    and the seq just above, each found by a subquery that walks an index from ``entry``."""
    visible = visible_entries(user)
    before = visible.filter(seq__lt=entry.seq).order_by("-seq").values("seq")[:1]
    after = visible.filter(seq__gt=entry.seq).order_by("seq").values("seq")[:1]
    rows = AuditEntry.objects.filter(Q(seq=Subquery(before)) | Q(seq=Subquery(after)))
    found = {row.seq < entry.seq: row for row in rows.only("id", "seq")}
    return found.get(True), found.get(False)


def _pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def _body_text(raw: bytes) -> tuple[str, bool]:
    """(text, is_json): JSON pretty-printed, anything else as text."""
    if not raw:
        return "", False
    try:
        return _pretty_json(userjson.body(raw)), True
    except ValueError:
        return raw.decode("utf-8", errors="replace"), False


def _stored_body(entry: AuditEntry) -> tuple[str, bool]:
    try:
        data = entry.request_body_data
    except ValueError:
        return "(the stored body cannot be read as JSON)", False
    if data is None:
        return "", False
    if isinstance(data, dict | list):
        return _pretty_json(data), True
    return str(data), False


def sent_message(entry: AuditEntry) -> dict[str, Any] | None:
    """The tracking message an entry sent (its stored body without ``writeKey``/``sentAt``),
    or None when the entry is not a single Identify/Track/... call."""
    if entry.kind != Kind.REQUEST or entry.api != "tracking" or entry.call_type not in CALL_TYPES:
        return None
    try:
        body = entry.request_body_data
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("type") != entry.call_type:
        return None
    return {k: v for k, v in body.items() if k not in ("writeKey", "sentAt")}


def _sentence(text: str) -> str:
    return text if text.endswith((".", "?", "!", ")")) else f"{text}."


def _resend_problem(request: HttpRequest, entry: AuditEntry, *, same_source: bool) -> str:
    """Why this entry cannot be sent again / edited and sent by this person ("" when it can)."""
    if sent_message(entry) is None:
        return "Only single Identify, Track, Page, Screen, Group and Alias calls can be resent."
    if not may_send(request.user, entry.call_type):
        return f"Your role may not send {entry.call_type.capitalize()} calls."
    if same_source and entry.source_id is None:
        return f"The source “{entry.source_name}” has been deleted."
    if same_source and not limits.may_use_source(request.user, entry.source):
        return limits.source_refusal(entry.source)
    return ""


def _disabled(entry: AuditEntry) -> str:
    """Why the page offers no Send again; the send service itself refuses a disabled source."""
    source = entry.source
    if source is not None and not source.enabled:
        return f"The source “{source.name}” is disabled."
    return ""


@audit_reader
@require_safe
def entry_detail(request: HttpRequest, pk: int) -> HttpResponse:
    entry = _visible_entry(request, pk)
    if entry.kind == Kind.OUTCOME:
        return redirect(f"{reverse('audit:entry', args=[entry.request_entry_id])}#outcome")
    return _entry_page(request, entry)


class SendAgainForm(forms.Form):
    """Send again's one field: the call screens' optional Reason, same label and limits."""

    reason = reason_field()


def _entry_page(
    request: HttpRequest,
    entry: AuditEntry,
    *,
    production_errors: list[str] | None = None,
    send_again_form: SendAgainForm | None = None,
) -> HttpResponse:
    """An entry's page; ``production_errors``: why Send again was refused (a Production source
    not confirmed), shown next to the confirmation box; ``send_again_form``: the Reason as
    posted (refused next to the field when too long). Either refusal answers 422."""
    form = send_again_form if send_again_form is not None else SendAgainForm()
    # The answer lives on the chained outcome row (the request row holds a copy of the verdict).
    outcome_row = (
        AuditEntry.objects.filter(request_entry=entry).first()
        if entry.kind == Kind.REQUEST
        else None
    )
    # No ORDER BY in SQL: with one, SQLite walks the whole seq index instead of the
    # related_to one. There are a handful, sorted here.
    linked = visible_entries(request.user).filter(related_to=entry).only(*LINK_COLUMNS)
    related = sorted(linked.order_by()[:50], key=lambda row: row.seq)
    previous, following = _neighbours(request.user, entry)
    original = None
    if entry.related_to_id is not None:
        linked = visible_entries(request.user).filter(pk=entry.related_to_id)
        original = linked.only(*LINK_COLUMNS).first()
    request_body, request_is_json = _stored_body(entry)
    answer = outcome_row if outcome_row is not None else entry
    response_body, response_is_json = _body_text(answer.response_body_bytes)
    response_headers = answer.response_headers_data
    message = sent_message(entry)
    can_resend = message is not None
    context = {
        "entry": entry,
        "outcome_row": outcome_row,
        "original": original,
        "related": related,
        "previous": previous,
        "next": following,
        "request_headers": sorted(entry.request_headers_data.items()),
        "request_body": request_body,
        "request_is_json": request_is_json,
        "response_headers": sorted(response_headers.items()),
        "response_body": response_body,
        "response_is_json": response_is_json,
        "details": _pretty_json(entry.details_data) if entry.details else "",
        "can_resend": can_resend,
        "send_again_problem": _resend_problem(request, entry, same_source=True) or _disabled(entry)
        if can_resend
        else "",
        "edit_problem": _resend_problem(request, entry, same_source=False) if can_resend else "",
        "adds_timestamp": message is not None and "timestamp" not in message,
        "zone": timezone.get_current_timezone_name(),
        # Send again to a Production source asks for a confirmation naming it (issue 16).
        "production_source": entry.source if entry.source and entry.source.production else None,
        "production_errors": production_errors or [],
        "send_again_form": form,
        "production_question": (
            f"Send again to Production source “{entry.source.name}”" if entry.source else ""
        ),
    }
    status = 422 if production_errors or form.errors else 200
    return render(request, "audit/entry.html", context, status=status)


# --- Send again and Edit and send -----------------------------------------------------------


@audit_reader
@require_POST
def send_again(request: HttpRequest, pk: int) -> HttpResponse:
    """Repeat the exact message, same message ID, to the same source, linked to the original,
    with the person's optional Reason on the new entry.

    A message that had no timestamp gets the time it was first sent, so an event that never
    arrived is recorded when it happened, not now.
    """
    entry = _visible_entry(request, pk)
    problem = _resend_problem(request, entry, same_source=True)
    if problem:
        if entry.source is not None and not limits.may_use_source(request.user, entry.source):
            limit_events.refused(
                actor=Actor.from_request(request), entrance="Send again", source=entry.source
            )
        messages.error(request, f"Not sent again: {problem}")
        return redirect("audit:entry", pk=entry.pk)
    form = SendAgainForm(request.POST)
    if not form.is_valid():
        return _entry_page(request, entry, send_again_form=form)
    message = sent_message(entry)
    assert message is not None and entry.source is not None
    first = entry.request_body_data.get("sentAt") if entry.request_body else None
    if "timestamp" not in message and isinstance(first, str):
        message["timestamp"] = first
    try:
        sent = sending.send_message(
            actor=Actor.from_request(request),
            source=entry.source,
            message=message,
            related_to=entry,
            relation=drafts.SEND_AGAIN,
            reason=form.cleaned_data["reason"],
            confirm_production=request.POST.get(production.FIELD),
        )
    except sending.ProductionNotConfirmed as exc:
        return _entry_page(request, entry, production_errors=[str(exc)], send_again_form=form)
    except (
        SecretUnreadable,
        EncryptionNotConfigured,
        sending.SourceDisabled,
        sending.NotAllowed,
    ) as exc:
        messages.error(request, f"Not sent again: {exc}")
        return redirect("audit:entry", pk=entry.pk)
    except MessageInvalid as exc:
        reasons = " ".join(_sentence(problem.message) for problem in exc.problems)
        what = (
            "breaks the source's tracking plan"
            if any(p.code.startswith("plan_") for p in exc.problems)
            else "is not valid"
        )
        messages.error(request, f"Not sent again: the stored message {what}. {reasons}")
        return redirect("audit:entry", pk=entry.pk)
    plan_found = rules.warnings(sent.plan_problems)
    for warning in rules.warnings(rules.check_message(message)) + plan_found:
        messages.warning(request, f"Check {warning.field}: {warning.message}")
    if sent.segment_would:
        messages.info(request, f"{sent.segment_would} (the source's Protocols settings).")
    if sent.result.ok:
        messages.success(
            request,
            f"Sent again as entry #{sent.entry.seq}, with the same message ID: Segment keeps "
            "only one of the two.",
        )
    else:
        messages.warning(
            request, f"Sent again as entry #{sent.entry.seq}: {sent.entry.outcome_label}."
        )
    return redirect("audit:entry", pk=sent.entry.pk)


@audit_reader
@require_http_methods(["GET", "HEAD", "POST"])
def edit_and_send(request: HttpRequest, pk: int) -> HttpResponse:
    """Open the entry's call screen filled with its values and a new message ID."""
    entry = _visible_entry(request, pk)
    problem = _resend_problem(request, entry, same_source=False)
    if problem:
        messages.error(request, f"Cannot edit and send: {problem}")
        return redirect("audit:entry", pk=entry.pk)
    message = sent_message(entry)
    assert message is not None
    source_id = (
        entry.source_id
        if entry.source is not None
        and entry.source.enabled
        and limits.may_use_source(request.user, entry.source)
        else None
    )
    token = drafts.store(
        request,
        call_type=entry.call_type,
        initial=drafts.initial_from_message(message, source_id=source_id),
        related_to=entry,
        relation=drafts.EDIT_AND_SEND,
    )
    messages.info(
        request,
        f"Filled in from entry #{entry.seq}, with a new message ID. What you send is recorded "
        "linked to that entry.",
    )
    return redirect(f"{reverse(f'calls:{entry.call_type}')}?draft={token}")


# --- export and verify ----------------------------------------------------------------------


@permission_required("accounts.export_audit", raise_exception=True)
@require_safe
def export_entries(request: HttpRequest) -> HttpResponseBase:
    fmt = request.GET.get("format", "csv")
    if fmt not in export.FORMATS:
        return HttpResponse(
            "Choose the export format csv or jsonl.", status=400, content_type="text/plain"
        )
    if request.GET.get("full"):
        return _full_export(request, fmt)
    form = AuditFilterForm(request.GET or None, see_all=True, user=request.user)
    if form.is_bound and not form.is_valid():
        errors = "; ".join(
            f"{form[name].label}: {' '.join(map(str, e))}" for name, e in form.errors.items()
        )
        return HttpResponse(
            f"The filters are not valid, nothing was exported. {errors}",
            status=400,
            content_type="text/plain",
        )
    entries = form.apply(visible_entries(request.user))
    content_type, extension = export.FORMATS[fmt]
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(export.stream(entries, fmt), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="segadmin-audit-{stamp}.{extension}"'
    response["Cache-Control"] = "no-store"
    return response


def _full_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """The whole chain, outcome rows and bodies included, for ``verify_audit --file``: a
    filtered part of a chain cannot be checked for removed lines, so filters are refused."""
    if limits.is_limited(request.user):
        return HttpResponse(
            "The export for offline verification is the whole log, every source's entries: "
            "not for a person an Admin limited to chosen sources. Nothing was exported; "
            "export the filtered list instead.",
            status=403,
            content_type="text/plain",
        )
    filters = sorted(set(request.GET) - {"format", "full"})
    if fmt != "jsonl" or filters:
        extra = f" Remove: {', '.join(filters)}." if filters else ""
        return HttpResponse(
            "The export for offline verification is the whole log as JSON Lines (format=jsonl), "
            f"without filters; nothing was exported.{extra}",
            status=400,
            content_type="text/plain",
        )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(export.full_stream(), content_type="application/jsonl")
    response["Content-Disposition"] = f'attachment; filename="segadmin-audit-full-{stamp}.jsonl"'
    response["Cache-Control"] = "no-store"
    return response


@permission_required("accounts.export_audit", raise_exception=True)
@require_http_methods(["GET", "HEAD", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """The same check as ``manage.py verify_audit``, on demand (POST: it reads every row)."""
    report = verify_chain() if request.method == "POST" else None
    return render(request, "audit/verify.html", {"report": report})
