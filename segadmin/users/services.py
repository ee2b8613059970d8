"""The one way the Users screens change a person's account: add (with a role), change the
role, deactivate, reactivate, reset the password, remove a person's second factor and limit to
chosen workspaces or sources (segadmin/accounts/limits.py), each with its audit event
(segadmin/audit/people.py, segadmin/audit/limits.py, segadmin/audit/second_factor.py) in the
transaction of the change.

What the rules refuse is said in a sentence (``Refused``): an Admin may not take away their
own Admin role or deactivate themselves, only a superuser may change a superuser, and nobody
gives a password to a person who signs in only with single sign-on (their identity provider
manages their sign-in; the refusal is recorded as "access.refused").

Deactivating a person, resetting their password and removing their second factor end every
open session of theirs in the same transaction (segadmin/accounts/sessions.py; the audit
event says how many: "sessions_ended"): their next request is sent to log in. A new role or
new source limits apply from their next request, without logging them out.
A one-time password or a set-password link is returned to be shown once, never stored in
clear or written to the audit log.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from allauth.mfa.models import Authenticator
from django.contrib.auth.models import Group, User
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from segadmin.accounts import sso
from segadmin.accounts.models import PasswordToChange, SourceLimit
from segadmin.accounts.roles import ADMIN, ROLES, role_of
from segadmin.accounts.sessions import end_sessions
from segadmin.audit import limits as limit_events
from segadmin.audit import people
from segadmin.audit import second_factor as factor_events

if TYPE_CHECKING:
    from collections.abc import Iterable

    from segadmin.audit.log import Actor
    from segadmin.credentials.models import Source, Workspace

ONE_TIME_PASSWORD = people.ONE_TIME_PASSWORD
SET_PASSWORD_LINK = "set-password link"  # noqa: S105 - the same, a link
HOW = (ONE_TIME_PASSWORD, SET_PASSWORD_LINK)


class Refused(Exception):
    """A change the rules do not allow, with the sentence that says why."""


@dataclass(frozen=True)
class Handover:
    """What the Admin hands the person, shown once: a password or a link's path."""

    how: str
    password: str = ""
    link_path: str = ""


def make_one_time_password() -> str:
    # 4 groups of 4 from an alphabet without look-alikes: ~79 bits, easy to read out.
    alphabet = "abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXYZ2346789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def set_password_path(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return reverse("users:set_password", kwargs={"uidb64": uid, "token": token})


def _hand_over(user: User, how: str) -> Handover:
    """Give ``user`` a password to change at first log-in, or no password and a link."""
    if how == ONE_TIME_PASSWORD:
        password = make_one_time_password()
        user.set_password(password)
        user.save(update_fields=["password"])
        PasswordToChange.objects.get_or_create(user=user)
        return Handover(how=how, password=password)
    if how == SET_PASSWORD_LINK:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        PasswordToChange.objects.filter(user=user).delete()
        return Handover(how=how, link_path=set_password_path(user))
    raise ValueError(f"unknown way to hand a password over: {how!r}")


def _role_groups() -> dict[str, Group]:
    return {group.name: group for group in Group.objects.filter(name__in=ROLES)}


def _check_may_change(actor_user: User, user: User) -> None:
    if user.is_superuser and not actor_user.is_superuser:
        raise Refused(f"{user.get_username()} is a superuser: only a superuser may change them.")


def add_person(
    *, actor: Actor, actor_user: User, username: str, email: str, role: str, how: str
) -> tuple[User, Handover]:
    if role not in ROLES:
        raise Refused(f"Choose one of the roles: {', '.join(ROLES)}.")
    with transaction.atomic():
        user = User.objects.create_user(username=username, email=email)
        user.groups.add(_role_groups()[role])
        handover = _hand_over(user, how)
        people.user_created(actor=actor, user=user, how=how)
    return user, handover


def change_role(*, actor: Actor, actor_user: User, user: User, role: str) -> bool:
    """Make ``role`` the person's one role; False when it already was."""
    if role not in ROLES:
        raise Refused(f"Choose one of the roles: {', '.join(ROLES)}.")
    _check_may_change(actor_user, user)
    if user.pk == actor_user.pk and role != ADMIN and role_of(user) == ADMIN:
        raise Refused("You cannot take away your own Admin role: ask another Admin.")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        before = people.access_of(user, superuser=user.is_superuser)
        groups = _role_groups()
        user.groups.remove(*(g for name, g in groups.items() if name != role))
        user.groups.add(groups[role])
        after = people.access_of(user, superuser=user.is_superuser)
        if before == after:
            return False
        people.roles_changed(actor=actor, user=user, before=before, after=after)
    return True


