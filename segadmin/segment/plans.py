"""Tracking plans: checking a message against a Segment Protocols plan (no Django, no HTTP).

A ``Plan`` is what the Public API returns for a tracking plan and its rules
(segment-api-more.md §1): ``Plan.from_api(tracking_plan, rules)``. ``find_rule`` picks the rule
Segment would use for a message, ``check`` lists every way the message breaks the plan (as
``Finding``s: a stable code, the field's path in the message, a severity and one sentence a
marketer reads), and ``segment_would`` says in words what the source's own Protocols settings
would do with it.

Rules hold draft-07 JSON Schemas of the *whole payload*: a Track rule's event properties sit
under ``properties.properties``, Identify and Group traits under ``properties.traits``. They are
compiled with ``jsonschema``'s ``Draft7Validator`` whatever their ``$schema`` says, so the
draft-04 style ``id`` keys Segment leaves in property schemas are unknown keywords, never base
URIs. Compiled validators are kept on the plan and, by schema text, in a process-wide cache, so
a plan rebuilt from stored rules compiles nothing twice. A schema that cannot be compiled is one
``plan_schema_invalid`` finding, not an exception.

Semantics taken from Segment's documentation, and what is decided here where it is silent:

- Track rules match ``event`` exactly, case included (Segment's "Subscription Cancelled" vs
  "subscription_cancelled"). A Track event without a rule is unplanned, also in a plan with
  no Track rules at all.
- ``context.protocols.event_version`` (an integer) selects that version of the rule. Without
  it, or when it is not an integer or not in the plan, Segment validates against the *oldest*
  version (Protocols docs, "Tracking Plan Event Versioning"); a version asked for and not found
  is also a ``plan_unknown_version`` warning. Deprecated rules are matched like the others
  (whether Segment skips them is unconfirmed) and add a ``plan_deprecated_event`` warning.
- Page and Screen rules match the call's ``name``. How Segment maps PAGE/SCREEN rule keys to
  page names is unconfirmed (its docs say page calls appear as "Page Viewed" in the Schema
  view); a rule without a key is taken to cover every call of its type. A page or screen with
  no rule has no finding of its own: Segment has no unplanned-page control.
- Identify and Group match by type alone.
- The COMMON rule checks every call but Alias (its docs speak of track, identify and page).
- Unplanned properties (Track, Page, Screen) and traits (Identify, Group) are top-level names
  the matching rule does not define; with no matching rule every name is unplanned, as in
  Segment ("everything will be considered unplanned"). They are warnings: by default Segment
  delivers them.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any, cast

import fastjsonschema
from jsonschema import Draft7Validator, FormatChecker, ValidationError
from jsonschema.exceptions import SchemaError
from referencing.exceptions import Unresolvable

from segadmin.segment.errors import Problem

ERROR, WARNING = "error", "warning"

PLAN_VIOLATION = "plan_violation"
PLAN_COMMON_VIOLATION = "plan_common_violation"
PLAN_UNPLANNED_EVENT = "plan_unplanned_event"
PLAN_UNPLANNED_PROPERTY = "plan_unplanned_property"
PLAN_UNKNOWN_VERSION = "plan_unknown_version"
PLAN_DEPRECATED_EVENT = "plan_deprecated_event"
PLAN_SCHEMA_INVALID = "plan_schema_invalid"

# Segment's zero time: "not deprecated" (segment-api-more.md §1.3).
ZERO_TIME = "0001-01-01T00:00:00.000Z"


class RuleType(StrEnum):
    TRACK = "TRACK"
    IDENTIFY = "IDENTIFY"
    GROUP = "GROUP"
    PAGE = "PAGE"
    SCREEN = "SCREEN"
    COMMON = "COMMON"


# Where each call keeps the names a rule plans (and the person edits).
FIELDS_KEY = {
    "track": "properties",
    "page": "properties",
    "screen": "properties",
    "identify": "traits",
    "group": "traits",
}
_NOUN = {"properties": "property", "traits": "trait"}


class PlanDataInvalid(ValueError):
    """Public API data that is not a tracking plan or rule; the message says what is wrong."""


@dataclass(frozen=True)
class Rule:
    """One rule of a plan as the Public API returns it (``RuleV1``).

    ``json_schema`` is kept as Segment sent it (normally an object, or None); anything that
    is not a valid schema is reported by ``check`` as ``plan_schema_invalid``.
    """

    type: RuleType
    key: str | None
    version: int
    json_schema: Any
    deprecated_at: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Rule:
        if not isinstance(data, Mapping):
            raise PlanDataInvalid("A rule must be a JSON object.")
        try:
            rule_type = RuleType(data.get("type", ""))
        except ValueError:
            raise PlanDataInvalid(
                f"A rule has the type {data.get('type')!r}; expected one of {', '.join(RuleType)}."
            ) from None
        key = data.get("key")
        if key is not None and not isinstance(key, str):
            raise PlanDataInvalid(f"A {rule_type} rule has a key that is not text: {key!r}.")
        version = data.get("version", 1)
        # The Public API types versions as numbers (Go float32), so 2.0 is version 2.
        if isinstance(version, float) and version.is_integer():
            version = int(version)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise PlanDataInvalid(
                f"The {rule_type} rule {key or ''!r} has the version {version!r}; "
                "expected a whole number from 1."
            )
        deprecated = data.get("deprecatedAt")
        if deprecated == ZERO_TIME or not deprecated:
            deprecated = None
        return cls(rule_type, key, version, data.get("jsonSchema"), deprecated)

    @property
    def label(self) -> str:
        """The rule's name in sentences: its key, or its type for keyless rules."""
        if self.key:
            return f"“{self.key}”"
        return {
            RuleType.COMMON: "the common schema",
            RuleType.IDENTIFY: "the Identify traits",
            RuleType.GROUP: "the Group traits",
        }.get(self.type, f"the {self.type.title()} rule")


