"""The fake's Protocols tracking plans: plans, rules, connected sources and source settings.

Shapes follow segment-api-more.md §1 (and §0 for envelopes and pagination). Choices where
Segment is silent or unconfirmed, all "our choice":

- A token whose workspace has no Protocols (``protocols=False``) gets **403** with the error
  envelope on every ``/tracking-plans`` route; Segment's real status is unconfirmed (§0).
  ``GET /sources/{id}/settings`` still answers, with default values, as Segment documents.
- ``GET /tracking-plans/{id}/rules`` serves at most 200 rules a page whatever
  ``pagination.count`` asks (Segment's own clients read rules 200 at a time), and at most
  ``rules_per_minute`` (200) requests a minute per token; above that a 429 with Retry-After.
- A source is connected to one plan at most; connecting it elsewhere moves it.

The handler returns ``(status, payload, headers)`` or None when the path is not a plans route;
``control`` is the matching part of the ``/_fake/`` control API.
"""

from __future__ import annotations

import copy
import math
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from segadmin.segment.fake.state import encode_cursor, now_iso, pagination_of

if TYPE_CHECKING:
    from segadmin.segment.fake.state import FakeState, FakeWorkspace

ZERO_TIME = "0001-01-01T00:00:00.000Z"
PLAN_TYPES = ("ENGAGE", "LIVE", "PROPERTY_LIBRARY", "RULE_LIBRARY", "TEMPLATE")
RULE_TYPES = ("COMMON", "GROUP", "IDENTIFY", "PAGE", "SCREEN", "TRACK")
RULES_PAGE_MAX = 200
RULES_PER_MINUTE = 200
PLAN_ROUTE = re.compile(r"^/tracking-plans/([^/]+)(/rules|/sources)?$")
SETTINGS_ROUTE = re.compile(r"^/sources/([^/]+)/settings$")
DRAFT_07 = "http://json-schema.org/draft-07/schema#"


def default_settings() -> dict[str, Any]:
    """What a source without Protocols settings of its own answers: everything allowed."""
    return {
        "track": {
            "allowUnplannedEvents": True,
            "allowUnplannedEventProperties": True,
            "allowEventOnViolations": True,
            "allowPropertiesOnViolations": True,
            "commonEventOnViolations": "ALLOW",
        },
        "identify": {
            "allowTraitsOnViolations": True,
            "allowUnplannedTraits": True,
            "commonEventOnViolations": "ALLOW",
        },
        "group": {
            "allowTraitsOnViolations": True,
            "allowUnplannedTraits": True,
            "commonEventOnViolations": "ALLOW",
        },
    }


@dataclass
class FakePlan:
    id: str
    workspace_token: str
    name: str
    slug: str = ""
    description: str = ""
    type: str = "LIVE"
    resource_schema_id: str = ""
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    rules: list[dict[str, Any]] = field(default_factory=list)
    source_ids: list[str] = field(default_factory=list)

    def as_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "slug": self.slug,
            "description": self.description,
            "type": self.type,
            "resourceSchemaId": self.resource_schema_id,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


@dataclass
class PlansState:
    """Kept on FakeState as ``state.plans`` (guarded by ``state.lock``)."""

    plans: dict[str, FakePlan] = field(default_factory=dict)  # id -> plan
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)  # source id -> settings
    rule_reads: dict[str, deque[float]] = field(default_factory=dict)  # token -> times


def normalize_rule(rule: Any) -> dict[str, Any]:
    """A RuleV1 as Segment returns it, from a short spec: type and key at least."""
    if not isinstance(rule, dict):
        raise ValueError(f"a rule is a JSON object, not {rule!r}")
    kind = rule.get("type")
    if kind not in RULE_TYPES:
        raise ValueError(f"a rule's type is one of {', '.join(RULE_TYPES)}, not {kind!r}")
    stamp = now_iso()
    return {
        "key": rule.get("key"),
        "type": kind,
        "version": rule.get("version", 1),
        "jsonSchema": copy.deepcopy(rule.get("jsonSchema")),
        "createdAt": rule.get("createdAt", stamp),
        "updatedAt": rule.get("updatedAt", stamp),
        "deprecatedAt": rule.get("deprecatedAt") or ZERO_TIME,
    }