def set_active(*, actor: Actor, actor_user: User, user: User, active: bool) -> bool:
    """Deactivate (no log-in, every session ended) or reactivate; False when it already was."""
    _check_may_change(actor_user, user)
    if user.pk == actor_user.pk and not active:
        raise Refused("You cannot deactivate yourself: ask another Admin.")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.is_active == active:
            return False
        user.is_active = active
        user.save(update_fields=["is_active"])
        ended = None if active else end_sessions(user)
        people.activation_changed(actor=actor, user=user, sessions_ended=ended)
    return True


def reset_password(*, actor: Actor, actor_user: User, user: User, how: str) -> Handover:
    """A new one-time password (to change at first log-in) or a set-password link; the old
    password stops working and every session of the person ends. Refused (and recorded) for
    a person who signs in only with single sign-on: a password would be a second way in."""
    _check_may_change(actor_user, user)
    if user.pk == actor_user.pk:
        raise Refused("Change your own password with Change password, in the menu under your name.")
    if sso.password_managed_by_provider(user):
        provider = sso.provider_name()
        people.password_reset_refused(actor=actor, user=user, provider=provider)
        raise Refused(
            f"{user.get_username()} signs in with single sign-on: their identity provider "
            f"({provider}) manages their sign-in, so segadmin gives them no password. "
            "Nothing was changed."
        )
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        handover = _hand_over(user, how)
        people.password_changed(actor=actor, user=user, how=how, sessions_ended=end_sessions(user))
    return handover


def remove_second_factor(*, actor: Actor, actor_user: User, user: User) -> list[str]:
    """Remove every second factor of ``user`` (authenticator app, recovery codes, security
    keys: django-allauth's Authenticator rows), for a person who lost their phone or keys;
    recorded as "user.second_factor_reset" with the kinds removed; every open session of theirs
    ends (a session opened with the factor must not outlive it). Returns the authenticator
    types removed ([] when there were none: nothing recorded). Their next log-in asks for the
    password only; an Admin under SEGADMIN_REQUIRE_MFA is then sent to set one up again."""
    _check_may_change(actor_user, user)
    if user.pk == actor_user.pk:
        raise Refused(
            "Manage your own second factor on the Second factor page, in the menu under your name."
        )
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        factors = Authenticator.objects.filter(user=user)
        kinds = sorted(str(kind) for kind in factors.values_list("type", flat=True))
        if not kinds:
            return []
        factors.delete()
        factor_events.second_factor_reset(
            actor=actor, user=user, kinds=kinds, sessions_ended=end_sessions(user)
        )
    return kinds


def limits_of(user: User) -> dict[str, list[str]]:
    """The person's limits as the audit log and the Users page name them: the chosen
    workspaces and sources, by name ([] and [] = none: every source)."""
    limit = SourceLimit.objects.filter(pk=user.pk).first()
    if limit is None:
        return {"workspaces": [], "sources": []}
    return {
        "workspaces": sorted(limit.workspaces.values_list("name", flat=True)),
        "sources": sorted(limit.sources.values_list("name", flat=True)),
    }


def set_limits(
    *,
    actor: Actor,
    actor_user: User,
    user: User,
    workspaces: Iterable[Workspace],
    sources: Iterable[Source],
) -> bool:
    """Limit ``user`` to ``workspaces`` and ``sources`` (none of either: no limits, every
    source), recorded as "user.limits_changed" with the choices before and after; False when
    nothing changed. Their next request (and the next chunk of their bulk jobs) obeys it."""
    _check_may_change(actor_user, user)
    workspaces, sources = list(workspaces), list(sources)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        limit = SourceLimit.objects.filter(pk=user.pk).first()
        before_ids = _limit_ids(limit)
        after_ids = (
            (frozenset(w.pk for w in workspaces), frozenset(s.pk for s in sources))
            if workspaces or sources
            else None
        )
        if before_ids == after_ids:
            return False
        before = limits_of(user)
        if after_ids is None:
            SourceLimit.objects.filter(pk=user.pk).delete()
        else:
            limit, _ = SourceLimit.objects.get_or_create(user=user)
            limit.workspaces.set(workspaces)
            limit.sources.set(sources)
            limit.save(update_fields=["updated_at"])
        limit_events.limits_changed(actor=actor, user=user, before=before, after=limits_of(user))
    return True


def _limit_ids(limit: SourceLimit | None) -> tuple[frozenset[int], frozenset[int]] | None:
    if limit is None:
        return None
    return (
        frozenset(limit.workspaces.values_list("pk", flat=True)),
        frozenset(limit.sources.values_list("pk", flat=True)),
    )


def choose_own_password(
    *, actor: Actor, user: User, password: str, keep_session: str | None = None
) -> None:
    """The person sets their own password (after a one-time password or from a link); every
    other session of theirs ends (``keep_session``: the key of the one they are using)."""
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        PasswordToChange.objects.filter(user=user).delete()
        ended = end_sessions(user, keep=keep_session)
        people.password_changed(actor=actor, user=user, sessions_ended=ended)
