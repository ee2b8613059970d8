from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from segadmin.accounts import limits
from segadmin.accounts.navigation import visible_items
from segadmin.audit.filters import visible_entries
from segadmin.audit.models import AuditEntry, Outcome
from segadmin.audit.views import LIST_COLUMNS, can_read_audit
from segadmin.home import dashboard, rows, setup

RECENT = 10
# What failures_to_look_at lists (reads left out there as in the counts).
LOOK_AT_OUTCOMES = (Outcome.REJECTED, Outcome.FAILED)
ACTIVITY = 8


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The 400 page (``handler400``), saying which of the request limits was passed: a form
    too large is a 413, so a person learns what to send less of instead of "Bad Request"."""
    status, reason = 400, "The request could not be read. Go back and try again."
    if isinstance(exception, RequestDataTooBig):
        size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
        status = 413
        reason = (
            f"The form sent was larger than {size / (1024 * 1024):.1f} MB, the most one form "
            "may send (files are counted apart): nothing was saved or sent. Go back and send "
            f"less at once; {_for_more(request)}."
        )
    elif isinstance(exception, TooManyFieldsSent):
        reason = (
            f"The form sent had more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} fields, the "
            "most one form may send: nothing was saved or sent. Go back and send fewer rows at "
            "once; for many users, use a bulk import."
        )
    return render(request, "400.html", {"reason": reason, "status": status}, status=status)


def _for_more(request: HttpRequest) -> str:
    """Where a form too large should go instead: a privacy request takes its IDs as a file;
    elsewhere, many users are a bulk import."""
    if request.path.startswith(reverse("privacy:list")):
        return "for many IDs, upload them as a file (“Or a file of IDs”)"
    return "for many users, use a bulk import"


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    """The dashboard: on a new install, the checklist that sets it up (ticking itself);
    then calls per day by outcome, failures of the last 24 hours with the latest ones to look
    at, everyone's recent activity (for those who read every entry) and one's own recent
    calls, over the entries the person may read in the audit log."""
    context: dict[str, Any] = {}
    if can_read_audit(request.user):
        # A reader an Admin limited to chosen sources gets the page of their own calls: the
        # kept counts and "everyone's activity" are of every source.
        see_all = request.user.has_perm("accounts.view_all_audit") and not limits.is_limited(
            request.user
        )
        own = AuditEntry.objects.listed().filter(actor_user_id=request.user.pk)
        entries = visible_entries(request.user) if see_all else own
        scope = "all" if see_all else f"user:{request.user.pk}"

        def nav_urls() -> dict[str, str]:
            return {str(item["label"]): str(item["url"]) for item in visible_items(request)}

        chart = dashboard.chart(entries, scope=scope)
        failures = dashboard.recent_failures(entries, scope=scope)
        # The latest of the failures counted just now: none to read when none was counted.
        to_look_at = (
            dashboard.failures_to_look_at(
                AuditEntry.objects.listed(),
                columns=LIST_COLUMNS,
                actor_user_id=None if see_all else request.user.pk,
            )
            if any(f["count"] for f in failures if f["outcome"] in LOOK_AT_OUTCOMES)
            else []
        )
        activity = list(entries.only(*LIST_COLUMNS).order_by("-seq")[:ACTIVITY]) if see_all else []
        recent = list(own.only(*LIST_COLUMNS).order_by("-seq")[:RECENT])
        # An entry's address is this plus its ID and a slash; the lines (up to 23) and the
        # chart's bars are written in Python (rows.py): template loops cost more than the page's
        # queries.
        base = reverse("audit:list")
        context = {
            "checklist": setup.checklist(request.user, nav_urls),
            "chart": chart,
            "chart_bars": rows.chart_bars(chart),
            "chart_table_rows": rows.chart_table_rows(chart),
            "failures": failures,
            "to_look_at": to_look_at,
            "to_look_at_rows": rows.entry_rows(
                to_look_at, base=base, kind=rows.LOOK_AT, see_all=see_all
            ),
            "activity": activity,
            "activity_rows": rows.entry_rows(
                activity, base=base, kind=rows.ACTIVITY, see_all=see_all
            ),
            "recent": recent,
            "recent_rows": rows.entry_rows(recent, base=base, kind=rows.RECENT, see_all=see_all),
            "see_all": see_all,
            "zone": timezone.get_current_timezone_name(),
            "audit_url": base,
        }
    return render(request, "home/index.html", context)


@login_not_required
@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """For load balancers: 200 when the database answers, 503 when it does not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # noqa: BLE001 - any database failure means "unhealthy"
        return JsonResponse({"status": "database unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


@login_not_required
@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages that do not name one (the Django admin's)."""
    return redirect(static("img/favicon.svg"), permanent=True)
