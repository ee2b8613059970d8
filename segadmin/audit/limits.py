"""Audit events for people's source limits (segadmin/accounts/limits.py): an Admin changing a
person's limits ("user.limits_changed", the chosen workspaces and sources before and after),
and an entrance refusing a source or workspace outside a limited person's limits
("access.refused": a forged form, a Send again, a job whose owner lost the source, the send
service's own refusal). A refusal is filed under the source (or workspace) it named, so the
source's history shows who tried; nothing was sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from segadmin.audit.log import Actor, record_event

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from segadmin.audit.models import AuditEntry
    from segadmin.credentials.models import Source, Workspace

LIMITS_CHANGED = "user.limits_changed"
REFUSED = "access.refused"


def limits_changed(
    *, actor: Actor, user: User, before: dict[str, Any], after: dict[str, Any]
) -> AuditEntry:
    """``before``/``after``: {"workspaces": [names], "sources": [names]} ([] and [] = all)."""
    return record_event(
        actor=actor,
        action=LIMITS_CHANGED,
        target_type="user",
        target_id=user.pk,
        target_name=user.get_username(),
        details={"before": before, "after": after},
    )


def refused(
    *,
    actor: Actor,
    entrance: str,
    source: Source | None = None,
    workspace: Workspace | None = None,
    reason: str = "",
) -> AuditEntry:
    """A limited person asked ``entrance`` (e.g. "Identify", "Send again", "bulk import") for a
    source or workspace outside their limits: refused, nothing sent."""
    target: Any = source if source is not None else workspace
    kind = "source" if source is not None else "workspace"
    details: dict[str, Any] = {"entrance": entrance, "why": "outside the person's source limits"}
    if reason:
        details["reason"] = reason
    return record_event(
        actor=actor,
        action=REFUSED,
        target_type=kind,
        target_id=target.pk if target is not None else "",
        target_name=str(getattr(target, "name", "")),
        details=details,
    )


def refused_in_form(*, actor: Actor, form: Any, entrance: str) -> bool:
    """Record the refusal a form's Source or Workspace field made of a choice outside the
    person's limits (``field.refused``, see credentials.fields); True when there was one."""
    found = False
    for name in ("source", "workspace"):
        field = form.fields.get(name)
        chosen = getattr(field, "refused", None)
        if chosen is None:
            continue
        if name == "source":
            refused(actor=actor, entrance=entrance, source=chosen)
        else:
            refused(actor=actor, entrance=entrance, workspace=chosen)
        found = True
    return found
