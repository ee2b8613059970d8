"""Who did something: the person (or command) every audit entry and credentials change names.

It lives with the people (accounts, the lowest layer) so that every layer may name an actor;
the audit log (segadmin.audit.log) is what writes it down.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from axes.helpers import get_client_ip_address

from segadmin.accounts.roles import request_role

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.http import HttpRequest


@dataclass(frozen=True)
class Actor:
    """Who did it, kept as text so it survives the user's deletion."""

    user: User | None
    username: str
    role: str
    ip: str | None
    user_agent: str

    @classmethod
    def from_request(cls, request: HttpRequest) -> Actor:
        user = request.user if request.user.is_authenticated else None
        return cls(
            user=user,
            username=user.get_username() if user else "",
            role=(request_role(request) or "") if user else "",
            # As log-in throttling sees it: the connection's address, or the client's as the
            # trusted proxies report it (TRUSTED_PROXY_COUNT), never what a client claims.
            ip=clean_ip(get_client_ip_address(request)),
            # The audit log strips control characters when it stores it.
            user_agent=request.headers.get("User-Agent", "")[:500],
        )

    @classmethod
    def system(cls, name: str) -> Actor:
        """A command or worker acting on its own, e.g. Actor.system("rotate_keys")."""
        return cls(user=None, username=name, role="system", ip=None, user_agent="")


def clean_ip(value: Any) -> str | None:
    """``value`` as a normalised IP address, or None when it is not one."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        return None
