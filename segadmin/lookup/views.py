"""User lookup (Support and Admins): what segadmin sent for one user, and what Segment holds.

The timeline and our traits come from the audit log. When the workspace has a Profile API
token, the current traits are fetched from Segment through the send service's transport, so
the lookup itself is on the record.

Only a POST (CSRF-protected) asks Segment: a GET, which any page on the web can make a
logged-in person's browser send, shows our own history and nothing else, so a link can be
bookmarked or shared without calling the Profile API or writing to the audit log.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, cast
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import push_url

from segadmin import sending
from segadmin.accounts import limits
from segadmin.audit import limits as limit_events
from segadmin.audit.backlog import backlog
from segadmin.audit.filters import visible_messages
from segadmin.audit.index import email_key
from segadmin.audit.log import Actor
from segadmin.audit.views import LIST_COLUMNS
from segadmin.credentials.crypto import EncryptionNotConfigured, SecretUnreadable
from segadmin.credentials.fields import (
    SourceChoiceField,
    WorkspaceChoiceField,
    production_confirmation,
    production_context,
)
from segadmin.credentials.models import Source, Workspace
from segadmin.credentials.production import FIELD as CONFIRM_PRODUCTION
from segadmin.lib.htmx import HtmxHttpRequest
from segadmin.lib.reason import reason_field
from segadmin.lookup import fix
from segadmin.lookup import models as recently
from segadmin.lookup import rows as tables
from segadmin.lookup.history import (
    IDENTIFIER_TYPES,
    MAX_PEOPLE,
    History,
    TraitRow,
    compare,
    history,
    people_with_email,
)
from segadmin.segment import client, redaction, rules
from segadmin.segment.errors import MessageInvalid
from segadmin.segment.messages import build_message

COLUMNS = (*LIST_COLUMNS, "source_id", "reason")
OURS, SEGMENT = "ours", "segment"


def _profile_workspaces() -> Any:
    return (
        Workspace.objects.exclude(profiles_space_id="")
        .exclude(profiles_token_encrypted="")
        .order_by("name")
    )


class LookupForm(forms.Form):
    identifier_type = forms.ChoiceField(
        label="Look up by", choices=IDENTIFIER_TYPES, initial="user_id", widget=forms.RadioSelect
    )
    identifier = forms.CharField(
        label="The ID",
        max_length=255,
        error_messages={"required": "Enter the User ID, Anonymous ID or email to look up."},
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    workspace = WorkspaceChoiceField(
        label="Compare with the Profile API of",
        queryset=_profile_workspaces(),
        required=False,
        empty_label="The workspace of the user's latest source",
        error_messages={
            "invalid_choice": "That workspace does not exist or has no Profile API token."
        },
    )

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(WorkspaceChoiceField, self.fields["workspace"])
        field.queryset = _profile_workspaces()
        # A person limited to chosen sources asks the Profile API only of their workspaces.
        field.limit_to(user)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        identifier = cleaned.get("identifier")
        if cleaned.get("identifier_type") == "email" and identifier and not email_key(identifier):
            self.add_error("identifier", "Enter an email address, such as ada@example.com.")
        return cleaned


def _pick_workspace(user: Any, chosen: Workspace | None, found: History) -> Workspace | None:
    """The chosen workspace, else the one of the user's latest source, else the only one (of
    those the person's source limits allow them to ask)."""
    if chosen is not None:
        return chosen
    source_id = found.latest_source_id
    if source_id is not None:
        source = Source.objects.select_related("workspace").filter(pk=source_id).first()
        if (
            source is not None
            and source.workspace
            and source.workspace.has_profiles_api
            and limits.may_use_workspace(user, source.workspace)
        ):
            return source.workspace
    candidates = list(limits.allowed_workspaces(user, _profile_workspaces())[:2])
    return candidates[0] if len(candidates) == 1 else None


@dataclass(frozen=True)
class ProfileTraits:
    """The Profile API's answer: traits None when there are none to show (see error)."""

    traits: dict[str, Any] | None
    error_kind: str = ""
    error: str = ""
    secrets: tuple[str, ...] = field(default=(), repr=False)  # to redact what is shown