def _slot(rule: dict[str, Any]) -> tuple[str, Any, Any]:
    return (rule["type"], rule.get("key"), rule.get("version", 1))


def add_plan(
    state: FakeState,
    *,
    token: str,
    id: str | None = None,
    name: str = "Tracking plan",
    slug: str = "",
    description: str = "",
    type: str = "LIVE",
    rules: list[Any] | None = None,
    source_ids: list[str] | None = None,
) -> FakePlan:
    """Register a plan (or replace the one with this id, keeping its creation time)."""
    if type not in PLAN_TYPES:
        raise ValueError(f"a plan's type is one of {', '.join(PLAN_TYPES)}, not {type!r}")
    plan_id = id or f"tp_{uuid.uuid4().hex[:24]}"
    normalized = [normalize_rule(rule) for rule in rules or []]
    with state.lock:
        old = state.plans.plans.get(plan_id)
        plan = FakePlan(
            id=plan_id,
            workspace_token=token,
            name=name,
            slug=slug,
            description=description,
            type=type,
            resource_schema_id=old.resource_schema_id if old else f"rs_{uuid.uuid4().hex[:24]}",
            created_at=old.created_at if old else now_iso(),
            rules=normalized,
        )
        state.plans.plans[plan_id] = plan
        for source_id in source_ids or []:
            connect_source(state, plan_id, source_id)
        return plan


def change_rules(
    state: FakeState,
    plan_id: str,
    *,
    replace: list[Any] | None = None,
    upsert: list[Any] | None = None,
    remove: list[Any] | None = None,
) -> FakePlan:
    """Change a plan's rules between imports: replace them all, upsert by (type, key,
    version), or remove by (type, key, version)."""
    with state.lock:
        plan = _plan(state, plan_id)
        if replace is not None:
            plan.rules = [normalize_rule(rule) for rule in replace]
        for rule in upsert or []:
            new = normalize_rule(rule)
            plan.rules = [old for old in plan.rules if _slot(old) != _slot(new)] + [new]
        for rule in remove or []:
            gone = (rule.get("type"), rule.get("key"), rule.get("version", 1))
            plan.rules = [old for old in plan.rules if _slot(old) != gone]
        plan.updated_at = now_iso()
        return plan


def connect_source(state: FakeState, plan_id: str, source_id: str) -> None:
    with state.lock:
        plan = _plan(state, plan_id)
        for other in state.plans.plans.values():
            if source_id in other.source_ids:
                other.source_ids.remove(source_id)
        plan.source_ids.append(source_id)


def set_settings(state: FakeState, source_id: str, settings: dict[str, Any]) -> None:
    with state.lock:
        state.plans.settings[source_id] = copy.deepcopy(settings)


def plan_of_source(state: FakeState, source_id: str) -> str | None:
    with state.lock:
        for plan in state.plans.plans.values():
            if source_id in plan.source_ids:
                return plan.id
    return None


def _plan(state: FakeState, plan_id: str) -> FakePlan:
    plan = state.plans.plans.get(plan_id)
    if plan is None:
        raise KeyError(f"no tracking plan {plan_id!r}")
    return plan


# --- The Public API routes ------------------------------------------------------------------


def _error(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"errors": [{"type": kind, "message": message, **extra}]}


def _page(
    items: list[Any], key: str, query: str, *, most: int = 1000
) -> tuple[int, dict[str, Any]]:
    """One page; ``pagination.count`` and ``pagination[count]`` alike (§0)."""
    count, offset = pagination_of(query)
    if not 1 <= count <= 1000:
        return 422, _error(
            "input-validation",
            '"pagination.count" must be a number from 1 to 1000',
            field="pagination.count",
        )
    count = min(count, most)
    if offset is None or offset < 0:
        return 422, _error(
            "input-validation", '"pagination.cursor" is not valid', field="pagination.cursor"
        )
    pagination: dict[str, Any] = {"current": encode_cursor(offset), "totalEntries": len(items)}
    if offset + count < len(items):
        pagination["next"] = encode_cursor(offset + count)
    if offset:
        pagination["previous"] = encode_cursor(max(0, offset - count))
    return 200, {"data": {key: items[offset : offset + count], "pagination": pagination}}


