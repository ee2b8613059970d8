"""The rules of what may be sent: one list, below every screen (no Django models, no HTTP).

``check(call_type, message)`` returns every ``Problem`` of a message exactly as it will be
sent: what Segment would answer 200 to and then drop silently (segment-api.md §4 and §5: ids,
event name, objects, message ID, size…), what breaks Segment's reserved fields (§7: a revenue
that is not a number, a currency that is not ISO 4217, a ``createdAt`` that is not on the
calendar, an ``address`` that is not an object…), and date-like text that is not a real
date, or a date-time without a time zone, anywhere in traits or properties. Each problem has
a stable code, the path it concerns, a severity and one sentence; errors refuse the message,
warnings (an email that does not look like an address) are shown and do not block.

Every entrance asks this module: the call forms (and so Edit and send and Fix traits), Send
again and bulk jobs through the send service's ``validate_message``/``validate_batch``, the
bulk dry run through the same plan as the job, and Make an API call, which shows the findings
for a Tracking API body as warnings and still sends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from segadmin.segment import datetimes, plans
from segadmin.segment.errors import Problem
from segadmin.segment.messages import (
    CALL_TYPES,
    MAX_MESSAGE_BYTES,
    MAX_MESSAGE_ID_CHARS,
    MAX_PROPERTIES,
    encode,
    message_size,
)
from segadmin.segment.values import quoted

ERROR, WARNING = "error", "warning"

# --- Reserved fields and their types (segment-api.md §7) ------------------------------------

NUMBER, TEXT, TEXT_OR_NUMBER, DATE, OBJECT, CURRENCY, EMAIL = (
    "number",
    "text",
    "text or number",
    "date",
    "object",
    "currency",
    "email",
)


@dataclass(frozen=True)
class Field:
    """A reserved field's type. ``label`` names it in sentences (Track's "Revenue"); ``parts``
    are the typed parts of an object; ``nullable``: null is allowed (it unsets a trait)."""

    kind: str
    label: str = ""
    parts: tuple[tuple[str, Field], ...] = ()
    nullable: bool = True


_ADDRESS = Field(
    OBJECT,
    parts=tuple(
        (name, Field(TEXT))
        for name in ("street", "city", "state", "postalCode", "postal_code", "country")
    ),
)
_COMPANY = Field(
    OBJECT,
    parts=(
        ("name", Field(TEXT)),
        ("id", Field(TEXT_OR_NUMBER)),
        ("industry", Field(TEXT)),
        ("employee_count", Field(NUMBER)),
        ("plan", Field(TEXT)),
    ),
)

RESERVED: dict[str, dict[str, Field]] = {
    "identify": {
        "createdAt": Field(DATE),
        "created_at": Field(DATE),
        "age": Field(NUMBER),
        "birthday": Field(DATE),
        "address": _ADDRESS,
        "company": _COMPANY,
        "email": Field(EMAIL),
    },
    "group": {
        "createdAt": Field(DATE),
        "created_at": Field(DATE),
        "address": _ADDRESS,
        "email": Field(EMAIL),
    },
    "track": {
        "revenue": Field(NUMBER, label="Revenue", nullable=False),
        "value": Field(NUMBER, label="Value", nullable=False),
        "currency": Field(CURRENCY, label="Currency", nullable=False),
    },
}
FIELDS_KEY = {
    "identify": "traits",
    "group": "traits",
    "track": "properties",
    "page": "properties",
    "screen": "properties",
}

_ID_LABELS = {
    "userId": "User ID",
    "anonymousId": "Anonymous ID",
    "groupId": "Group ID",
    "previousId": "Previous ID",
}
_OBJECT_LABELS = {
    "traits": "Traits",
    "properties": "Properties",
    "context": "Context",
    "integrations": "Integrations",
}


@cache
def currency_codes() -> frozenset[str]:
    """ISO 4217 codes from pycountry's maintained list (read on first use)."""
    import pycountry

    return frozenset(c.alpha_3 for c in pycountry.currencies)


def is_currency(code: Any) -> bool:
    return isinstance(code, str) and code in currency_codes()


# "Looks like an address": something, one @, a domain with a dot, no spaces. Only a warning
# hangs on it, so it is deliberately loose (quoted local parts and IDNs pass).
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")


