"""The yardstick of bench/call_screens.py: a minimal Django view that validates a small form
and writes two rows, served beside segadmin's own URLs (this module is the URLconf the
benchmark runs with) through the same middleware, session and log-in.

It does what a send does at its least: read a POST of three fields through a Django form,
write one row before and one after (two short transactions, as the audit log's request and
outcome are), and answer a small HTML fragment. The rows are Django's own admin log entries
(``django_admin_log``): a plain table with a user foreign key, no hashing, no chain.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.utils.html import format_html
from django.views.decorators.http import require_POST


class SmallForm(forms.Form):
    user_id = forms.CharField(max_length=100)
    event = forms.CharField(max_length=100)
    note = forms.CharField(max_length=200, required=False)


@login_required
@require_POST
def minimal(request: HttpRequest) -> HttpResponse:
    form = SmallForm(request.POST)
    if not form.is_valid():
        return HttpResponse(form.errors.as_ul(), status=422)
    data = form.cleaned_data
    first = LogEntry.objects.create(
        user=request.user,
        object_repr=data["event"][:200],
        action_flag=ADDITION,
        change_message=json.dumps(data),
    )
    LogEntry.objects.create(
        user=request.user,
        object_id=str(first.pk),
        object_repr="outcome",
        action_flag=CHANGE,
        change_message=json.dumps({"status": 200}),
    )
    return HttpResponse(
        format_html(
            '<div class="card"><p>Recorded {} for {} (entry #{}).</p></div>',
            data["event"],
            data["user_id"],
            first.pk,
        )
    )


urlpatterns = [
    path("_bench/minimal/", minimal),
    path("", include("segadmin.urls")),
]
