"""Which capability each kind of call needs, for every entrance that sends one.

The call screens, Send again and bulk imports (upload, start, resume and the worker) all ask
here, so a role may send the same calls by every path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

SEND_IDENTIFY = "accounts.send_identify"
SEND_EVENTS = "accounts.send_events"
BULK_IMPORT = "accounts.bulk_import"
# Change (start, cancel, resume, remap) a bulk import someone else uploaded.
MANAGE_IMPORTS = "accounts.manage_imports"

# Identify fixes a user's traits (Support's job); every other call records or merges activity.
SEND_PERMISSIONS = {
    "identify": SEND_IDENTIFY,
    "track": SEND_EVENTS,
    "page": SEND_EVENTS,
    "screen": SEND_EVENTS,
    "group": SEND_EVENTS,
    "alias": SEND_EVENTS,
}


def send_permission(call_type: str) -> str:
    """The capability that sending ``call_type`` needs (KeyError for an unknown type)."""
    return SEND_PERMISSIONS[call_type]


def may_send(user: User | AnonymousUser, call_type: str) -> bool:
    """Whether ``user`` may send this kind of call (an unknown kind: never)."""
    permission = SEND_PERMISSIONS.get(call_type)
    return permission is not None and user.has_perm(permission)