def _profile_traits(
    request: HttpRequest, workspace: Workspace, identifier_type: str, identifier: str
) -> ProfileTraits:
    try:
        found = sending.get_profile_traits(
            actor=Actor.from_request(request),
            workspace=workspace,
            identifier_type=identifier_type,
            identifier=identifier,
        )
    except (SecretUnreadable, EncryptionNotConfigured, sending.NotAllowed) as exc:
        return ProfileTraits(None, "unreadable", str(exc))
    if isinstance(found.answer, client.ApiError):
        return ProfileTraits(None, found.answer.kind, found.answer.message)
    return ProfileTraits(found.answer, secrets=found.secrets)


def _shown(
    rows: list[TraitRow], ours: dict[str, Any], theirs: dict[str, Any], secrets: tuple[str, ...]
) -> list[TraitRow]:
    """The rows as the page shows them: redacted as the audit log stores Segment's answer
    (values under secret-looking names masked, the token scrubbed), on both sides alike. The
    states were decided on the real values."""

    def redacted(traits: dict[str, Any], row: TraitRow) -> str:
        (value,) = redaction.redact_json({row.key: traits[row.key]}, secrets).values()
        return json.dumps(value, ensure_ascii=False, sort_keys=True)  # as compare() shows it

    return [
        replace(
            row,
            key=redaction.scrub_text(row.key, secrets),
            ours=None if row.ours is None else redacted(ours, row),
            theirs=None if row.theirs is None else redacted(theirs, row),
        )
        for row in rows
    ]


def _bookmark(kind: str, identifier: str, chosen: Workspace | None) -> str:
    """The GET address of this lookup: it shows our history again, without asking Segment."""
    pairs = [("identifier_type", kind), ("identifier", identifier)]
    if chosen is not None:
        pairs.append(("workspace", str(chosen.pk)))
    return f"{reverse('lookup:index')}?{urlencode(pairs)}"


@permission_required("accounts.lookup_users", raise_exception=True)
@require_http_methods(["GET", "HEAD", "POST"])
def index(request: HtmxHttpRequest) -> HttpResponse:
    asks_segment = request.method == "POST"
    form = LookupForm(request.POST if asks_segment else (request.GET or None), user=request.user)
    context: dict[str, Any] = {
        "form": form,
        "zone": timezone.get_current_timezone_name(),
        "asked_segment": asks_segment,
        "form_fields": tables.form_fields(form),
    }
    bookmark = ""
    if form.is_bound and not form.is_valid():
        limit_events.refused_in_form(
            actor=Actor.from_request(request), form=form, entrance="User lookup"
        )
    if form.is_bound and form.is_valid():
        # What was asked for; by email, the one person segadmin's calls name is looked up.
        asked_type = kind = form.cleaned_data["identifier_type"]
        asked = identifier = form.cleaned_data["identifier"]
        visible = visible_messages(request.user)
        people: list[tuple[str, str]] = []
        if asked_type == "email":
            asked = identifier = email_key(asked)
            people = people_with_email(visible, asked)
            if len(people) == 1:
                kind, identifier = people[0]
        found = history(visible, kind, identifier, columns=COLUMNS)
        workspace = _pick_workspace(request.user, form.cleaned_data["workspace"], found)
        bookmark = _bookmark(asked_type, asked, form.cleaned_data["workspace"])
        recently.remember(cast(int, request.user.pk), asked_type, asked)
        context.update(
            index_backlog=backlog(),
            found=found,
            timeline_rows=tables.timeline_rows(found.timeline),
            identify_rows=tables.identify_rows(found.identifies[:50]),
            kind=kind,
            kind_label=dict(IDENTIFIER_TYPES)[kind],
            identifier=identifier,
            asked_type=asked_type,
            asked=asked,
            by_email=asked if asked_type == "email" else "",
            people=[
                {"label": dict(IDENTIFIER_TYPES)[k], "id": v, "url": _bookmark(k, v, None)}
                for k, v in people[:MAX_PEOPLE]
            ],
            more_people=len(people) > MAX_PEOPLE,
            workspace=workspace,
            bookmark=bookmark,
            audit_query=urlencode({kind: identifier}) if kind != "email" else "",
            # Fix traits sends an Identify: it needs the User ID or Anonymous ID.
            can_fix=request.user.has_perm("accounts.send_identify") and kind != "email",
            starting_points=fix.STARTING_POINTS,
        )
        if workspace is not None and asks_segment:
            # By email, Segment is asked by its email: external ID, whoever our calls name.
            answer = _profile_traits(request, workspace, asked_type, asked)
            theirs = answer.traits
            comparison = []
            if theirs is not None:
                traits = compare(found.traits, theirs)
                comparison = _shown(traits, found.traits, theirs, answer.secrets)
            context.update(
                profile=theirs,
                profile_error_kind=answer.error_kind,
                profile_error=answer.error,
                comparison=comparison,
                differences=sum(row.state != "same" for row in comparison),
            )
    context["recent_lookups"] = [
        {
            "label": dict(IDENTIFIER_TYPES).get(item.identifier_type, item.identifier_type),
            "identifier": item.identifier,
            "viewed_at": item.viewed_at,
            "url": _bookmark(item.identifier_type, item.identifier, None),
        }
        for item in recently.recent(cast(int, request.user.pk))
    ]
    if asks_segment and request.htmx:
        response = render(request, "lookup/index.html#lookup", context)
        # The address bar shows the GET form of the lookup, which bookmarks our history.
        return push_url(response, bookmark) if bookmark else response
    return render(request, "lookup/index.html", context)