def looks_like_email(value: Any) -> bool:
    return isinstance(value, str) and _EMAIL.fullmatch(value) is not None


# --- Tracking plans ------------------------------------------------------------------------

BLOCK, WARN, ALLOW = "block", "warn", "allow"
# The plan findings that break the plan (the rest are notes: unplanned names, versions...).
VIOLATION_CODES = frozenset(
    {plans.PLAN_VIOLATION, plans.PLAN_COMMON_VIOLATION, plans.PLAN_UNPLANNED_EVENT}
)


@dataclass(frozen=True)
class PlanCheck:
    """A source's tracking plan and how segadmin enforces it, handed in by the caller (this
    module knows no Django models). ``enforcement``: "block" (violations are errors) or
    "warn" (they are warnings: sent, and listed). ``unplanned_events``: "block", "warn" or
    "allow" (not mentioned). ``settings``: the source's Protocols settings, for
    ``segment_would``. ``revision`` is the stored plan's, for the record."""

    plan: plans.Plan
    enforcement: str = BLOCK
    unplanned_events: str = BLOCK
    settings: dict[str, Any] = field(default_factory=dict)
    revision: int = 1

    def segment_would(self, call_type: str, message: dict[str, Any]) -> str:
        """What Segment's own Protocols settings for the source would do with ``message``, in
        one sentence. From the plan's own findings, not what segadmin's enforcement made of
        them: an unplanned event segadmin allows (and so does not mention) is still one that
        Segment drops when the source's settings say so."""
        found = _findings(self, call_type, message)
        return plans.segment_would(self.settings or {}, call_type, found)


def plan_problems(
    plan: PlanCheck, call_type: str, message: dict[str, Any], *, cached: bool = True
) -> list[Problem]:
    """The plan's findings as problems, their severity set by the source's enforcement:
    under Block a violation is an error (refused), under Warn a warning (sent and listed);
    an unplanned event follows its own setting; the engine's warnings stay warnings.

    ``cached``: remember the findings by the message's encoding (a call screen's form checks
    a message and the send service checks it again). ``cached=False`` for a caller that
    checks each message once and hands the verdict on (the bulk worker, ``sending.Checked``):
    no encoding, no lookup."""
    findings = _findings(plan, call_type, message, cached=cached)
    if not findings:
        return []  # the common case: a conforming message
    # An unplanned event is one problem: the engine also names each of its properties as
    # unplanned (what Segment would omit, see ``PlanCheck.segment_would``), which would bury
    # the one thing to fix under a line per property.
    unplanned_event = any(f.code == plans.PLAN_UNPLANNED_EVENT for f in findings)
    found = []
    for finding in findings:
        if unplanned_event and finding.code == plans.PLAN_UNPLANNED_PROPERTY:
            continue
        severity = finding.severity
        if finding.code == plans.PLAN_UNPLANNED_EVENT:
            if plan.unplanned_events == ALLOW:
                continue
            severity = ERROR if plan.unplanned_events == BLOCK else WARNING
        elif finding.code in VIOLATION_CODES and plan.enforcement == WARN:
            severity = WARNING
        if severity != finding.severity:
            finding = replace(finding, severity=severity)
        found.append(finding)
    return found


def _findings(
    plan: PlanCheck, call_type: str, message: dict[str, Any], *, cached: bool = True
) -> list[Problem]:
    """The plan's own findings on ``message`` (``plans.check``), remembered by its encoding
    unless ``cached`` is False."""
    if not cached:
        return plans.check(plan.plan, call_type, message)
    try:
        key = encode(message)
    except (TypeError, ValueError, RecursionError):
        return plans.check(plan.plan, call_type, message)  # refused by the rules anyway
    return plans.check_cached(plan.plan, call_type, message, key)


def plan_violations(problems: Iterable[Problem]) -> list[Problem]:
    """The problems that break a tracking plan (whatever the enforcement made of them)."""
    return [p for p in problems if p.code in VIOLATION_CODES]


# --- The checks -----------------------------------------------------------------------------


def _blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


def _check_id(message: dict[str, Any], key: str, problems: list[Problem]) -> bool:
    """Checks an id key when present; True when it holds a usable id."""
    value = message.get(key)
    label = _ID_LABELS[key]
    if value is None:
        return False
    if not isinstance(value, str):
        problems.append(
            Problem(key, "id_not_string", f'{label} must be text, e.g. "42" rather than 42.')
        )
        return False
    if _blank(value):
        problems.append(Problem(key, "id_empty", f"{label} is blank: fill it in or leave it out."))
        return False
    return True


