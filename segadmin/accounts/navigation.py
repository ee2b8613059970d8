"""The navigation bar: each link is shown only to the people whose role may use it.

A feature adds its screen here; the label is part of the product's contract (DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    permission: str


NAVIGATION: tuple[NavItem, ...] = (
    NavItem("Identify", "calls:identify", "accounts.send_identify"),
    NavItem("Track", "calls:track", "accounts.send_events"),
    NavItem("Page", "calls:page", "accounts.send_events"),
    NavItem("Screen", "calls:screen", "accounts.send_events"),
    NavItem("Group", "calls:group", "accounts.send_events"),
    NavItem("Alias", "calls:alias", "accounts.send_events"),
    NavItem("Make an API call", "calls:api", "accounts.make_api_call"),
    NavItem("Bulk import", "bulk:index", "accounts.bulk_import"),
    NavItem("User lookup", "lookup:index", "accounts.lookup_users"),
    NavItem("Tracking plans", "plans:list", "accounts.view_tracking_plans"),
    NavItem("Privacy requests", "privacy:list", "accounts.file_privacy_requests"),
    NavItem("Approvals", "approvals:list", "accounts.approve"),
    # Every role reads the audit log (a Marketer only their own entries).
    NavItem("Audit log", "audit:list", "accounts.send_identify"),
    NavItem("Sources", "credentials:source_list", "accounts.manage_credentials"),
    NavItem("Workspaces", "credentials:workspace_list", "accounts.manage_credentials"),
    NavItem("Users", "users:list", "accounts.manage_users"),
)


def visible_items(request: HttpRequest) -> list[dict[str, str | bool]]:
    user = request.user
    if not user.is_authenticated:
        return []
    items: list[dict[str, str | bool]] = []
    for item in NAVIGATION:
        if user.has_perm(item.permission):
            url = reverse(item.url_name)
            items.append({"label": item.label, "url": url, "active": request.path.startswith(url)})
    return items