class FixTraitsForm(forms.Form):
    """What Fix traits asks besides the table: where to send, why, and whether to send all."""

    source = SourceChoiceField()
    reason = reason_field(
        required=True,
        help_text="Why you fix these traits, e.g. the ticket reference. Required: it is kept "
        "in the audit log and shown in this user's timeline.",
    )
    every = forms.BooleanField(
        label="Send every trait, not only the changed ones",
        required=False,
    )
    confirm_production = production_confirmation()

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the sources the person may use (segadmin/accounts/limits.py).
        cast(SourceChoiceField, self.fields["source"]).limit_to(user)


def _snapshot(request: HttpRequest, form: LookupForm) -> dict[str, Any] | str:
    """The traits before the fix (ours, and Segment's when its Profile API is configured),
    or why the page cannot open."""
    kind = form.cleaned_data["identifier_type"]
    identifier = form.cleaned_data["identifier"]
    if kind == "email":
        return (
            "An Identify names the user by User ID or Anonymous ID: look them up by email, "
            "then fix the traits of the user found."
        )
    found = history(visible_messages(request.user), kind, identifier, columns=COLUMNS)
    start_from = SEGMENT if request.POST.get("start_from") == SEGMENT else OURS
    workspace = _pick_workspace(request.user, form.cleaned_data["workspace"], found)
    theirs: dict[str, Any] | None = None
    why = "no workspace with a Profile API token was found"
    if workspace is not None:
        answer = _profile_traits(request, workspace, kind, identifier)
        why = answer.error
        if answer.traits is not None:
            # As the audit log keeps Segment's answer: secret-named values masked.
            theirs = redaction.redact_json(answer.traits, answer.secrets)
    if start_from == SEGMENT and theirs is None:
        messages.warning(
            request, f"Segment's profile could not be read ({why}): the new values start from ours."
        )
        start_from = OURS
    source_id = found.latest_source_id
    latest = Source.objects.filter(pk=source_id, enabled=True).first() if source_id else None
    if latest is None or not limits.may_use_source(request.user, latest):
        source_id = None
    return {
        "kind": kind,
        "identifier": identifier,
        "ours": found.traits,
        "segment": theirs,
        "segment_error": "" if theirs is not None else why,
        "workspace": workspace.name if workspace is not None else "",
        "start_from": start_from,
        "source": source_id,
    }


