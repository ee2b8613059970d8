"""Audit events of people's second factor: one set up ("user.second_factor_added"), removed
("user.second_factor_removed"), recovery codes made anew ("user.recovery_codes_regenerated")
a wrong code or key at log-in or confirmation ("user.second_factor_failed"), and every one of a
person's factors removed by an Admin on the Users page ("user.second_factor_reset", who did it
in the entry's actor, whose in its target, the kinds removed in its details).

django-allauth signals each; the details name only the kind (authenticator app, recovery codes,
security key) and, for a failure, whether it was a log-in or a confirmation: never a secret, a
code or a key's data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from allauth.mfa import signals
from django.dispatch import receiver
from django.http import HttpRequest

from segadmin.audit.log import Actor
from segadmin.audit.people import record_user_event

if TYPE_CHECKING:
    from segadmin.audit.models import AuditEntry

ADDED = "user.second_factor_added"
REMOVED = "user.second_factor_removed"
CODES_REGENERATED = "user.recovery_codes_regenerated"
FAILED = "user.second_factor_failed"
RESET = "user.second_factor_reset"

KINDS = {
    "totp": "authenticator app",
    "recovery_codes": "recovery codes",
    "webauthn": "security key",
}


def _kind(authenticator: Any) -> str:
    return KINDS.get(str(getattr(authenticator, "type", "")), "second factor")


def _actor(request: HttpRequest | None) -> Actor:
    if request is None or not hasattr(request, "user"):
        return Actor.system("second factor")
    return Actor.from_request(request)


@receiver(signals.authenticator_added)
def on_added(sender: Any, request: HttpRequest, user: Any, authenticator: Any, **kw: Any) -> None:
    record_user_event(
        actor=_actor(request), action=ADDED, user=user, details={"kind": _kind(authenticator)}
    )


@receiver(signals.authenticator_removed)
def on_removed(sender: Any, request: HttpRequest, user: Any, authenticator: Any, **kw: Any) -> None:
    record_user_event(
        actor=_actor(request), action=REMOVED, user=user, details={"kind": _kind(authenticator)}
    )


@receiver(signals.authenticator_reset)
def on_reset(sender: Any, request: HttpRequest, user: Any, authenticator: Any, **kw: Any) -> None:
    record_user_event(
        actor=_actor(request),
        action=CODES_REGENERATED,
        user=user,
        details={"kind": _kind(authenticator)},
    )


@receiver(signals.authentication_failed)
def on_failed(sender: Any, request: HttpRequest, user: Any, **kw: Any) -> None:
    details = {"during": "confirmation" if kw.get("reauthentication") else "log-in"}
    authenticator = kw.get("authenticator")
    if authenticator is not None:
        details["kind"] = _kind(authenticator)
    record_user_event(actor=_actor(request), action=FAILED, user=user, details=details)


def second_factor_reset(
    *, actor: Actor, user: Any, kinds: list[str], sessions_ended: int | None = None
) -> AuditEntry:
    """An Admin removed every second factor of ``user`` (who lost their phone or keys):
    ``kinds`` are allauth's authenticator types removed; the details name them (and how many
    security keys), never a secret, a code or a key's data; ``sessions_ended``: how many of
    their open sessions it ended."""
    names = sorted({KINDS.get(kind, "second factor") for kind in kinds})
    details: dict[str, Any] = {"removed": names}
    keys = kinds.count("webauthn")
    if keys:
        details["security_keys"] = keys
    if sessions_ended is not None:
        details["sessions_ended"] = sessions_ended
    return record_user_event(actor=actor, action=RESET, user=user, details=details)
