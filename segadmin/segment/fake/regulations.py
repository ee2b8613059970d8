"""The fake's End User Privacy routes: regulations and suppressions (segment-api-more.md §2).

- ``POST /regulations`` and ``POST /regulations/sources/{sourceId}`` check the regulation type
  and the subject type for the scope (§2.2: ``DELETE_ARCHIVE_ONLY`` and ``ANONYMOUS_ID`` only
  for a source, ``ANONYMOUS_ID`` only with ``DELETE_ARCHIVE_ONLY``) and 1 to 5,000 subject IDs,
  each a non-empty string; anything else is a **422** with the error envelope (Segment's exact
  words are unconfirmed: ours). They answer ``{"data": {"regulateId": ...}}`` with the quota
  headers of the type's category: ``X-RateLimit-Remaining`` (users left this month, our choice
  of unit) and ``X-RateLimit-Reset`` (RFC 5322, the end of the month).
- **429** when a token has made 600 create requests in the last minute, or when the IDs do not
  fit in what is left of the category's monthly quota (110,000 users; both choices ours, the
  real answer to an exhausted quota is unconfirmed), with the quota headers and Retry-After.
- A workspace registered with ``privacy: false`` (a token without the privacy scope) gets
  **403** on every route here.
- ``GET /regulations/{id}`` and ``GET /regulations`` (``status``, ``regulationTypes``,
  pagination): a regulation moves one step each time it is read, ``INITIALIZED`` ->
  ``RUNNING`` -> its end (``FINISHED`` unless the workspace's ``regulation_outcome`` says
  ``FAILED``), unless ``POST /_fake/regulations`` set ``advance`` to ``manual``; ``POST
  /_fake/regulations/<id>`` with ``status`` sets one regulation's status.
- Suppressing types add their subjects to the workspace's suppressions at once, ``UNSUPPRESS``
  removes them; ``GET /suppressions`` pages over them, grouped by subject type.
"""

from __future__ import annotations

import calendar
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from segadmin.segment.fake.state import encode_cursor, now_iso, pagination_of

if TYPE_CHECKING:
    from segadmin.segment.fake.state import FakeState, FakeWorkspace

WORKSPACE_TYPES = (
    "DELETE_INTERNAL",
    "DELETE_ONLY",
    "SUPPRESS_ONLY",
    "SUPPRESS_WITH_DELETE",
    "SUPPRESS_WITH_DELETE_INTERNAL",
    "UNSUPPRESS",
)
SOURCE_TYPES = (*WORKSPACE_TYPES, "DELETE_ARCHIVE_ONLY")
WORKSPACE_SUBJECTS = ("USER_ID", "OBJECT_ID")
SOURCE_SUBJECTS = ("USER_ID", "ANONYMOUS_ID")
SUPPRESSING = ("SUPPRESS_ONLY", "SUPPRESS_WITH_DELETE", "SUPPRESS_WITH_DELETE_INTERNAL")
SEGMENT_AND_DESTINATIONS = ("DELETE_ONLY", "SUPPRESS_WITH_DELETE")
STATUSES = (
    "INITIALIZED",
    "INVALID",
    "NOT_SUPPORTED",
    "RUNNING",
    "PARTIAL_SUCCESS",
    "FAILED",
    "FINISHED",
)
ENDED = ("INVALID", "NOT_SUPPORTED", "PARTIAL_SUCCESS", "FAILED", "FINISHED")
MAX_IDS = 5000
MONTHLY_QUOTA = 110_000
CREATES_PER_MINUTE = 600
SOURCE_ROUTE = re.compile(r"^/regulations/sources/([^/]+)$")
ONE_ROUTE = re.compile(r"^/regulations/([^/]+)$")


def category(regulation_type: str) -> str:
    return "segment_and_destinations" if regulation_type in SEGMENT_AND_DESTINATIONS else "segment"


