"""Changing credentials: create, edit, import, rotate and delete workspaces and sources.

Every change and its audit event commit together (one transaction): if the event cannot be
written, the change is rolled back. The credentials layer sits below the audit log (the audit
log's entries point at workspaces and sources), so it cannot import the log's writer; the audit
app hands its writer over at start-up instead (``use_recorder``, called from
``AuditConfig.ready``). Without one, every change here refuses to run rather than go unaudited.

The screens (credentials' views), ``rotate_keys`` and anything else that changes a workspace or
a source call these functions instead of saving the models themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from segadmin.credentials import crypto
from segadmin.credentials.models import Source, Workspace

if TYPE_CHECKING:
    from segadmin.accounts.actors import Actor

SECRET_LABELS = {
    "token_encrypted": "Public API token",
    "profiles_token_encrypted": "Profile API token",
    "write_key_encrypted": "Write key",
}


class Recorder(Protocol):
    """Writes one audit event inside the caller's transaction (``audit.log.record_event``)."""

    def __call__(
        self,
        *,
        actor: Actor,
        action: str,
        target_type: str,
        target_id: str | int,
        target_name: str,
        details: dict[str, Any] | None = None,
    ) -> object: ...


recorder: Recorder | None = None


def use_recorder(writer: Recorder) -> None:
    """Make ``writer`` the audit event writer of every credentials change (set at start-up)."""
    global recorder
    recorder = writer


def create(*, actor: Actor, obj: Workspace | Source, details: dict[str, Any]) -> None:
    """Save a new workspace or source (its secrets already set) with "credential.created"."""
    if obj.pk is not None:
        raise ValueError(f"{obj!r} exists already; use edit().")
    with transaction.atomic():
        obj.save()
        _record(actor, "credential.created", obj, details)


def edit(
    *,
    actor: Actor,
    obj: Workspace | Source,
    details: dict[str, Any],
    update_fields: list[str] | None = None,
) -> None:
    """Save changes to a workspace or source with "credential.changed"."""
    if obj.pk is None:
        raise ValueError(f"{obj!r} is not saved yet; use create().")
    with transaction.atomic():
        obj.save(update_fields=update_fields)
        _record(actor, "credential.changed", obj, details)


def delete(*, actor: Actor, obj: Workspace | Source, details: dict[str, Any]) -> None:
    """Delete a workspace or source with "credential.deleted" (recorded first, so the entry
    still points at the row; ProtectedError rolls both back)."""
    with transaction.atomic():
        _record(actor, "credential.deleted", obj, details)
        obj.delete()


def import_source(
    *,
    actor: Actor,
    workspace: Workspace,
    segment_source_id: str,
    name: str,
    slug: str,
    enabled: bool,
    write_key: str,
    production: bool = False,
) -> Source:
    """Create the Source for a source Segment listed in ``workspace``, with
    "credential.imported". IntegrityError when a source with that Segment ID exists already."""
    source = Source(
        name=name,
        region=workspace.region,
        workspace=workspace,
        segment_source_id=segment_source_id,
        slug=slug,
        enabled=enabled,
        production=production,
    )
    source.set_write_key(write_key)
    with transaction.atomic():
        source.save()
        _record(
            actor,
            "credential.imported",
            source,
            {
                "workspace": workspace.name,
                "workspace_id": workspace.pk,
                "segment_source_id": segment_source_id,
                "region": workspace.region,
                "production": production,
            },
        )
    return source


def rotate(
    *, actor: Actor, model: type[Workspace] | type[Source], pk: int
) -> tuple[int, list[str]]:
    """Re-encrypt one row's secrets under the first key, with "credential.rotated".

    Returns how many secrets were re-encrypted and why the others could not be (a secret no
    configured key decrypts stays as it is). EncryptionNotConfigured is raised as it is."""
    with transaction.atomic():
        obj = model.objects.select_for_update().filter(pk=pk).first()
        if obj is None:  # deleted since the caller listed it
            return 0, []
        updates: dict[str, str] = {}
        errors: list[str] = []
        for field in obj.SECRET_FIELDS:
            token = getattr(obj, field)
            if not token:
                continue
            try:
                updates[field] = crypto.reencrypt(token, what=obj.describe_secret(field))
            except crypto.SecretUnreadable as exc:
                errors.append(str(exc))
        if updates:
            # A plain UPDATE: rotation changes no value anyone sees, so updated_at stays.
            model.objects.filter(pk=pk).update(**updates)
            _record(
                actor,
                "credential.rotated",
                obj,
                {"rotated": [SECRET_LABELS[field] for field in updates]},
            )
    return len(updates), errors


def record(*, actor: Actor, action: str, obj: Workspace | Source, details: dict[str, Any]) -> None:
    """Write ``action``'s audit event about ``obj`` with the writer set at start-up, inside the
    caller's transaction (credentials/plans.py records its imports this way).
    ImproperlyConfigured when no writer is set, so the caller's transaction rolls back."""
    _record(actor, action, obj, details)


def _record(actor: Actor, action: str, obj: Workspace | Source, details: dict[str, Any]) -> None:
    if recorder is None:
        raise ImproperlyConfigured(
            "No audit event writer is set for credentials changes: add segadmin.audit to "
            "INSTALLED_APPS (its AppConfig.ready() sets it). Nothing was changed."
        )
    recorder(
        actor=actor,
        action=action,
        target_type="workspace" if isinstance(obj, Workspace) else "source",
        target_id=obj.pk,
        target_name=obj.name,
        details=details,
    )
