"""The first-run checklist on the home page: add a workspace, test it, import sources, send a
first call. Each step ticks itself from what is stored (never from a flag someone sets), in one
query of four EXISTS; once every step is done, the checklist is no longer shown.

The first visit that finds every step done writes SetupDone; later visits read only that row
(one small query) instead of the four steps, which on a large audit log cost milliseconds
each visit ("was a connection ever tested?" walks the request entries)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Exists
from django.urls import reverse
from django.utils import timezone

from segadmin.audit.models import AuditEntry, Kind, Outcome
from segadmin.credentials.models import Source, Workspace
from segadmin.home.models import SetupDone
from segadmin.segment.messages import CALL_TYPES

MANAGE = "accounts.manage_credentials"
# Test connection records its request under this call type (segment/client/public_api.py).
TEST_CONNECTION = "public:get_workspace"
# A first call: any Tracking API call or batch that Segment accepted.
DELIVERIES = (*CALL_TYPES, "batch")


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    done: bool
    help: str
    url: str  # "" when this person may not take the step
    action: str  # the link's words


def _state(user: Any) -> dict[str, bool]:
    requests = AuditEntry.objects.filter(kind=Kind.REQUEST, outcome=Outcome.SENT)
    row = (
        User.objects.filter(pk=user.pk)
        .annotate(
            workspace=Exists(Workspace.objects.all()),
            tested=Exists(requests.filter(call_type=TEST_CONNECTION)),
            sources=Exists(Source.objects.all()),
            sent=Exists(requests.filter(call_type__in=DELIVERIES)),
        )
        .values("workspace", "tested", "sources", "sent")
        .first()
    )
    return {k: bool(v) for k, v in (row or {}).items()}


def _only_workspace() -> Workspace | None:
    found = list(Workspace.objects.order_by("pk")[:2])
    return found[0] if len(found) == 1 else None


def checklist(user: Any, nav_urls: Callable[[], dict[str, str]]) -> list[Step] | None:
    """The steps, or None when every one is done (the install is set up). ``nav_urls``: the
    navigation's addresses by label, asked for only when the steps are shown."""
    if SetupDone.objects.exists():
        return None
    state = _state(user)
    if state and all(state.values()):
        SetupDone.objects.create(done_at=timezone.now())
        return None
    manage = user.has_perm(MANAGE)
    workspace = _only_workspace() if manage and state.get("workspace") else None
    # Where to test and import: the one workspace's own pages, else the list to choose from.
    detail = reverse("credentials:workspace_detail", args=[workspace.pk]) if workspace else ""
    importer = reverse("credentials:workspace_import", args=[workspace.pk]) if workspace else ""
    workspaces = reverse("credentials:workspace_list")
    admin_only = "An Admin does this."
    urls = nav_urls()
    first_call = urls.get("Identify") or urls.get("Track") or ""
    return [
        Step(
            "workspace",
            "Add a workspace",
            state.get("workspace", False),
            "Its Public API token lets segadmin test the connection and import the sources.",
            reverse("credentials:workspace_add") if manage else "",
            "Add a workspace" if manage else admin_only,
        ),
        Step(
            "tested",
            "Test the connection",
            state.get("tested", False),
            "Press Test connection on the workspace's page: it checks the token with Segment.",
            (detail or workspaces) if manage else "",
            "Open the workspace" if manage else admin_only,
        ),
        Step(
            "sources",
            "Import sources",
            state.get("sources", False),
            "The sources (and their write keys) that calls are sent through.",
            (importer or workspaces) if manage else "",
            "Import sources" if manage else admin_only,
        ),
        Step(
            "sent",
            "Send a first call",
            state.get("sent", False),
            "An Identify or Track call that Segment accepts.",
            first_call,
            "Send a call" if first_call else "A Marketer or Support person does this.",
        ),
    ]