@dataclass
class FakeRegulation:
    id: str
    workspace_token: str
    workspace_id: str
    source_id: str | None
    regulation_type: str
    subject_type: str
    subject_ids: list[str]
    status: str = "INITIALIZED"
    outcome: str = "FINISHED"
    created_at: str = field(default_factory=now_iso)
    finished_at: str | None = None

    def advance(self) -> None:
        if self.status == "INITIALIZED":
            self.status = "RUNNING"
        elif self.status == "RUNNING":
            self.set(self.outcome)

    def set(self, status: str) -> None:
        self.status = status
        self.finished_at = now_iso() if status in ENDED else None

    def as_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": self.id,
            "subjectType": self.subject_type,
            "subjects": list(self.subject_ids),
            "status": self.status,
            "createdAt": self.created_at,
            "regulationType": self.regulation_type,
        }
        if self.finished_at:
            entry["finishedAt"] = self.finished_at
        return entry

    def as_api(self) -> dict[str, Any]:
        regulation: dict[str, Any] = {
            "id": self.id,
            "workspaceId": self.workspace_id,
            "overallStatus": self.status,
            "createdAt": self.created_at,
            "streamStatus": [
                {
                    "id": self.source_id or "all-sources",
                    "destinationStatus": [
                        {
                            "name": "Fake destination",
                            "id": "fake_destination",
                            "status": self.status,
                            "errString": "fake failure" if self.status == "FAILED" else "",
                            "finishedAt": self.finished_at or "",
                        }
                    ],
                }
            ],
        }
        if self.finished_at:
            regulation["finishedAt"] = self.finished_at
        return regulation


@dataclass
class RegulationsState:
    regulations: dict[str, FakeRegulation] = field(default_factory=dict)  # by id, in order
    # token -> subject type -> ids (insertion order kept)
    suppressed: dict[str, dict[str, dict[str, None]]] = field(default_factory=dict)
    used: dict[tuple[str, str], int] = field(default_factory=dict)  # (token, category) -> users
    creates: dict[str, deque[float]] = field(default_factory=dict)  # token -> monotonic times
    no_privacy: set[str] = field(default_factory=set)  # tokens without the privacy scope
    outcome: dict[str, str] = field(default_factory=dict)  # token -> FINISHED / FAILED ...
    manual: set[str] = field(default_factory=set)  # tokens whose statuses move only by control
    quota: dict[str, int] = field(default_factory=dict)  # token -> monthly users (default)


def _error(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"errors": [{"type": kind, "message": message, **extra}]}


def _month_end() -> datetime:
    now = datetime.now(tz=UTC)
    last = calendar.monthrange(now.year, now.month)[1]
    return now.replace(day=last, hour=23, minute=59, second=59, microsecond=0)


def _quota_headers(state: FakeState, token: str, kind: str) -> dict[str, str]:
    regs = state.regulations
    left = regs.quota.get(token, MONTHLY_QUOTA) - regs.used.get((token, kind), 0)
    return {
        "X-RateLimit-Remaining": str(max(0, left)),
        "X-RateLimit-Reset": format_datetime(_month_end(), usegmt=True),
    }


def _create_rate(state: FakeState, token: str) -> str | None:
    now = time.monotonic()
    times = state.regulations.creates.setdefault(token, deque())
    while times and now - times[0] >= 60:
        times.popleft()
    if len(times) >= CREATES_PER_MINUTE:
        return str(max(1, int(60 - (now - times[0])) + 1))
    times.append(now)
    return None


def _check(body: Any, *, types: tuple[str, ...], subjects: tuple[str, ...]) -> str | None:
    """What is wrong with a create body for this scope, or None."""
    if not isinstance(body, dict):
        return "The request body must be a JSON object."
    kind = body.get("regulationType")
    if kind not in types:
        return f'"regulationType" must be one of {", ".join(types)}.'
    subject = body.get("subjectType")
    if subject not in subjects:
        return f'"subjectType" must be one of {", ".join(subjects)}.'
    if subject == "ANONYMOUS_ID" and kind != "DELETE_ARCHIVE_ONLY":
        return '"subjectType" ANONYMOUS_ID is only supported with DELETE_ARCHIVE_ONLY.'
    ids = body.get("subjectIds")
    if not isinstance(ids, list) or not ids:
        return '"subjectIds" must be a non-empty array.'
    if len(ids) > MAX_IDS:
        return f'"subjectIds" may hold at most {MAX_IDS} ids.'
    if not all(isinstance(item, str) and item.strip() for item in ids):
        return '"subjectIds" must hold non-empty strings.'
    return None


