"""What a rule's JSON Schema plans, as rows a person reads (no Django, no HTTP).

Rules validate the whole payload (segment-api-more.md §1.4): Track, Page and Screen rules keep
their properties under ``properties.properties``, Identify and Group rules their traits under
``properties.traits``; the common schema constrains the payload itself. Nested objects and
arrays of objects are listed under dotted names (``products[].sku``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FIELDS_OF = {"TRACK": "properties", "PAGE": "properties", "SCREEN": "properties"}
FIELDS_OF |= {"IDENTIFY": "traits", "GROUP": "traits"}
MAX_DEPTH = 6


@dataclass(frozen=True)
class FieldRow:
    name: str
    type: str
    required: bool
    description: str
    allowed: str  # the enum's values, or ""
    pattern: str
    range: str  # "≥ 0", "1 to 10", "length 3 to 20"
    format: str
    depth: int


def _types(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(str(k) for k in kind)
    if isinstance(kind, str):
        return kind
    if "enum" in schema:
        return "one of the values"
    return "any"


def _bounds(low: Any, high: Any, prefix: str = "") -> str:
    if low is not None and high is not None:
        return f"{prefix}{low} to {high}"
    if low is not None:
        return f"{prefix}≥ {low}"
    if high is not None:
        return f"{prefix}≤ {high}"
    return ""


def _range(schema: Mapping[str, Any]) -> str:
    parts = [
        _bounds(schema.get("minimum"), schema.get("maximum")),
        _bounds(schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum"), "strictly "),
        _bounds(schema.get("minLength"), schema.get("maxLength"), "length "),
        _bounds(schema.get("minItems"), schema.get("maxItems"), "items "),
    ]
    return ", ".join(part for part in parts if part)


def _value(value: Any) -> str:
    return "null" if value is None else str(value)


def rows(schema: Any, *, prefix: str = "", depth: int = 0) -> list[FieldRow]:
    """One row per property of an object schema, nested ones after their parent."""
    if not isinstance(schema, Mapping) or depth > MAX_DEPTH:
        return []
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return []
    required = schema.get("required") if isinstance(schema.get("required"), list) else []
    found: list[FieldRow] = []
    for name, sub in properties.items():
        if not isinstance(sub, Mapping):
            sub = {}
        enum = sub.get("enum")
        found.append(
            FieldRow(
                name=f"{prefix}{name}",
                type=_types(sub),
                required=isinstance(required, list) and name in required,
                description=str(sub.get("description") or ""),
                allowed=", ".join(_value(v) for v in enum) if isinstance(enum, list) else "",
                pattern=str(sub.get("pattern") or ""),
                range=_range(sub),
                format=str(sub.get("format") or ""),
                depth=depth,
            )
        )
        found += rows(sub, prefix=f"{prefix}{name}.", depth=depth + 1)
        items = sub.get("items")
        if isinstance(items, Mapping):
            found += rows(items, prefix=f"{prefix}{name}[].", depth=depth + 1)
    return found


def planned_fields(rule_type: str, schema: Any) -> list[FieldRow]:
    """The properties (or traits) a rule plans; for the common schema, the payload's fields."""
    if not isinstance(schema, Mapping):
        return []
    key = FIELDS_OF.get(rule_type)
    if key is None:  # COMMON: the payload, its context, properties and traits
        return rows(schema)
    outer = schema.get("properties")
    inner = outer.get(key) if isinstance(outer, Mapping) else None
    return rows(inner)


def description_of(schema: Any) -> str:
    if isinstance(schema, Mapping):
        return str(schema.get("description") or "")
    return ""