# A rule's fast check is compiled once the rule has been checked this many times in the
# process: it costs about three times jsonschema's compiling, which a bulk import earns back
# within a few rows and a call screen sending one message would only pay.
FAST_AFTER = 8


@dataclass(eq=False)
class _Compiled:
    validator: Draft7Validator | None
    error: str = ""  # why the schema could not be compiled
    # The schema for the fast check, until it is compiled (None: no fast path for it).
    fast_schema: Any = None
    # A compiled yes/no check (fastjsonschema) that says True only for a message ``validator``
    # finds nothing in; None until compiled, or when the schema has something it might judge
    # otherwise.
    conforms: Callable[[Any], bool] | None = None
    checks: int = 0

    def fast_check(self, *, now: bool = False) -> Callable[[Any], bool] | None:
        """The fast check, compiled on the ``FAST_AFTER``-th call (or ``now``). Two threads
        may both compile it: the same function either way."""
        if self.conforms is None and self.fast_schema is not None:
            self.checks += 1
            if now or self.checks >= FAST_AFTER:
                self.conforms = _fast_check(self.fast_schema)
                self.fast_schema = None
        return self.conforms


@dataclass(eq=False)
class Plan:
    """A tracking plan with its rules. Build it once and reuse it: it caches its index of
    rules and their compiled validators."""

    name: str
    rules: Sequence[Rule]
    id: str = ""
    _index: dict[tuple[RuleType, str | None], list[Rule]] = field(
        default_factory=dict, init=False, repr=False
    )
    _compiled: dict[tuple[RuleType, str | None, int], _Compiled] = field(
        default_factory=dict, init=False, repr=False
    )
    _track_names: list[str] = field(default_factory=list, init=False, repr=False)
    _common: Rule | None = field(default=None, init=False, repr=False)  # its oldest version
    # The names and name patterns each rule plans, by (rule, fields key): read once.
    _names: dict[tuple[RuleType, str | None, int, str], tuple[frozenset[str], list[str]]] = field(
        default_factory=dict, init=False, repr=False
    )
    # The findings of messages checked lately, by (call type, encoded message): a bulk row is
    # checked when the worker builds it and again by the send service, and the second check
    # of the same bytes is a lookup (see ``check_cached``).
    _verdicts: OrderedDict[tuple[str, bytes], tuple[Problem, ...]] = field(
        default_factory=OrderedDict, init=False, repr=False
    )
    # The rule each (rule type, event or page name) matches when no version is asked for.
    _matches: dict[tuple[RuleType, str | None], _Match] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        self.rules = tuple(self.rules)
        for rule in self.rules:
            self._index.setdefault((rule.type, rule.key or None), []).append(rule)
        for versions in self._index.values():
            versions.sort(key=lambda rule: rule.version)
        self._track_names = [key for (kind, key) in self._index if kind is RuleType.TRACK and key]
        self._common = next(iter(self.versions(RuleType.COMMON, None)), None)

    @classmethod
    def from_api(cls, tracking_plan: Mapping[str, Any], rules: Iterable[Mapping[str, Any]]) -> Plan:
        """From a ``TrackingPlanV1`` object and the ``RuleV1`` objects of every page of
        ``GET /tracking-plans/{id}/rules``."""
        if not isinstance(tracking_plan, Mapping):
            raise PlanDataInvalid("A tracking plan must be a JSON object.")
        name = tracking_plan.get("name") or tracking_plan.get("id") or "unnamed plan"
        return cls(
            name=str(name),
            rules=[Rule.from_api(rule) for rule in rules],
            id=str(tracking_plan.get("id") or ""),
        )

    def versions(self, rule_type: RuleType, key: str | None) -> list[Rule]:
        """The rule's versions, oldest first."""
        return self._index.get((rule_type, key or None), [])

    def compiled(self, rule: Rule) -> _Compiled:
        slot = (rule.type, rule.key, rule.version)
        compiled = self._compiled.get(slot)
        if compiled is None:
            compiled = self._compiled[slot] = _compile_schema(rule.json_schema)
        return compiled


# --- Compiling schemas ----------------------------------------------------------------------