def _create(
    state: FakeState,
    workspace: FakeWorkspace,
    body: Any,
    source_id: str | None,
    sources: list[Any],
) -> tuple[int, Any, dict[str, str]]:
    token = workspace.token
    if source_id is not None and not any(s.id == source_id for s in sources):
        return 404, _error("not-found", "Source not found"), {}
    types = SOURCE_TYPES if source_id is not None else WORKSPACE_TYPES
    subjects = SOURCE_SUBJECTS if source_id is not None else WORKSPACE_SUBJECTS
    problem = _check(body, types=types, subjects=subjects)
    if problem is not None:
        return 422, _error("input-validation", problem, status=422), {}
    kind = category(body["regulationType"])
    regs = state.regulations
    headers = _quota_headers(state, token, kind)
    wait = _create_rate(state, token)
    if wait is not None:
        return (
            429,
            _error("too-many-requests", "Too many requests", status=429),
            {**headers, "Retry-After": wait},
        )
    ids = [str(item) for item in body["subjectIds"]]
    left = regs.quota.get(token, MONTHLY_QUOTA) - regs.used.get((token, kind), 0)
    if len(ids) > left:
        return (
            429,
            _error(
                "too-many-requests",
                f"The monthly regulation quota has {max(0, left)} users left.",
                status=429,
            ),
            headers,
        )
    regs.used[(token, kind)] = regs.used.get((token, kind), 0) + len(ids)
    regulation = FakeRegulation(
        id=uuid.uuid4().hex[:27],
        workspace_token=token,
        workspace_id=workspace.id,
        source_id=source_id,
        regulation_type=body["regulationType"],
        subject_type=body["subjectType"],
        subject_ids=ids,
        outcome=regs.outcome.get(token, "FINISHED"),
    )
    regs.regulations[regulation.id] = regulation
    kept = regs.suppressed.setdefault(token, {}).setdefault(regulation.subject_type, {})
    if regulation.regulation_type in SUPPRESSING:
        kept.update(dict.fromkeys(ids))
    elif regulation.regulation_type == "UNSUPPRESS":
        for item in ids:
            kept.pop(item, None)
    return (
        200,
        {"data": {"regulateId": regulation.id}},
        _quota_headers(state, token, kind),
    )


def _page(items: list[Any], query: str) -> tuple[int, Any, dict[str, Any] | None]:
    count, offset = pagination_of(query)
    if not 1 <= count <= 1000:
        return 422, _error("input-validation", '"pagination.count" must be 1 to 1000'), None
    if offset is None or offset < 0:
        return 422, _error("input-validation", '"pagination.cursor" is not valid'), None
    pagination: dict[str, Any] = {"current": encode_cursor(offset), "totalEntries": len(items)}
    if offset + count < len(items):
        pagination["next"] = encode_cursor(offset + count)
    return 200, items[offset : offset + count], pagination


def _list(
    state: FakeState, token: str, query: str, source_id: str | None
) -> tuple[int, Any, dict[str, str]]:
    pairs = parse_qsl(query, keep_blank_values=True)
    wanted_status = dict(pairs).get("status")
    wanted_types: set[str] = set()
    for name, value in pairs:
        if name.startswith("regulationTypes"):
            wanted_types.update(v for v in value.split(",") if v)
    if wanted_status is not None and wanted_status not in STATUSES:
        return 422, _error("input-validation", f'"status" must be one of {STATUSES}'), {}
    chosen = []
    for regulation in state.regulations.regulations.values():
        if regulation.workspace_token != token:
            continue
        if source_id is not None and regulation.source_id != source_id:
            continue
        if token not in state.regulations.manual:
            regulation.advance()
        if wanted_status and regulation.status != wanted_status:
            continue
        if wanted_types and regulation.regulation_type not in wanted_types:
            continue
        chosen.append(regulation.as_entry())
    status, page, pagination = _page(chosen, query)
    if pagination is None:
        return status, page, {}
    return 200, {"data": {"regulations": page, "pagination": pagination}}, {}


