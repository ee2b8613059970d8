"""A person's open sessions, ended when an Admin's change must log them out at once.

Sessions live in the database (django_session). Each log-in notes its session under the
person (``UserSession``, by Django's ``user_logged_in``, which password, single sign-on and
second-factor log-ins all send), so ``end_sessions`` deletes a person's sessions by one indexed
query instead of decoding every session. Their next request finds no session and is sent to
log in. Deactivation, a password reset by an Admin (or by the Django admin or
``changepassword``), the removal of their second factor and the deletion of their account end
them; a role or source-limit change does not need to, as both are read again on every request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth.signals import user_logged_in
from django.contrib.sessions.models import Session
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from segadmin.accounts.models import UserSession

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.http import HttpRequest


@receiver(user_logged_in, dispatch_uid="segadmin-note-session")
def note_session(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Note the session a log-in opened (login() has saved it under a new key already)."""
    if request is not None:
        remember(request, user)


@receiver(pre_delete, sender="auth.User", dispatch_uid="segadmin-end-sessions-of-deleted")
def end_sessions_of_deleted(sender: Any, instance: User, **kwargs: Any) -> None:
    """A deleted person's sessions end with their account, whoever deletes it (the Django admin,
    which ends them first to put the count in the audit event, a script, the shell): the notes
    would go with the account by cascade, leaving their django_session rows behind, found by
    nothing. A signal, because a deletion has no other single place to hook."""
    end_sessions(instance)


def remember(request: HttpRequest, user: User) -> None:
    """Note ``request``'s session as ``user``'s; again after its key changes while they stay
    logged in (``update_session_auth_hash``: the old key's note went with the old row)."""
    session = getattr(request, "session", None)
    if session is None or getattr(session, "model", None) is not Session:
        return  # not the database's sessions (none here but the database's)
    if not session.session_key:
        session.save()
    UserSession.objects.update_or_create(
        session_id=session.session_key, defaults={"user_id": user.pk}
    )


def end_sessions(user: User, *, keep: str | None = None) -> int:
    """Delete every open session of ``user`` but ``keep`` (a session key); how many ended."""
    keys = UserSession.objects.filter(user_id=user.pk).values_list("session_id", flat=True)
    if keep:
        keys = keys.exclude(session_id=keep)
    _, deleted = Session.objects.filter(session_key__in=list(keys)).delete()
    return deleted.get(Session._meta.label, 0)