_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)


def _is_date_time(value: object) -> bool:
    """RFC 3339 date-time, as draft-07's ``format: date-time`` means and Segment's Go
    validator checks: seconds and a time zone required, on the calendar and the clock.
    (jsonschema's own check needs an extra package. Merge note: the project's date reader,
    segment/datetimes.py, accepts times without seconds, which RFC 3339 does not.)"""
    if not isinstance(value, str):
        return True  # format applies to strings only; "type" speaks for the rest
    if not _DATE_TIME.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


_FORMATS = FormatChecker(())
_FORMATS.checkers = dict(Draft7Validator.FORMAT_CHECKER.checkers)
_FORMATS.checks("date-time")(_is_date_time)


def _compile_schema(schema: Any) -> _Compiled:
    try:
        text = json.dumps(schema, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return _Compiled(None, "it is not JSON")
    return _compile(text)


@lru_cache(maxsize=4096)
def _compile(text: str) -> _Compiled:
    schema = json.loads(text)
    if schema is None:
        return _Compiled(None)  # a rule without a schema checks nothing
    if isinstance(schema, dict):
        # Draft-07 whatever "$schema" says: a draft-04 "$schema" would make "id" a base URI.
        schema = {key: value for key, value in schema.items() if key != "$schema"}
    try:
        Draft7Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(part) for part in exc.absolute_path)
        return _Compiled(None, _short(exc.message, 200) + (f" (at {where})" if where else ""))
    schema = _without_false(schema)
    return _Compiled(Draft7Validator(schema, format_checker=_FORMATS), fast_schema=schema)


# --- The fast path: a compiled yes/no check for the common, conforming message ---------------

# fastjsonschema's formats made jsonschema's (``_FORMATS``): the same date-time check, the same
# checkers for the formats jsonschema checks, and none for those it does not (fastjsonschema
# would check "hostname" or "uri" with its own patterns, which jsonschema here leaves alone).
_FAST_FORMATS: dict[str, Callable[[Any], bool]] = {
    name: (lambda value: True) for name in fastjsonschema.draft07.CodeGeneratorDraft07.FORMAT_REGEXS
}


def _format_check(func: Callable[[Any], Any], raises: Any) -> Callable[[Any], bool]:
    """``FormatChecker.conforms`` for one format, without its lookup and its FormatError
    (called for each formatted value of each message on the fast path)."""

    def conforms(value: Any) -> bool:
        try:
            return bool(func(value))
        except raises:
            return False

    return conforms


_FAST_FORMATS.update(
    {name: _format_check(func, raises) for name, (func, raises) in _FORMATS.checkers.items()}
)
_FAST_FORMATS["date-time"] = _is_date_time

# Keywords the fast check could judge otherwise than jsonschema, so a schema holding one is
# checked by jsonschema alone: "$ref" (fastjsonschema would fetch a remote one), "multipleOf"
# (fastjsonschema finds 0.3 a multiple of 0.1, jsonschema does not).
_NOT_FAST = frozenset({"$ref", "multipleOf"})


def _fast_check(schema: Any) -> Callable[[Any], bool] | None:
    """A function saying True only for a message ``schema`` holds no violation in (never
    changing it: no defaults filled in), or None when the schema is not for the fast path.
    False means "ask jsonschema": the findings in words come from jsonschema alone."""
    if _has_key(schema, _NOT_FAST):
        return None
    try:
        validate = fastjsonschema.compile(
            _end_anchors(schema),
            formats=_FAST_FORMATS,
            use_default=False,
        )
    except Exception:  # noqa: BLE001 - anything it cannot compile is jsonschema's to check
        return None

    def conforms(message: Any) -> bool:
        try:
            validate(message)
        except Exception:  # noqa: BLE001 - a violation, or a value it cannot judge
            return False
        return True

    return conforms


# Values that are data, not schemas: left as they are.
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})
# Python's "$" without MULTILINE: the end, or before a newline at the end. fastjsonschema
# rewrites each unescaped "$" of a "pattern" to "\Z" (not before that newline), where
# jsonschema keeps re.search's meaning; written out like this, there is no "$" left to rewrite.
_END = r"(?=\n?\Z)"


class _NotFast(Exception):
    """The schema is for jsonschema alone."""


