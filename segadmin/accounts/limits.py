"""People limited to their sources: the one answer to "may this person use this source (or
this workspace)?" and "which sources may they use?", asked by every entrance (the call
screens, Make an API call, bulk imports and their worker, Fix traits, Send again, privacy
requests, the audit log) and, as the last line, by the send service (segadmin/sending).

A person without limits may use everything their role allows. A limited person may use a
source when it is chosen for them or its workspace is; a workspace only when it is chosen.
The limits are stored on ``SourceLimit`` (models.py); this module never imports the
credentials layer above it: sources and workspaces are read through the querysets and
objects the callers hand in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from django.db import connection
from django.db.models import Q, QuerySet

from segadmin.accounts.models import SourceLimit

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

# Where a limits answer is kept on a user object for the rest of a request.
_CACHE = "_segadmin_source_limits"


class _SourceLike(Protocol):
    pk: Any
    workspace_id: Any


class _WorkspaceLike(Protocol):
    pk: Any


@dataclass(frozen=True)
class Limits:
    """What one person may use. ``restricted`` False: everything."""

    restricted: bool = False
    workspace_ids: frozenset[int] = frozenset()
    source_ids: frozenset[int] = frozenset()

    def allows_source(self, source: _SourceLike | None) -> bool:
        if not self.restricted:
            return True
        if source is None:
            return False
        return source.pk in self.source_ids or (
            source.workspace_id is not None and source.workspace_id in self.workspace_ids
        )

    def allows_workspace(self, workspace: _WorkspaceLike | None) -> bool:
        if not self.restricted:
            return True
        return workspace is not None and workspace.pk in self.workspace_ids

    def source_q(self, prefix: str = "") -> Q:
        """The sources allowed, as a filter on a Source queryset (``prefix``: the path to a
        source from another model, e.g. "source__")."""
        if not self.restricted:
            return Q()
        return Q(**{f"{prefix}pk__in": self.source_ids}) | Q(
            **{f"{prefix}workspace_id__in": self.workspace_ids}
        )


UNRESTRICTED = Limits()


_HAS_LIMITS = 'SELECT 1 FROM "accounts_sourcelimit" WHERE "user_id" = %s'


def read_limits(user: User | AnonymousUser | None) -> Limits:
    """``user``'s limits read from the database now (one query for an unlimited person)."""
    if user is None or not user.is_authenticated or user.pk is None:
        return UNRESTRICTED
    with connection.cursor() as cursor:  # one plain SELECT: every send asks it
        cursor.execute(_HAS_LIMITS, [user.pk])
        if cursor.fetchone() is None:
            return UNRESTRICTED
    through_sources = SourceLimit.sources.through.objects.filter(sourcelimit_id=user.pk)
    through_workspaces = SourceLimit.workspaces.through.objects.filter(sourcelimit_id=user.pk)
    return Limits(
        restricted=True,
        source_ids=frozenset(through_sources.values_list("source_id", flat=True)),
        workspace_ids=frozenset(through_workspaces.values_list("workspace_id", flat=True)),
    )


def limits_of(user: User | AnonymousUser | None) -> Limits:
    """``user``'s limits, read once per user object (a request's ``request.user``)."""
    if user is None:
        return UNRESTRICTED
    cached = getattr(user, _CACHE, None)
    if isinstance(cached, Limits):
        return cached
    limits = read_limits(user)
    setattr(user, _CACHE, limits)
    return limits


def keep(user: Any, answer: Limits) -> None:
    """Keep ``answer`` (read with other things) on ``user`` for the rest of the request, unless
    an answer is kept already."""
    if not isinstance(getattr(user, _CACHE, None), Limits):
        setattr(user, _CACHE, answer)


def forget(user: Any) -> None:
    """Drop the answer kept on ``user`` (after their limits changed)."""
    if user is not None and hasattr(user, _CACHE):
        delattr(user, _CACHE)


def is_limited(user: User | AnonymousUser | None) -> bool:
    return limits_of(user).restricted


def may_use_source(user: User | AnonymousUser | None, source: _SourceLike | None) -> bool:
    """Whether ``user`` may send to (or read the entries of) ``source``."""
    return limits_of(user).allows_source(source)


def may_use_workspace(user: User | AnonymousUser | None, workspace: _WorkspaceLike | None) -> bool:
    """Whether ``user`` may act on the whole of ``workspace`` (a privacy request, the Public
    API, the Profile API): only when it is chosen for a limited person."""
    return limits_of(user).allows_workspace(workspace)


def allowed_sources[Q_: QuerySet[Any]](user: User | AnonymousUser | None, sources: Q_) -> Q_:
    """``sources`` (a Source queryset) narrowed to those ``user`` may use."""
    limits = limits_of(user)
    if not limits.restricted:
        return sources
    return sources.filter(limits.source_q())


def allowed_workspaces[Q_: QuerySet[Any]](user: User | AnonymousUser | None, workspaces: Q_) -> Q_:
    """``workspaces`` (a Workspace queryset) narrowed to those ``user`` may use as a whole."""
    limits = limits_of(user)
    if not limits.restricted:
        return workspaces
    return workspaces.filter(pk__in=limits.workspace_ids)


def source_refusal(source: Any) -> str:
    """The sentence a limited person reads when they ask for a source outside their limits."""
    name = getattr(source, "name", "") or "this source"
    return (
        f"You may not use the source “{name}”: an Admin limited you to other sources. "
        "Choose one of the sources offered, or ask an Admin."
    )


def workspace_refusal(workspace: Any) -> str:
    name = getattr(workspace, "name", "") or "this workspace"
    return (
        f"You may not act on the workspace “{name}”: an Admin limited you to other "
        "workspaces or sources. Choose one of the workspaces offered, or ask an Admin."
    )