def _suppressions(state: FakeState, token: str, query: str) -> tuple[int, Any, dict[str, str]]:
    flat = [
        (subject, item)
        for subject, ids in state.regulations.suppressed.get(token, {}).items()
        for item in ids
    ]
    status, page, pagination = _page(flat, query)
    if pagination is None:
        return status, page, {}
    grouped: dict[str, list[str]] = {}
    for subject, item in page:
        grouped.setdefault(subject, []).append(item)
    suppressed = [{"subjectType": s, "subjectIds": ids} for s, ids in grouped.items()]
    return 200, {"data": {"suppressed": suppressed, "pagination": pagination}}, {}


def handle(
    state: FakeState,
    workspace: FakeWorkspace,
    method: str,
    path: str,
    query: str,
    body: Any,
    sources: list[Any],
) -> tuple[int, Any, dict[str, str]] | None:
    """Answer a privacy route, or None when ``path`` is not one."""
    if path != "/suppressions" and path != "/regulations" and not path.startswith("/regulations/"):
        return None
    token = workspace.token
    with state.lock:
        if token in state.regulations.no_privacy:
            return (
                403,
                _error(
                    "forbidden",
                    "The token does not have the privacy scope for this workspace.",
                    status=403,
                ),
                {},
            )
        source_match = SOURCE_ROUTE.match(path)
        source_id = unquote(source_match.group(1)) if source_match else None
        if method == "POST" and (path == "/regulations" or source_match):
            return _create(state, workspace, body, source_id, sources)
        if method != "GET":
            return 405, _error("method-not-allowed", f"{method} is not allowed here."), {}
        if path == "/suppressions":
            return _suppressions(state, token, query)
        if path == "/regulations" or source_match:
            return _list(state, token, query, source_id)
        match = ONE_ROUTE.match(path)
        regulation = state.regulations.regulations.get(unquote(match.group(1))) if match else None
        if regulation is None or regulation.workspace_token != token:
            return 404, _error("not-found", "Regulation not found"), {}
        if token not in state.regulations.manual:
            regulation.advance()
        return 200, {"data": {"regulation": regulation.as_api()}}, {}


def control(state: FakeState, path: str, data: dict[str, Any]) -> Any:
    """POST routes under /_fake/ for regulations; None when ``path`` is not one.

    ``/_fake/regulations`` with ``token`` and any of ``privacy`` (false: 403 everywhere),
    ``outcome`` (how new regulations end), ``advance`` ("on_read" or "manual"), ``quota``
    (monthly users per category); ``/_fake/regulations/<id>`` with ``status``.
    """
    regs = state.regulations
    if path == "/_fake/regulations":
        token = str(data["token"])
        with state.lock:
            if "privacy" in data:
                if data["privacy"]:
                    regs.no_privacy.discard(token)
                else:
                    regs.no_privacy.add(token)
            if "outcome" in data:
                if data["outcome"] not in ENDED:
                    raise ValueError(f"outcome is one of {ENDED}")
                regs.outcome[token] = str(data["outcome"])
            if "advance" in data:
                if data["advance"] == "manual":
                    regs.manual.add(token)
                elif data["advance"] == "on_read":
                    regs.manual.discard(token)
                else:
                    raise ValueError("advance is on_read or manual")
            if "quota" in data:
                regs.quota[token] = int(data["quota"])
        return {"set": True}
    match = re.match(r"^/_fake/regulations/([^/]+)$", path)
    if match:
        status = data.get("status")
        if status not in STATUSES:
            raise ValueError(f"status is one of {STATUSES}")
        with state.lock:
            regulation = regs.regulations.get(unquote(match.group(1)))
            if regulation is None:
                raise KeyError(f"no regulation {match.group(1)!r}")
            regulation.set(str(status))
        return {"id": regulation.id, "status": regulation.status}
    return None


def listed(state: FakeState) -> list[dict[str, Any]]:
    """Every regulation, for ``GET /_fake/regulations`` (tests and the page)."""
    with state.lock:
        return [
            {**r.as_entry(), "sourceId": r.source_id, "workspaceId": r.workspace_id}
            for r in state.regulations.regulations.values()
        ]