def _rules_rate(state: FakeState, token: str, limit: int) -> str | None:
    """None when one more rules read fits this minute, else the Retry-After in seconds."""
    now = time.monotonic()
    reads = state.plans.rule_reads.setdefault(token, deque())
    while reads and now - reads[0] >= 60:
        reads.popleft()
    if len(reads) >= limit:
        return str(max(1, math.ceil(60 - (now - reads[0])))) if reads else "60"
    reads.append(now)
    return None


def handle(
    state: FakeState, workspace: FakeWorkspace, path: str, query: str, sources: list[Any]
) -> tuple[int, Any, dict[str, str]] | None:
    """Answer a Public API GET on a plans route, or None when ``path`` is not one."""
    match = SETTINGS_ROUTE.match(path)
    if match:
        source_id = unquote(match.group(1))
        if not any(source.id == source_id for source in sources):
            return 404, _error("not-found", "Source not found"), {}
        with state.lock:
            settings = state.plans.settings.get(source_id)
            settings = copy.deepcopy(settings) if workspace.protocols and settings else None
        data = {"sourceId": source_id, "settings": settings or default_settings()}
        return 200, {"data": data}, {}
    if path != "/tracking-plans" and not path.startswith("/tracking-plans/"):
        return None
    if not workspace.protocols:
        return (
            403,
            _error(
                "forbidden",
                "The specified Workspace needs to have the Protocols feature enabled.",
                status=403,
            ),
            {},
        )
    with state.lock:
        plans = [p for p in state.plans.plans.values() if p.workspace_token == workspace.token]
        if path == "/tracking-plans":
            wanted = dict(parse_qsl(query)).get("type")
            if wanted is not None and wanted not in PLAN_TYPES:
                return 422, _error("input-validation", f'"type" must be one of {PLAN_TYPES}'), {}
            listed = [p.as_api() for p in plans if wanted is None or p.type == wanted]
            return (*_page(listed, "trackingPlans", query), {})
        match = PLAN_ROUTE.match(path)
        plan_id = unquote(match.group(1)) if match else ""
        plan = next((p for p in plans if p.id == plan_id), None)
        if match is None or plan is None:
            return 404, _error("not-found", "Tracking plan not found"), {}
        tail = match.group(2)
        if tail is None:
            return 200, {"data": {"trackingPlan": plan.as_api()}}, {}
        if tail == "/rules":
            wait = _rules_rate(state, workspace.token, workspace.rules_per_minute)
            if wait is not None:
                headers = {"Retry-After": wait, "X-RateLimit-Reset": wait}
                return 429, _error("too-many-requests", "Too many requests", status=429), headers
            return (*_page(copy.deepcopy(plan.rules), "rules", query, most=RULES_PAGE_MAX), {})
        connected = [s for s in sources if s.id in plan.source_ids]
    items = [
        s.as_api(show_keys=workspace.source_admin, workspace_id=workspace.id) for s in connected
    ]
    return (*_page(items, "sources", query), {})


# --- The control API ------------------------------------------------------------------------


def control(state: FakeState, path: str, data: dict[str, Any]) -> Any:
    """POST routes under /_fake/ for plans; None when ``path`` is not one."""
    if path == "/_fake/tracking-plans":
        plan = add_plan(
            state,
            token=str(data["token"]),
            id=data.get("id"),
            name=str(data.get("name", "Tracking plan")),
            slug=str(data.get("slug", "")),
            description=str(data.get("description", "")),
            type=str(data.get("type", "LIVE")),
            rules=list(data.get("rules") or []),
            source_ids=[str(s) for s in data.get("sources") or []],
        )
        return {"id": plan.id}
    match = re.match(r"^/_fake/tracking-plans/([^/]+)/(rules|sources)$", path)
    if match and match.group(2) == "rules":
        plan = change_rules(
            state,
            unquote(match.group(1)),
            replace=data.get("rules"),
            upsert=data.get("upsert"),
            remove=data.get("remove"),
        )
        return {"id": plan.id, "rules": len(plan.rules)}
    if match:
        connect_source(state, unquote(match.group(1)), str(data["source_id"]))
        return {"connected": True}
    if path == "/_fake/source-settings":
        settings = data["settings"]
        if not isinstance(settings, dict):
            raise ValueError("settings is a JSON object")
        set_settings(state, str(data["source_id"]), settings)
        return {"set": True}
    return None


