"""User lookup (Support and Admins): what segadmin sent for one user, and what Segment holds.

The timeline and our traits come from the audit log. When the workspace has a Profile API
token, the current traits are fetched from Segment through the send service's transport, so
the lookup itself is on the record.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from segadmin.audit import drafts
from segadmin.audit.filters import visible_messages
from segadmin.audit.log import Actor
from segadmin.audit.views import LIST_COLUMNS
from segadmin.credentials.crypto import EncryptionNotConfigured, SecretUnreadable
from segadmin.credentials.models import Source, Workspace
from segadmin.lookup.history import IDENTIFIER_TYPES, History, compare, history
from segadmin.segment import client

COLUMNS = (*LIST_COLUMNS, "source_id")
OURS, SEGMENT = "ours", "segment"


def _profile_workspaces() -> Any:
    return (
        Workspace.objects.exclude(profiles_space_id="")
        .exclude(profiles_token_encrypted="")
        .order_by("name")
    )


class _WorkspaceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Workspace) -> str:
        return f"{obj.name} ({obj.get_region_display()})"


class LookupForm(forms.Form):
    identifier_type = forms.ChoiceField(
        label="Look up by", choices=IDENTIFIER_TYPES, initial="user_id", widget=forms.RadioSelect
    )
    identifier = forms.CharField(
        label="The ID",
        max_length=255,
        error_messages={"required": "Enter the User ID or Anonymous ID to look up."},
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    workspace = _WorkspaceField(
        label="Compare with the Profile API of",
        queryset=_profile_workspaces(),
        required=False,
        empty_label="The workspace of the user's latest source",
        error_messages={
            "invalid_choice": "That workspace does not exist or has no Profile API token."
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["workspace"].queryset = _profile_workspaces()


def _pick_workspace(chosen: Workspace | None, found: History) -> Workspace | None:
    """The chosen workspace, else the one of the user's latest source, else the only one."""
    if chosen is not None:
        return chosen
    source_id = found.latest_source_id
    if source_id is not None:
        source = Source.objects.select_related("workspace").filter(pk=source_id).first()
        if source is not None and source.workspace and source.workspace.has_profiles_api:
            return source.workspace
    candidates = list(_profile_workspaces()[:2])
    return candidates[0] if len(candidates) == 1 else None


def _profile_traits(
    request: HttpRequest, workspace: Workspace, identifier_type: str, identifier: str
) -> tuple[dict[str, Any] | None, str, str]:
    """(traits, kind of error, readable message): traits None when there are none to show."""
    from segadmin.calls import services  # the send service imports the audit app

    try:
        token = workspace.profiles_token() or ""
    except (SecretUnreadable, EncryptionNotConfigured) as exc:
        return None, "unreadable", str(exc)
    answer = client.get_profile_traits(
        space_id=workspace.profiles_space_id,
        token=token,
        region=workspace.region,
        identifier_type=identifier_type,
        identifier=identifier,
        transport=services.workspace_transport(
            actor=Actor.from_request(request), workspace=workspace
        ),
    )
    if isinstance(answer, client.ApiError):
        return None, answer.kind, answer.message
    return answer, "", ""


@permission_required("accounts.lookup_users", raise_exception=True)
@require_safe
def index(request: HttpRequest) -> HttpResponse:
    form = LookupForm(request.GET or None)
    context: dict[str, Any] = {"form": form, "zone": timezone.get_current_timezone_name()}
    if form.is_bound and form.is_valid():
        kind = form.cleaned_data["identifier_type"]
        identifier = form.cleaned_data["identifier"]
        found = history(visible_messages(request.user), kind, identifier, columns=COLUMNS)
        workspace = _pick_workspace(form.cleaned_data["workspace"], found)
        context.update(
            found=found,
            kind=kind,
            kind_label=dict(IDENTIFIER_TYPES)[kind],
            identifier=identifier,
            workspace=workspace,
            audit_query=urlencode({kind: identifier}),
            can_fix=request.user.has_perm("accounts.send_identify"),
        )
        if workspace is not None:
            theirs, error_kind, error = _profile_traits(request, workspace, kind, identifier)
            comparison = compare(found.traits, theirs) if theirs is not None else []
            context.update(
                profile=theirs,
                profile_error_kind=error_kind,
                profile_error=error,
                comparison=comparison,
                differences=sum(row.state != "same" for row in comparison),
            )
    return render(request, "lookup/index.html", context)


@permission_required("accounts.lookup_users", raise_exception=True)
@permission_required("accounts.send_identify", raise_exception=True)
@require_POST
def fix_traits(request: HttpRequest) -> HttpResponse:
    """Open Identify for the user with the traits as they stand (ours, or Segment's)."""
    form = LookupForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Look the user up first: the User ID or Anonymous ID is missing.")
        return redirect("lookup:index")
    kind = form.cleaned_data["identifier_type"]
    identifier = form.cleaned_data["identifier"]
    found = history(visible_messages(request.user), kind, identifier, columns=COLUMNS)
    traits = found.traits
    if request.POST.get("start_from") == SEGMENT:
        workspace = _pick_workspace(form.cleaned_data["workspace"], found)
        theirs, why = None, "no workspace with a Profile API token was found"
        if workspace is not None:
            theirs, _, why = _profile_traits(request, workspace, kind, identifier)
        if theirs is None:
            messages.warning(
                request,
                f"Segment's profile could not be read ({why}): the editor starts from ours.",
            )
        else:
            traits = theirs
    source_id = found.latest_source_id
    if source_id is not None and not Source.objects.filter(pk=source_id, enabled=True).exists():
        source_id = None
    token = drafts.store(
        request,
        call_type="identify",
        initial={"source": source_id, kind: identifier, "traits": traits}
        if source_id
        else {kind: identifier, "traits": traits},
    )
    return redirect(f"{reverse('calls:identify')}?draft={token}")
