"""The tracking-plan reads under their first name: they live in
``segadmin.segment.client.tracking_plans`` now, and this module re-exports them for the code
that imports them from here (``segadmin.sending.plans``, ``credentials.plans``). Outside
segadmin/sending/ they are banned under both names (pyproject.toml, TID251)."""

from __future__ import annotations

from segadmin.segment.client.tracking_plans import (
    NO_PROTOCOLS,
    PAGE_SIZE,
    RULES_PAGE_SIZE,
    TrackingPlanInfo,
    get_source_settings,
    list_plan_source_ids,
    list_rules,
    list_tracking_plans,
)

__all__ = [
    "NO_PROTOCOLS",
    "PAGE_SIZE",
    "RULES_PAGE_SIZE",
    "TrackingPlanInfo",
    "get_source_settings",
    "list_plan_source_ids",
    "list_rules",
    "list_tracking_plans",
]