def _check_text(
    message: dict[str, Any], key: str, label: str, code: str, problems: list[Problem]
) -> None:
    value = message.get(key)
    if value is None:
        return
    if not isinstance(value, str):
        problems.append(Problem(key, code, f"{label} must be text."))
    elif _blank(value):
        problems.append(
            Problem(key, f"{key}_empty", f"{label} is blank: fill it in or leave it out.")
        )


def _check_timestamp(value: Any, problems: list[Problem]) -> None:
    if not isinstance(value, str):
        problems.append(
            Problem(
                "timestamp",
                "timestamp_invalid",
                f"Timestamp must be an ISO-8601 date-time text, such as {datetimes.EXAMPLE}.",
            )
        )
        return
    try:
        datetimes.parse_instant(value)
    except datetimes.DateTimeInvalid as exc:
        code = "timestamp_naive" if exc.code == "datetime_naive" else "timestamp_invalid"
        problems.append(Problem("timestamp", code, exc.message))


def _check_date(path: str, name: str, value: Any, problems: list[Problem]) -> None:
    if not isinstance(value, str):
        problems.append(
            Problem(
                path,
                "datetime_invalid",
                f"{name} must be an ISO-8601 date or date-time text, such as 1990-05-04 or "
                f"{datetimes.EXAMPLE}.",
            )
        )
        return
    problem = datetimes.date_problem(value)
    if problem is not None:
        problems.append(Problem(path, problem.code, problem.message))


def _check_reserved(
    path: str, name: str, field: Field, value: Any, problems: list[Problem]
) -> None:
    """One reserved field (``name`` as a person knows it: "age", "company.employee_count")."""
    shown = field.label or name
    if value is None:
        if not field.nullable:
            what = "an ISO 4217 code" if field.kind == CURRENCY else "a number"
            problems.append(
                Problem(path, f"not_{field.kind}", f"{shown} must be {what}, not null.")
            )
        return
    kind = field.kind
    if kind == NUMBER:
        if not isinstance(value, int | float) or isinstance(value, bool):
            example = "19.99" if field.label else "42"
            problems.append(
                Problem(
                    path,
                    "not_number",
                    f"{shown} must be a number, like {example} (not text or true/false).",
                )
            )
    elif kind == TEXT:
        if not isinstance(value, str):
            problems.append(Problem(path, "not_text", f"{shown} must be text."))
    elif kind == TEXT_OR_NUMBER:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            problems.append(Problem(path, "not_text", f"{shown} must be text or a number."))
    elif kind == DATE:
        _check_date(path, shown, value, problems)
    elif kind == CURRENCY:
        if not is_currency(value):
            problems.append(
                Problem(
                    path,
                    "currency_invalid",
                    f"Currency {quoted(value)} is not an ISO 4217 code such as USD, EUR or GBP.",
                )
            )
    elif kind == EMAIL:
        if not looks_like_email(value):
            problems.append(
                Problem(
                    path,
                    "email_invalid",
                    f"{quoted(value)} does not look like an email address: check it before "
                    "sending.",
                    severity=WARNING,
                )
            )
    elif kind == OBJECT:
        if not isinstance(value, dict):
            parts = ", ".join(part for part, _ in field.parts)
            problems.append(
                Problem(path, "not_object", f"{shown} must be an object of its parts ({parts}).")
            )
            return
        parts_by_name = dict(field.parts)
        for part, part_value in value.items():
            part_field = parts_by_name.get(part)
            if part_field is not None:
                _check_reserved(
                    f"{path}.{part}", f"{name}.{part}", part_field, part_value, problems
                )
            else:
                _check_values(f"{path}.{part}", part_value, problems)


def _child_path(path: str, key: Any) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}"


def _check_text_date(path: str, text: str, problems: list[Problem]) -> None:
    if datetimes.looks_like_date(text):
        problem = datetimes.date_problem(text)
        if problem is not None:
            problems.append(Problem(path, problem.code, problem.message))


