"""Import a workspace's tracking plans from Segment (issue 13): the fetching half.

Everything is fetched first, through the audited workspace transport (one audit entry per
request: the list of plans, every page of rules, the connected sources, each source's
settings), with no transaction open; then the plain answers go to the credentials layer
(``credentials.plans.store_import``), which writes every plan and the import's audit event
in one short transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from segadmin.audit.log import Actor, ensure_no_transaction
from segadmin.credentials import crypto
from segadmin.credentials.models import Workspace
from segadmin.credentials.plans import (
    FetchedPlan,
    ImportReport,
    known_source_ids,
    read_rules,
    store_import,
)
from segadmin.segment.client import (
    BACKGROUND,
    ApiError,
    RetryProfile,
    SegmentRequest,
    SendResult,
    Transport,
)
from segadmin.segment.client import tracking_plans as public_plans
from segadmin.segment.plans import PlanDataInvalid
from segadmin.sending.service import workspace_transport

# Reading rules is limited to 200 requests a minute: a 429 is waited out by its Retry-After
# (up to a minute), a few times, rather than failing the import at once.
IMPORT_PROFILE = dataclasses.replace(
    BACKGROUND, name="plan-import", max_retries=3, retry_after_cap=60.0, give_up_over_cap=True
)


def _explain(error: ApiError) -> str:
    if error.kind == "rate_limited":
        return (
            f"{error.message} Segment allows 200 requests a minute for a plan's rules; "
            "the last imported rules are still used."
        )
    return error.message


def _fetch_plan(
    info: public_plans.TrackingPlanInfo,
    *,
    token: str,
    region: str,
    transport: Transport,
    ours: set[str],
) -> FetchedPlan:
    fetched = FetchedPlan(info=info)
    rules = public_plans.list_rules(
        token=token, region=region, plan_id=info.id, transport=transport
    )
    if isinstance(rules, ApiError):
        fetched.error = _explain(rules)
        return fetched
    try:
        fetched.rules = read_rules(rules)
    except PlanDataInvalid as exc:
        fetched.error = f"Segment sent a rule segadmin cannot read: {exc}"
        return fetched
    source_ids = public_plans.list_plan_source_ids(
        token=token, region=region, plan_id=info.id, transport=transport
    )
    if isinstance(source_ids, ApiError):
        fetched.error = _explain(source_ids)
        return fetched
    fetched.source_ids = source_ids
    for source_id in source_ids:
        if source_id not in ours:
            continue  # only the sources segadmin knows get the plan and its settings
        settings = public_plans.get_source_settings(
            token=token, region=region, source_id=source_id, transport=transport
        )
        if isinstance(settings, ApiError):
            fetched.error = _explain(settings)
            return fetched
        fetched.settings[source_id] = settings
    return fetched


# progress(what it is doing, in words; requests made so far)
Progress = Callable[[str, int], None]


def import_tracking_plans(
    workspace: Workspace,
    *,
    actor: Actor,
    profile: RetryProfile = IMPORT_PROFILE,
    progress: Progress | None = None,
) -> ImportReport:
    """Fetch every tracking plan of ``workspace`` and store them; one audit event sums it up.

    ``progress`` is told each step and, after every request, how many were made (the import's
    page shows it while a worker runs the import). A token that cannot be read is the report's
    error (nothing is asked or stored). TransactionOpen inside an atomic block, before
    anything is sent.
    """
    ensure_no_transaction()
    try:
        token = workspace.public_api_token()
    except (crypto.SecretUnreadable, crypto.EncryptionNotConfigured) as exc:
        return ImportReport(error=str(exc))
    audited = workspace_transport(actor=actor, workspace=workspace, profile=profile)
    made = 0
    step = "Listing the workspace's tracking plans"

    def tell(text: str) -> None:
        nonlocal step
        step = text
        if progress is not None:
            progress(step, made)

    def transport(request: SegmentRequest) -> SendResult:
        nonlocal made
        result = audited(request)
        made += 1
        tell(step)
        return result

    region = workspace.region
    tell(step)
    listed = public_plans.list_tracking_plans(token=token, region=region, transport=transport)
    if isinstance(listed, ApiError):
        return store_import(workspace, actor=actor, fetched=[], error=_explain(listed))
    ours = known_source_ids()
    fetched = []
    for number, info in enumerate(listed, 1):
        tell(
            f"Reading “{info.name or info.id}” ({number} of {len(listed)}): its rules, "
            "connected sources and their Protocols settings"
        )
        one = _fetch_plan(info, token=token, region=region, transport=transport, ours=ours)
        fetched.append(one)
    tell("Storing the plans")
    return store_import(workspace, actor=actor, fetched=fetched)
