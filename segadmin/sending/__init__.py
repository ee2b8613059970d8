"""The sending layer: the one way segadmin sends anything to Segment.

Screens, the bulk worker and audit's Send again call these keyword-only functions; nothing
else imports the client's sending functions (``make lint`` refuses it, see pyproject.toml).
"""

from segadmin.sending.service import (
    Actor,
    Checked,
    NotAllowed,
    ProductionNotConfirmed,
    ProfileTraits,
    Sent,
    SourceDisabled,
    get_profile_traits,
    get_workspace,
    list_sources,
    same_plan,
    send_batch,
    send_message,
    send_raw,
    workspace_transport,
)

__all__ = [
    "Actor",
    "Checked",
    "NotAllowed",
    "ProductionNotConfirmed",
    "ProfileTraits",
    "Sent",
    "SourceDisabled",
    "get_profile_traits",
    "get_workspace",
    "list_sources",
    "same_plan",
    "send_batch",
    "send_message",
    "send_raw",
    "workspace_transport",
]