def _fix_send(
    request: HttpRequest, snapshot: dict[str, Any], form: FixTraitsForm, rows: list[fix.Row]
) -> tuple[dict[str, Any] | None, list[str]]:
    """Build, check (the rules module, as the Identify screen does) and, on Send, send the
    Identify. Returns (the result panel or None, the errors that refused it)."""
    traits = fix.traits_to_send(rows, every=form.cleaned_data["every"])
    if any(row.error for row in rows):
        return None, ["Nothing was sent: fix the values marked below."]
    if not traits:
        return None, [
            "Nothing was sent: no trait changed. Change a value, unset a trait or add one."
        ]
    source = form.cleaned_data["source"]
    ids = {snapshot["kind"]: snapshot["identifier"]}
    message = build_message("identify", message_id=str(uuid.uuid4()), traits=traits, **ids)
    problems = rules.check("identify", message, source.plan_check())
    errors: list[str] = []
    by_key = {row.key: row for row in rows}
    for problem in rules.errors(problems):
        key, inner = rules.field_path(problem)
        name = inner.split(".")[0].split("[")[0] if key == "traits" else ""
        if name in by_key:
            by_key[name].error = problem.message
        else:
            errors.append(problem.message)
    if errors or any(row.error for row in rows):
        return None, ["Nothing was sent: fix what is marked below.", *errors]
    panel: dict[str, Any] = {
        "traits": traits,
        "message": json.dumps(message, ensure_ascii=False, indent=2, sort_keys=True),
        "warnings": [p.message for p in rules.warnings(problems)],
        "source": source,
    }
    if request.POST.get("action") != "send":
        panel["kind"] = "preview"
        return panel, []
    try:
        sent = sending.send_message(
            actor=Actor.from_request(request),
            source=source,
            message=message,
            reason=form.cleaned_data["reason"],
            confirm_production=form.cleaned_data.get(CONFIRM_PRODUCTION),
        )
    except sending.ProductionNotConfirmed as exc:
        # Said next to the confirmation box, which the page now shows ticked-off.
        form.add_error(CONFIRM_PRODUCTION, str(exc))
        return None, [f"Nothing was sent: “{source.name}” is a Production source; confirm below."]
    except (
        SecretUnreadable,
        EncryptionNotConfigured,
        sending.SourceDisabled,
        sending.NotAllowed,
    ) as exc:
        return None, [str(exc)]
    except MessageInvalid as exc:
        return None, [str(exc)]
    panel.update(kind="sent", entry=sent.entry, ok=sent.result.ok)
    return panel, []


@permission_required("accounts.lookup_users", raise_exception=True)
@permission_required("accounts.send_identify", raise_exception=True)
@require_POST
def fix_traits(request: HttpRequest) -> HttpResponse:
    """Fix traits: opened from the lookup (a starting point), then Preview and Send."""
    token = request.POST.get("token", "")
    panel: dict[str, Any] | None = None
    errors: list[str] = []
    if not token:
        lookup = LookupForm(request.POST, user=request.user)
        if not lookup.is_valid():
            messages.error(
                request, "Look the user up first: the User ID or Anonymous ID is missing."
            )
            return redirect("lookup:index")
        snapshot = _snapshot(request, lookup)
        if isinstance(snapshot, str):
            messages.error(request, snapshot)
            return redirect("lookup:index")
        token = fix.store(request, snapshot)
        form = FixTraitsForm(initial={"source": snapshot["source"]}, user=request.user)
        rows = fix.rows_for(snapshot)
        status = 200
    else:
        loaded = fix.load(request, token)
        if loaded is None:
            messages.error(request, "That Fix traits page has expired: look the user up again.")
            return redirect("lookup:index")
        snapshot = loaded
        form = FixTraitsForm(request.POST, user=request.user)
        rows = fix.read_rows(snapshot, request.POST)
        if form.is_valid():
            panel, errors = _fix_send(request, snapshot, form, rows)
        else:
            errors = ["Nothing was sent: fix what is marked below."]
            limit_events.refused_in_form(
                actor=Actor.from_request(request), form=form, entrance="Fix traits"
            )
        status = 422 if errors else 200
    context = {
        "snapshot": snapshot,
        "kind_label": dict(IDENTIFIER_TYPES)[snapshot["kind"]],
        "token": token,
        "form": form,
        "rows": rows,
        "types": fix.TYPES,
        "starting_points": fix.STARTING_POINTS,
        "panel": panel,
        "errors": errors,
        **production_context(form, sent=bool(panel and panel.get("kind") == "sent")),
        "new_key": request.POST.get("new_key", "") if request.POST.get("token") else "",
        "new_value": request.POST.get("new_value", "") if request.POST.get("token") else "",
        "new_type": request.POST.get("new_type", "text"),
    }
    return render(request, "lookup/fix_traits.html", context, status=status)
