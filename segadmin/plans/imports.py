"""What the plan page says about the last import that changed its plan, read from the audit
log (the import's ``tracking_plans.imported`` events, written by credentials/plans.py)."""

from __future__ import annotations

from typing import Any

from segadmin.audit.models import AuditEntry
from segadmin.credentials.models import TrackingPlan
from segadmin.credentials.plans import ACTION

# An import writes one event per workspace; a plan unchanged for longer than this many
# imports shows no "last changes" rather than scan the whole log.
LOOK_BACK = 50


def latest_import_of(plan: TrackingPlan) -> dict[str, Any] | None:
    """This plan's part of the latest import event that changed or created it, with ``at``."""
    entries = AuditEntry.objects.filter(
        action=ACTION, target_type="workspace", target_id=str(plan.workspace_id)
    ).order_by("-seq")[:LOOK_BACK]
    for entry in entries:
        details = entry.details_data or {}
        for item in details.get("plans") or []:
            if item.get("plan_id") != plan.plan_id or item.get("error"):
                continue
            if item.get("created") or any(
                item.get(key) for key in ("added", "removed", "new_versions", "changed")
            ):
                return {**item, "at": entry.created_at}
    return None
