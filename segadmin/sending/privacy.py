"""Privacy requests through the sending layer (issue 15): regulations and suppressions.

Each create is one audited request of at most 5,000 IDs, sent with the workspace's token and
never retried by the transport (Segment has no idempotency key for regulations): the caller
records the chunk as leaving before calling ``send_regulation`` and its result after, so a
chunk is sent at most once. The IDs named are put in the audit's message index (one row per
ID, call type ``privacy``), so each user's lookup page finds the request.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from segadmin.audit.index import IndexedMessage, key
from segadmin.audit.log import Actor, ensure_no_transaction
from segadmin.audit.models import AuditEntry
from segadmin.credentials.models import Workspace
from segadmin.segment.client import INTERACTIVE, ApiError
from segadmin.segment.client import regulations as client_regulations
from segadmin.segment.client.regulations import (
    Created,
    CreateFailed,
    RegulationStatus,
    Suppressed,
)
from segadmin.sending.service import _send, workspace_transport

# One attempt: a create that timed out may have been taken, and must not leave twice unseen.
ONCE = dataclasses.replace(INTERACTIVE, name="regulation", max_retries=0, read_timeout=30.0)
INDEX_CALL_TYPE = "privacy"


@dataclass(frozen=True)
class RegulationSent:
    entry: AuditEntry  # the create request's audit entry, its outcome recorded
    answer: Created | CreateFailed


def index_of(subject_type: str, subject_ids: list[str]) -> list[IndexedMessage]:
    """The message-index rows for the IDs a privacy request names (user or anonymous IDs)."""
    anonymous = subject_type == "ANONYMOUS_ID"
    return [
        IndexedMessage(
            position=position,
            call_type=INDEX_CALL_TYPE,
            user_id="" if anonymous else key(value),
            anonymous_id=key(value) if anonymous else "",
        )
        for position, value in enumerate(subject_ids)
    ]


def send_regulation(
    *,
    actor: Actor,
    workspace: Workspace,
    source_id: str | None,
    regulation_type: str,
    subject_type: str,
    subject_ids: list[str],
) -> RegulationSent:
    """Create one regulation (``POST /regulations`` or ``/regulations/sources/{id}``) of at
    most 5,000 IDs, recorded. SecretUnreadable / TransactionOpen before anything is recorded."""
    ensure_no_transaction()
    request = client_regulations.regulation_request(
        token=workspace.public_api_token(),
        region=workspace.region,
        source_id=source_id,
        regulation_type=regulation_type,
        subject_type=subject_type,
        subject_ids=subject_ids,
    )
    sent: list[AuditEntry] = []

    def transport(request: client_regulations.SegmentRequest) -> client_regulations.SendResult:
        done = _send(
            actor=actor,
            request=request,
            profile=ONCE,
            workspace=workspace,
            index=index_of(subject_type, subject_ids),
        )
        sent.append(done.entry)
        return done.result

    answer = client_regulations.create_regulation(request, transport=transport)
    return RegulationSent(entry=sent[0], answer=answer)


def get_regulation(
    *, actor: Actor, workspace: Workspace, regulate_id: str
) -> RegulationStatus | ApiError:
    """One regulation's status as Segment reports it (``GET /regulations/{id}``), recorded."""
    ensure_no_transaction()
    return client_regulations.get_regulation(
        token=workspace.public_api_token(),
        region=workspace.region,
        regulate_id=regulate_id,
        transport=workspace_transport(actor=actor, workspace=workspace),
    )


def list_suppressions(*, actor: Actor, workspace: Workspace) -> list[Suppressed] | ApiError:
    """The workspace's current suppressions (``GET /suppressions``), each page recorded."""
    ensure_no_transaction()
    return client_regulations.list_suppressions(
        token=workspace.public_api_token(),
        region=workspace.region,
        transport=workspace_transport(actor=actor, workspace=workspace),
    )