def _end_anchors(schema: Any) -> Any:
    """``schema`` with each "pattern"'s unescaped ``$`` written as ``_END``; _NotFast when a
    pattern has a ``$`` inside a [...] set (fastjsonschema would rewrite that one too)."""
    if isinstance(schema, list):
        return [_end_anchors(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DATA_KEYWORDS:
            out[key] = value
        elif key == "pattern" and isinstance(value, str):
            if _dollar_in_set(value):
                raise _NotFast
            out[key] = fastjsonschema.draft04.DOLLAR_FINDER.sub(lambda _: _END, value)
        else:
            out[key] = _end_anchors(value)
    return out


def _dollar_in_set(pattern: str) -> bool:
    escaped = in_set = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            in_set = True
        elif char == "]":
            in_set = False
        elif char == "$" and in_set:
            return True
    return False


def _has_key(value: Any, keys: frozenset[str]) -> bool:
    if isinstance(value, dict):
        return any(key in keys or _has_key(item, keys) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_key(item, keys) for item in value)
    return False


# Keywords whose value is a schema, a list of schemas, or an object of schemas (draft-07).
_ONE_SCHEMA = ("items", "additionalItems", "contains", "propertyNames", "if", "then", "else", "not")
_SCHEMA_LISTS = ("items", "allOf", "anyOf", "oneOf")
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions", "dependencies")


def _without_false(schema: Any) -> Any:
    """The schema with each ``false`` sub-schema written ``{"not": {}}`` (the same meaning):
    jsonschema reports a false schema without the path of the value it refused, and a
    finding must name its field. ``additionalProperties: false`` is kept: its keyword names
    the extra fields itself."""
    if schema is False:
        return {"not": {}}
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    for key in _ONE_SCHEMA:
        if key in out and isinstance(out[key], bool | dict):
            out[key] = _without_false(out[key])
    for key in _SCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [_without_false(item) for item in out[key]]
    for key in _SCHEMA_MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {
                name: value if isinstance(value, list) else _without_false(value)
                for name, value in out[key].items()
            }
    return out


# --- Matching -------------------------------------------------------------------------------

_CALL_RULE_TYPE = {
    "track": RuleType.TRACK,
    "identify": RuleType.IDENTIFY,
    "group": RuleType.GROUP,
    "page": RuleType.PAGE,
    "screen": RuleType.SCREEN,
}


@dataclass(frozen=True)
class _Match:
    rule: Rule | None
    asked_version: object = None  # what context.protocols.event_version held, when present
    unplanned_event: str | None = None  # a Track event name with no rule


def _asked_version(message: Mapping[str, Any]) -> object:
    context = message.get("context")
    # isinstance(dict) first: the ABC check is slow, and a message's values are dicts.
    protocols = context.get("protocols") if isinstance(context, dict | Mapping) else None
    if protocols is not None and isinstance(protocols, dict | Mapping):
        return protocols.get("event_version")
    return None


_NO_MATCH = _Match(None)
# Distinct (rule type, name) matches a plan keeps (bulk rows name a few events; a file of
# unplanned names must not grow it without end).
MATCHES_KEPT = 1024


def _match(plan: Plan, call_type: str, message: Mapping[str, Any]) -> _Match:
    rule_type = _CALL_RULE_TYPE.get(call_type.lower())
    if rule_type is None:
        return _NO_MATCH
    name: str | None = None
    if rule_type is RuleType.TRACK:
        event = message.get("event")
        if not isinstance(event, str) or not event.strip():
            return _NO_MATCH  # no event name: the rules module refuses that already
        name = event
    elif rule_type in (RuleType.PAGE, RuleType.SCREEN):
        page = message.get("name")
        name = page if isinstance(page, str) else None
    asked = _asked_version(message)
    if asked is not None:
        return _match_versions(plan, rule_type, name, asked)
    # Without a version asked for, the match depends on the rule type and name alone: kept
    # on the plan (its rules never change), as a bulk job matches each row.
    slot = (rule_type, name)
    match = plan._matches.get(slot)
    if match is None:
        match = _match_versions(plan, rule_type, name, None)
        if len(plan._matches) < MATCHES_KEPT:
            plan._matches[slot] = match
    return match


def _match_versions(plan: Plan, rule_type: RuleType, name: str | None, asked: object) -> _Match:
    if rule_type is RuleType.TRACK:
        versions = plan.versions(rule_type, name)
        if not versions:
            return _Match(None, unplanned_event=name)
    elif rule_type in (RuleType.PAGE, RuleType.SCREEN):
        versions = (name and plan.versions(rule_type, name)) or plan.versions(rule_type, None)
    else:
        versions = plan.versions(rule_type, None)
        if not versions:  # a keyed Identify or Group rule still applies to every call
            versions = next(
                (rules for (kind, _), rules in plan._index.items() if kind is rule_type), []
            )
    if not versions:
        return _NO_MATCH
    if isinstance(asked, int) and not isinstance(asked, bool):
        chosen = next((rule for rule in versions if rule.version == asked), None)
        if chosen is not None:
            return _Match(chosen, asked)
    # Segment's documented fallback: no version, or one it cannot use, means the oldest.
    return _Match(versions[0], asked)


def find_rule(plan: Plan, call_type: str, message: Mapping[str, Any]) -> Rule | None:
    """The rule of ``plan`` that Segment would check this message against, or None.

    Track: the rule whose key is the ``event`` name, case-sensitively; Page/Screen: the rule
    whose key is the call's ``name``, else a keyless rule of that type (unconfirmed, see the
    module docstring); Identify/Group: the rule of that type. Among versions, the one named by
    an integer ``context.protocols.event_version``, otherwise the oldest. Never the COMMON rule.
    """
    return _match(plan, call_type, message).rule


# --- Findings -------------------------------------------------------------------------------


# A finding is a ``Problem`` (segment/errors.py), the one problem type of every entrance: ``path``
# is its ``field`` (``properties.order_id``, ``properties.products[0].sku``, ``context.userAgent``;
# "" for the whole message), ``keyword`` the JSON Schema keyword that failed ("" otherwise).
Finding = Problem


def _finding(
    code: str,
    path: str,
    severity: str,
    message: str,
    plan_name: str,
    rule_type: str | None = None,
    rule_key: str | None = None,
    rule_version: int | None = None,
    keyword: str = "",
) -> Problem:
    return Problem(
        path,
        code,
        message,
        severity=severity,
        keyword=keyword,
        plan_name=plan_name,
        rule_type=str(rule_type) if rule_type is not None else None,
        rule_key=rule_key,
        rule_version=rule_version,
    )


def _path(parts: Iterable[str | int]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _label(path: str, fields_key: str | None) -> str:
    """The field as the person knows it: without ``properties.``/``traits.`` for the object
    the call edits, the full path for the rest of the message."""
    if not path:
        return "The message"
    if fields_key and path == fields_key:
        return fields_key.capitalize()
    if fields_key and path.startswith(fields_key + "."):
        return path[len(fields_key) + 1 :]
    return path


_TYPE_WORDS = {
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "empty",
}


def _one_of(words: list[str], last: str = "or") -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {last} {words[-1]}"


def _value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _short(text: str, limit: int) -> str:
    # Sentences quote what they refuse, never a whole document.
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _s(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _sentence(error: ValidationError, label: str, plan_name: str) -> str:
    """One sentence for one jsonschema error (keywords without their own are generic)."""
    # Any JSON value the schema holds (jsonschema types it Any | Unset): each branch checks it.
    keyword, expected = error.validator, cast(Any, error.validator_value)
    if keyword == "type":
        types = expected if isinstance(expected, list) else [expected]
        return f"{label} must be {_one_of([_TYPE_WORDS.get(t, str(t)) for t in types])}"
    if keyword == "enum":
        return f"{label} must be one of: {', '.join(_value(v) for v in expected)}"
    if keyword == "const":
        return f"{label} must be {_value(expected)}"
    if keyword == "pattern":
        return f"{label} must match the pattern {expected}"
    if keyword == "format":
        if expected == "date-time":
            return f"{label} must be a date and time with a time zone, like 2024-05-01T09:30:00Z"
        return f"{label} must be a valid {expected}"
    if keyword == "minimum":
        return f"{label} must be at least {_value(expected)}"
    if keyword == "maximum":
        return f"{label} must be at most {_value(expected)}"
    if keyword == "exclusiveMinimum":
        return f"{label} must be more than {_value(expected)}"
    if keyword == "exclusiveMaximum":
        return f"{label} must be less than {_value(expected)}"
    if keyword == "multipleOf":
        return f"{label} must be a multiple of {_value(expected)}"
    if keyword == "minLength":
        return f"{label} must be at least {_s(expected, 'character')} long"
    if keyword == "maxLength":
        return f"{label} must be at most {_s(expected, 'character')} long"
    if keyword == "minItems":
        return f"{label} must have at least {_s(expected, 'item')}"
    if keyword == "maxItems":
        return f"{label} must have at most {_s(expected, 'item')}"
    if keyword == "uniqueItems":
        return f"{label} must not list the same item twice"
    if keyword == "minProperties":
        return f"{label} must have at least {_s(expected, 'field')}"
    if keyword == "maxProperties":
        return f"{label} must have at most {_s(expected, 'field')}"
    if keyword == "not" and isinstance(expected, Mapping) and set(expected) == {"pattern"}:
        return f"{label} must not match the pattern {expected['pattern']}"
    if keyword in ("anyOf", "oneOf"):
        return f"{label} does not match any of the shapes the tracking plan allows"
    if keyword in ("if", "then", "else"):
        return f"{label} does not meet a condition of the tracking plan"
    if keyword == "not" and expected == {}:  # a false schema (see _without_false)
        return f"{label} is not allowed by the tracking plan “{plan_name}”"
    return f"{label} does not match the tracking plan ({keyword})"


def _schema_findings(
    plan: Plan,
    rule: Rule,
    message: Mapping[str, Any],
    code: str,
    fields_key: str | None,
) -> list[Finding]:
    compiled = plan.compiled(rule)
    conforms = compiled.conforms or compiled.fast_check()
    if conforms is not None and conforms(message):
        return []  # the common case: nothing to say, known without jsonschema's walk
    if compiled.validator is None:
        return [_unusable(plan, rule, f"read: {compiled.error}")] if compiled.error else []

    def finding(path: str, text: str, keyword: str) -> Finding:
        return _finding(
            code, path, ERROR, text, plan.name, rule.type, rule.key, rule.version, keyword
        )

    found: list[Finding] = []
    try:
        # Field order; (is text, part) keeps list indices and names comparable.
        errors = sorted(
            compiled.validator.iter_errors(message),
            key=lambda e: [(isinstance(p, str), p) for p in e.path],
        )
        for error in errors:
            parts = list(error.absolute_path)
            if error.validator == "required" and isinstance(error.instance, Mapping):
                # jsonschema says "'x' is a required property"; name the field in the path.
                for name in error.validator_value:
                    if name not in error.instance:
                        path = _path([*parts, name])
                        if any(f.path == path and f.keyword == "required" for f in found):
                            continue
                        text = (
                            f"{_label(path, fields_key)} is required by the tracking plan "
                            f"“{plan.name}”"
                        )
                        found.append(finding(path, text, "required"))
            elif error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
                for name in _additional(error.instance, error.schema):
                    path = _path([*parts, name])
                    text = (
                        f"{_label(path, fields_key)} is not allowed by the tracking plan "
                        f"“{plan.name}”"
                    )
                    found.append(finding(path, text, "additionalProperties"))
            elif error.validator == "dependencies" and isinstance(error.instance, Mapping):
                for trigger, needs in error.validator_value.items():
                    if trigger in error.instance and isinstance(needs, list):
                        for name in needs:
                            if name not in error.instance:
                                path = _path([*parts, name])
                                text = (
                                    f"{_label(path, fields_key)} is required with "
                                    f"{_label(_path([*parts, trigger]), fields_key)} by the "
                                    f"tracking plan “{plan.name}”"
                                )
                                found.append(finding(path, text, "dependencies"))
            else:
                path = _path(parts)
                found.append(
                    finding(
                        path,
                        _sentence(error, _label(path, fields_key), plan.name),
                        error.validator,
                    )
                )
    except (Unresolvable, RecursionError) as exc:
        # A $ref that points outside the rule, or one that loops: the schema is unusable.
        reason = "a $ref cannot be resolved" if isinstance(exc, Unresolvable) else "it loops"
        return [_unusable(plan, rule, f"used: {reason}")]
    return found


def _unusable(plan: Plan, rule: Rule, why: str) -> Finding:
    """A rule's schema that segadmin cannot check with: a warning, so the plan's mistake
    does not stop every message of that event."""
    return _finding(
        PLAN_SCHEMA_INVALID,
        "",
        WARNING,
        f"The tracking plan “{plan.name}” has a schema for {rule.label} (version "
        f"{rule.version}) that cannot be {why}. The message was not checked against it.",
        plan.name,
        rule.type,
        rule.key,
        rule.version,
    )


def _additional(instance: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    planned = schema.get("properties") or {}
    patterns = schema.get("patternProperties") or {}
    return [name for name in instance if name not in planned and not _matches_any(patterns, name)]


def _matches_any(patterns: Iterable[str], name: str) -> bool:
    for pattern in patterns:
        try:
            if re.search(pattern, name):
                return True
        except (re.error, TypeError):
            continue  # an unreadable pattern plans nothing (the schema's own finding says why)
    return False


def _planned_names(rule: Rule, fields_key: str) -> tuple[frozenset[str], list[str]]:
    """The names (and name patterns) a rule plans under ``properties.<fields_key>``."""
    inner = _dig(rule.json_schema, "properties", fields_key)
    names = _dig(inner, "properties")
    patterns = _dig(inner, "patternProperties")
    return (
        frozenset(names) if isinstance(names, Mapping) else frozenset(),
        list(patterns) if isinstance(patterns, Mapping) else [],
    )


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _unplanned_findings(
    plan: Plan, call_type: str, match: _Match, message: Mapping[str, Any], taken: set[str]
) -> list[Finding]:
    fields_key = FIELDS_KEY[call_type]
    values = message.get(fields_key)
    if not isinstance(values, dict | Mapping) or not values:
        return []
    rule = match.rule
    names: frozenset[str] = frozenset()
    patterns: list[str] = []
    if rule is not None:
        slot = (rule.type, rule.key, rule.version, fields_key)
        planned = plan._names.get(slot)
        if planned is None:
            planned = plan._names[slot] = _planned_names(rule, fields_key)
        names, patterns = planned
    unplanned = [
        name
        for name in values
        if name not in names
        and f"{fields_key}.{name}" not in taken
        and not _matches_any(patterns, name)
    ]
    if not unplanned:
        return []  # the common case: every name planned
    noun = _NOUN[fields_key]
    if call_type == "track":
        where = f"of “{message.get('event')}”"
    elif call_type in ("page", "screen"):
        where = f"of {rule.label}" if rule is not None else f"of {call_type.title()} calls"
    else:
        where = f"for {call_type.title()}"
    found = []
    for name in unplanned:
        found.append(
            _finding(
                PLAN_UNPLANNED_PROPERTY,
                f"{fields_key}.{name}",
                WARNING,
                f"{name} is not a planned {noun} {where} in the tracking plan “{plan.name}”",
                plan.name,
                rule.type if rule else None,
                rule.key if rule else None,
                rule.version if rule else None,
            )
        )
    return found


def _unplanned_event(plan: Plan, event: str) -> Finding:
    text = f"“{event}” is not an event in the tracking plan “{plan.name}”"
    same = [name for name in plan._track_names if name.casefold() == event.casefold()]
    close = same or difflib.get_close_matches(event, plan._track_names, n=1, cutoff=0.8)
    if close:
        text += f" (did you mean “{close[0]}”?)"
    return _finding(PLAN_UNPLANNED_EVENT, "event", ERROR, text, plan.name, RuleType.TRACK, event)


def _version_findings(plan: Plan, call_type: str, match: _Match) -> list[Finding]:
    rule = match.rule
    if rule is None or (match.asked_version is None and not rule.deprecated_at):
        return []  # the common case: nothing to say
    found = []
    where = {"track": "event", "page": "name", "screen": "name"}.get(call_type, "")
    asked = match.asked_version
    if asked is not None and asked != rule.version:
        path = "context.protocols.event_version"
        if isinstance(asked, int) and not isinstance(asked, bool):
            text = f"Version {asked} of {rule.label} is not in the tracking plan “{plan.name}”"
        else:
            text = f"{path} must be a whole number, not {_short(_value(asked), 40)}"
        text += f"; Segment checks it against version {rule.version}"
        found.append(
            _finding(
                PLAN_UNKNOWN_VERSION,
                path,
                WARNING,
                text,
                plan.name,
                rule.type,
                rule.key,
                rule.version,
            )
        )
    if rule.deprecated_at:
        found.append(
            _finding(
                PLAN_DEPRECATED_EVENT,
                where,
                WARNING,
                f"{rule.label[0].upper()}{rule.label[1:]} (version {rule.version}) is deprecated "
                f"in the tracking plan “{plan.name}” since {rule.deprecated_at[:10]}",
                plan.name,
                rule.type,
                rule.key,
                rule.version,
            )
        )
    return found


def check(plan: Plan, call_type: str, message: Mapping[str, Any]) -> list[Finding]:
    """Every way ``message`` (the whole payload, as it will be sent) breaks ``plan``.

    In order: an unplanned Track event (``plan_unplanned_event``, error) or the version and
    deprecation warnings of the matching rule; the rule's JSON Schema violations
    (``plan_violation``, errors); unplanned property or trait names (``plan_unplanned_property``,
    warnings; a name the rule's ``additionalProperties: false`` already refuses is not repeated);
    the COMMON rule's violations (``plan_common_violation``, errors). A schema that cannot be
    used is a ``plan_schema_invalid`` warning.
    """
    call_type = call_type.lower()
    if not isinstance(message, dict | Mapping):
        return []
    fields_key = FIELDS_KEY.get(call_type)
    match = _match(plan, call_type, message)
    found: list[Finding] = []
    if match.unplanned_event is not None:
        found.append(_unplanned_event(plan, match.unplanned_event))
    if match.rule is not None and (match.asked_version is not None or match.rule.deprecated_at):
        found += _version_findings(plan, call_type, match)
    if match.rule is not None:
        found += _schema_findings(plan, match.rule, message, PLAN_VIOLATION, fields_key)
    # Names are unplanned against a rule, against an unplanned event (it plans nothing), and
    # for Identify and Group without a rule; Page and Screen without a rule are not judged.
    if fields_key is not None and (
        match.rule is not None
        or match.unplanned_event is not None
        or call_type in ("identify", "group")
    ):
        taken = {f.path for f in found if f.keyword == "additionalProperties"} if found else set()
        found += _unplanned_findings(plan, call_type, match, message, taken)
    if plan._common is not None and call_type in _CALL_RULE_TYPE:  # every call but Alias
        found += _schema_findings(plan, plan._common, message, PLAN_COMMON_VIOLATION, fields_key)
    return found


# Two chunks of bulk rows (one being built while the other is sent), and some to spare.
VERDICTS_KEPT = 16_384


def check_cached(
    plan: Plan, call_type: str, message: Mapping[str, Any], key: bytes
) -> list[Finding]:
    """``check`` remembered by ``key``, the message's exact encoding (the caller's): the same
    bytes always get the same findings from the same plan."""
    slot = (call_type.lower(), key)
    found = plan._verdicts.get(slot)
    if found is None:
        found = tuple(check(plan, call_type, message))
        plan._verdicts[slot] = found
        if len(plan._verdicts) > VERDICTS_KEPT:
            plan._verdicts.popitem(last=False)
    return list(found)


# --- What Segment's own Protocols settings would do ------------------------------------------

_SETTINGS_KEYS = {
    # call: (unplanned names allowed, event allowed on violations, names allowed on violations)
    "track": (
        "allowUnplannedEventProperties",
        "allowEventOnViolations",
        "allowPropertiesOnViolations",
    ),
    "identify": ("allowUnplannedTraits", None, "allowTraitsOnViolations"),
    "group": ("allowUnplannedTraits", None, "allowTraitsOnViolations"),
}


def _settings_for(settings: Mapping[str, Any], call_type: str) -> Mapping[str, Any]:
    # Accept the whole GET /sources/{id}/settings answer or only its "settings" object.
    if isinstance(settings.get("data"), Mapping):
        settings = settings["data"]
    if isinstance(settings.get("settings"), Mapping):
        settings = settings["settings"]
    section = settings.get(call_type)
    return section if isinstance(section, Mapping) else {}


def _top_name(path: str, fields_key: str | None) -> str | None:
    """The property or trait that holds ``path`` (what Segment would omit), if any."""
    if not fields_key or not path.startswith(fields_key + "."):
        return None
    rest = path[len(fields_key) + 1 :]
    return re.split(r"[.\[]", rest, maxsplit=1)[0] or None


def segment_would(settings: Mapping[str, Any], call_type: str, findings: Iterable[Finding]) -> str:
    """What the source's Protocols settings (``GET /sources/{id}/settings``) would do with a
    message that has these findings, in one sentence.

    Segment's order (Protocols docs, "Order of Priority"): the standard controls first — an
    unplanned Track event is dropped when ``allowUnplannedEvents`` is false; unplanned names
    are omitted when ``allowUnplannedEventProperties``/``allowUnplannedTraits`` is false; the
    rule's violations drop the event when ``allowEventOnViolations`` is false (Track), or omit
    the offending properties/traits when ``allowPropertiesOnViolations``/
    ``allowTraitsOnViolations`` is false — then the common schema's violations, among what
    survived, against ``commonEventOnViolations`` (ALLOW, BLOCK, OMIT_PROPERTIES/OMIT_TRAITS).
    Missing settings allow, as Segment's defaults do.

    Decided here where Segment's docs are silent: a name that a rule's
    ``additionalProperties: false`` refuses counts as unplanned too, and omitting it first
    removes that violation; a violation that no omission can remove (a required property that
    is missing, a field outside properties/traits such as ``context.userAgent``) is delivered
    as a violation under an Omit setting; Page and Screen calls, which have no Protocols
    controls, are always delivered. Only JSON Schema violations are counted as violations.
    """
    call_type = call_type.lower()
    findings = list(findings)
    section = _settings_for(settings, call_type)
    fields_key = FIELDS_KEY.get(call_type)
    keys = _SETTINGS_KEYS.get(call_type)
    if keys is None:  # Page, Screen, Alias: Segment has no controls for them
        count = sum(f.code in (PLAN_VIOLATION, PLAN_COMMON_VIOLATION) for f in findings)
        return _deliver([], count)
    unplanned_key, event_key, names_key = keys

    if any(f.code == PLAN_UNPLANNED_EVENT for f in findings) and not section.get(
        "allowUnplannedEvents", True
    ):
        return "Segment would drop this event"

    omitted: list[str] = []

    def omit(name: str | None) -> None:
        if name and name not in omitted:
            omitted.append(name)

    unplanned = [
        _top_name(f.path, fields_key)
        for f in findings
        if f.code == PLAN_UNPLANNED_PROPERTY
        or (
            f.code == PLAN_VIOLATION
            and f.keyword == "additionalProperties"
            and f.path == f"{fields_key}.{_top_name(f.path, fields_key)}"
        )
    ]
    if not section.get(unplanned_key, True):
        for name in unplanned:
            omit(name)

    def surviving(code: str) -> list[Finding]:
        return [
            f for f in findings if f.code == code and _top_name(f.path, fields_key) not in omitted
        ]

    violations = surviving(PLAN_VIOLATION)
    if violations and event_key and not section.get(event_key, True):
        return "Segment would drop this event"
    remaining = []
    for finding in violations:
        name = _top_name(finding.path, fields_key)
        if not section.get(names_key, True) and _omittable(finding, name, fields_key):
            omit(name)
        else:
            remaining.append(finding)

    common = surviving(PLAN_COMMON_VIOLATION)
    action = str(section.get("commonEventOnViolations", "ALLOW")).upper()
    if common and action == "BLOCK":
        return "Segment would drop this event"
    for finding in common:
        name = _top_name(finding.path, fields_key)
        if action.startswith("OMIT") and _omittable(finding, name, fields_key):
            omit(name)
        else:
            remaining.append(finding)
    return _deliver(omitted, len(remaining))


def _omittable(finding: Finding, name: str | None, fields_key: str | None) -> bool:
    """Whether omitting a property or trait removes this violation: not when it is outside
    them, nor when it is that very name missing (a missing nested field omits its holder)."""
    if name is None:
        return False
    return not (finding.keyword == "required" and finding.path == f"{fields_key}.{name}")


def _deliver(omitted: list[str], violations: int) -> str:
    if omitted:
        text = f"Segment would omit {_one_of(omitted, 'and')}"
        if violations:
            text += f" and deliver it with {_s(violations, 'violation')}"
        return text
    if violations:
        return f"Segment would deliver it with {_s(violations, 'violation')}"
    return "Segment would deliver it"