def _check_values(path: str, value: Any, problems: list[Problem]) -> None:
    """Date-like text anywhere under ``value`` must be a real date, or a date-time with a time
    zone. Walked with a stack, not recursion: a deep value must not crash the check."""
    if isinstance(value, str):
        _check_text_date(path, value, problems)
        return
    if not isinstance(value, dict | list):
        return
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            _check_text_date(where, item, problems)
        elif isinstance(item, dict):
            stack.extend((_child_path(where, k), v) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((_child_path(where, i), v) for i, v in reversed(list(enumerate(item))))


def check_fields(call_type: str, fields: dict[str, Any]) -> list[Problem]:
    """The problems of a message's traits or properties alone: what ``check`` finds in them.
    Bulk asks this for rows whose other keys it built and checked itself."""
    problems: list[Problem] = []
    _check_fields(call_type, FIELDS_KEY[call_type], fields, problems)
    return problems


def _check_fields(
    call_type: str, key: str, fields: dict[str, Any], problems: list[Problem]
) -> None:
    reserved = RESERVED.get(call_type, {})
    for name, value in fields.items():
        kind = type(value)
        field = reserved.get(name)
        if field is not None:
            # An email that looks like one: what _check_reserved finds in it is nothing.
            if field.kind == EMAIL and kind is str and _EMAIL.fullmatch(value) is not None:
                continue
            _check_reserved(f"{key}.{name}", name, field, value, problems)
            continue
        # What _check_values decides at once, without building the path (a bulk import asks
        # this of every cell): text that is not shaped like a date, or a real date (its
        # problem is cached: a date-time column's cells were just read by the same reader),
        # numbers, booleans, null.
        if kind is str:
            if not datetimes.looks_like_date(value) or datetimes.date_problem(value) is None:
                continue
        elif kind is int or kind is float or kind is bool or value is None:
            continue
        _check_values(f"{key}.{name}", value, problems)


def check(call_type: Any, message: Any, plan: PlanCheck | None = None) -> list[Problem]:
    """Every problem of ``message`` sent as a ``call_type`` call, errors and warnings, in the
    order of the message's keys. ``message["type"]``, when present, must agree. With ``plan``
    (the source's tracking plan and enforcement), the plan's findings follow (``plan_problems``)."""
    if not isinstance(message, dict):
        return [Problem("", "message_not_object", "A message must be a JSON object.")]
    problems = _check(call_type, message)
    if plan is not None and call_type in CALL_TYPES:
        problems += plan_problems(plan, call_type, message)
    return problems


def _check(call_type: Any, message: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    if call_type not in CALL_TYPES or message.get("type", call_type) != call_type:
        problems.append(
            Problem(
                "type",
                "type_invalid",
                "Call type must be one of identify, track, page, screen, group or alias.",
            )
        )

    if call_type == "alias":
        if not _check_id(message, "userId", problems) and message.get("userId") is None:
            problems.append(Problem("userId", "no_user_id", "Add the User ID to alias to."))
        if not _check_id(message, "previousId", problems) and message.get("previousId") is None:
            problems.append(
                Problem("previousId", "no_previous_id", "Add the Previous ID to alias from.")
            )
        _check_id(message, "anonymousId", problems)
    else:
        has_user = _check_id(message, "userId", problems)
        has_anon = _check_id(message, "anonymousId", problems)
        if (
            not has_user
            and not has_anon
            and all(message.get(k) is None for k in ("userId", "anonymousId"))
        ):
            problems.append(
                Problem("userId", "no_user_anon_id", "Add a User ID or an Anonymous ID.")
            )

    if call_type == "track":
        event = message.get("event")
        if event is None or _blank(event):
            problems.append(Problem("event", "event_not_defined", "Add an Event Name."))
        elif not isinstance(event, str):
            problems.append(Problem("event", "event_not_string", "Event Name must be text."))
    if call_type in ("page", "screen"):
        _check_text(message, "name", "Name", "name_not_string", problems)
        _check_text(message, "category", "Category", "category_not_string", problems)
    group_ok = call_type == "group" and _check_id(message, "groupId", problems)
    if call_type == "group" and not group_ok and message.get("groupId") is None:
        problems.append(Problem("groupId", "no_group_id", "Add a Group ID."))

    for key, label in _OBJECT_LABELS.items():
        if key in message and not isinstance(message[key], dict):
            problems.append(
                Problem(
                    key, f"{key}_not_object", f"{label} must be a JSON object of keys and values."
                )
            )
    properties = message.get("properties")
    if isinstance(properties, dict) and len(properties) > MAX_PROPERTIES:
        problems.append(
            Problem(
                "properties",
                "too_many_properties",
                f"{len(properties):,} properties is too many: Segment keeps only the first "
                f"{MAX_PROPERTIES:,}.",
            )
        )
    fields_key = FIELDS_KEY.get(call_type)
    if fields_key and isinstance(message.get(fields_key), dict):
        _check_fields(call_type, fields_key, message[fields_key], problems)

    if "messageId" in message:
        message_id = message["messageId"]
        if not isinstance(message_id, str):
            problems.append(
                Problem("messageId", "message_id_not_string", "Message ID must be text.")
            )
        elif not message_id.strip():
            problems.append(
                Problem("messageId", "message_id_empty", "Message ID is blank: leave it out.")
            )
        elif len(message_id) > MAX_MESSAGE_ID_CHARS:
            problems.append(
                Problem(
                    "messageId",
                    "message_id_too_long",
                    f"Message ID is {len(message_id)} characters; Segment allows at most "
                    f"{MAX_MESSAGE_ID_CHARS}.",
                )
            )

    if message.get("timestamp") is not None:
        _check_timestamp(message["timestamp"], problems)

    try:
        size = message_size(message)
    except (TypeError, ValueError, RecursionError) as exc:
        problems.append(Problem("", "not_json", _not_json_message(exc)))
    else:
        if size > MAX_MESSAGE_BYTES:
            problems.append(
                Problem(
                    "",
                    "message_too_large",
                    f"This call is {size:,} bytes; Segment drops calls over "
                    f"{MAX_MESSAGE_BYTES:,} bytes. Remove some traits or properties.",
                )
            )
    return problems


def _not_json_message(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "A value is nested too deeply to be sent as JSON."
    if isinstance(exc, ValueError):
        return "A number is not finite (NaN or Infinity); JSON cannot carry it."
    kind = re.search(r"type (\w+)", str(exc))
    what = f" ({kind.group(1)})" if kind else ""
    return f"A value{what} cannot be sent as JSON: use text, numbers, true/false, lists or objects."


def check_message(message: Any, plan: PlanCheck | None = None) -> list[Problem]:
    """``check`` with the call type the message names."""
    call_type = message.get("type") if isinstance(message, dict) else None
    return check(call_type, message, plan)


_TRACKING_PATHS = {
    **{name: name for name in CALL_TYPES},
    **{name[0]: name for name in CALL_TYPES},  # Analytics.js's short paths: /v1/t, /v1/i...
}
_BATCH_PATHS = ("batch", "import", "b")


def check_tracking_body(path: str, body: Any, plan: PlanCheck | None = None) -> list[Problem]:
    """The findings for a raw Tracking API request body (Make an API call): a single call by
    its path (``/v1/track``), or each item of ``/v1/batch`` with ``batch[N].`` before its
    paths. Paths that carry no message give nothing. With ``plan`` (the source's tracking
    plan), its findings follow each message's, as ``check`` gives them."""
    name = path.split("?", 1)[0].strip().strip("/").lower()
    if not name.startswith("v1/"):
        return []
    name = name[3:]
    if name in _TRACKING_PATHS:
        return check(_TRACKING_PATHS[name], body, plan)
    if name not in _BATCH_PATHS:
        return []
    items = body.get("batch") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return [Problem("batch", "batch_not_list", "A batch body needs a list under “batch”.")]
    problems: list[Problem] = []
    for index, item in enumerate(items):
        for p in check_message(item, plan):
            where = f"batch[{index}].{p.field}" if p.field else f"batch[{index}]"
            problems.append(Problem(where, p.code, p.message, index, p.severity))
    return problems


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == ERROR]


def warnings(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == WARNING]


def field_path(problem: Problem) -> tuple[str, str]:
    """``("properties", "ordered_at")`` for ``properties.ordered_at``; the message key and the
    path inside it ("" when the problem is about the key itself)."""
    path = problem.field
    match = re.match(r"([^.\[]*)[.]?(.*)", path)
    assert match is not None
    return match.group(1), match.group(2)


def in_batch(problems: Iterable[Problem], index: int) -> Iterator[Problem]:
    for p in problems:
        yield replace(p, index=index)