# --- The demo plan --------------------------------------------------------------------------

DEMO_PLAN_ID = "tp_demo_shop_plan"


def _prop(path: str, **schema: Any) -> dict[str, Any]:
    return {"id": f"/properties/properties/properties/{path}", "description": "", **schema}


def _track(
    key: str, description: str, props: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    inner: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        inner["required"] = required
    return {
        "type": "TRACK",
        "key": key,
        "version": 1,
        "jsonSchema": {
            "$schema": DRAFT_07,
            "type": "object",
            "description": description,
            "labels": {},
            "properties": {"context": {}, "traits": {}, "properties": inner},
            **({"required": ["properties"]} if required else {}),
        },
    }


def demo_rules() -> list[dict[str, Any]]:
    order = _track(
        "Order Completed",
        "A customer paid for an order.",
        {
            "order_id": {**_prop("order_id", type=["string"]), "description": "The order's id"},
            "total": {
                **_prop("total", type=["number"], minimum=0),
                "description": "Amount paid, taxes included",
            },
            "currency": _prop("currency", type=["string"], enum=["USD", "EUR"]),
            "coupon": _prop("coupon", type=["string", "null"]),
            "products": _prop(
                "products",
                type=["array"],
                items={
                    "id": "/properties/properties/properties/products/items",
                    "type": "object",
                    "properties": {
                        "sku": {"type": "string", "description": "Stock keeping unit"},
                        "price": {"type": "number", "minimum": 0},
                    },
                    "required": ["sku"],
                },
            ),
        },
        ["order_id"],
    )
    viewed = _track(
        "Product Viewed",
        "A customer opened a product page.",
        {
            "sku": _prop("sku", type=["string"]),
            "name": _prop("name", type=["string"]),
            "price": _prop("price", type=["number"], minimum=0),
        },
        [],
    )
    signed_up = _track(
        "Signed Up",
        "A visitor created an account.",
        {"plan": _prop("plan", type=["string"], enum=["free", "pro"])},
        ["plan"],
    )
    identify = {
        "type": "IDENTIFY",
        "key": None,
        "version": 1,
        "jsonSchema": {
            "$schema": DRAFT_07,
            "type": "object",
            "properties": {
                "context": {},
                "properties": {},
                "traits": {
                    "type": "object",
                    "properties": {
                        "email": {"type": ["string"], "format": "email"},
                        "plan": {"type": ["string"], "enum": ["free", "pro"]},
                        "age": {"type": ["integer"], "minimum": 0},
                    },
                },
            },
        },
    }
    common = {
        "type": "COMMON",
        "key": None,
        "version": 1,
        "jsonSchema": {
            "$schema": DRAFT_07,
            "type": "object",
            "properties": {
                "context": {
                    "type": "object",
                    "properties": {"app": {"type": "object"}},
                },
                "properties": {},
                "traits": {},
            },
        },
    }
    return [order, viewed, signed_up, identify, common]


def demo_settings() -> dict[str, Any]:
    """Protocols settings of the demo source: unplanned events and violations blocked,
    unplanned properties omitted, common-schema violations allowed."""
    settings = default_settings()
    settings["track"].update(
        allowUnplannedEvents=False,
        allowUnplannedEventProperties=False,
        allowEventOnViolations=False,
    )
    settings["identify"].update(allowUnplannedTraits=False)
    return settings


def seed_demo_plan(state: FakeState, token: str, source_id: str) -> str:
    add_plan(
        state,
        token=token,
        id=DEMO_PLAN_ID,
        name="Shop plan",
        slug="shop-plan",
        description="What the shop sends: orders, product views and sign-ups.",
        rules=demo_rules(),
        source_ids=[source_id],
    )
    set_settings(state, source_id, demo_settings())
    return DEMO_PLAN_ID
