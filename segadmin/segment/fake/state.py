"""What the fake of Segment knows and what it has received, shared by its handler threads.

Everything here is in memory and guarded by one lock; the fake is a development and test tool,
not a store. Behaviour follows segment-api.md §9 (Tracking API), §10 (Public API) and §11
(Profile API); where Segment is silent the choices are marked "our choice".
"""

from __future__ import annotations

import base64
import gc
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from segadmin.segment import datetimes

CALL_TYPES = ("identify", "track", "page", "screen", "group", "alias")
COMMON_KEYS = frozenset(
    {
        "type",
        "messageId",
        "timestamp",
        "userId",
        "anonymousId",
        "context",
        "integrations",
        "sentAt",
        "originalTimestamp",
        "receivedAt",
        "version",
        "channel",
        "writeKey",
    }
)
CALL_KEYS = {
    "identify": {"traits"},
    "track": {"event", "properties"},
    "page": {"name", "category", "properties"},
    "screen": {"name", "category", "properties"},
    "group": {"groupId", "traits"},
    "alias": {"previousId"},
}
MAX_BATCH_ITEMS = 2_500
DEDUP_WINDOW = 24 * 60 * 60.0
KEEP_MESSAGES = 200_000
KEEP_REQUESTS = 5_000
SETTLE_SECONDS = 30.0  # how long a reader waits for answered requests' messages to be stored
ACCEPTED = "accepted"
DISCARDED = "discarded:"
DUPLICATE = "discarded:duplicate"


def now_iso() -> str:
    return _iso(datetime.now(tz=UTC))


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 time; naive values are read as UTC (our choice: Segment does not say)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetimes.parse_instant(value)
    except datetimes.DateTimeInvalid as exc:
        if exc.code != "datetime_naive":
            return None
    return datetimes.parse_local(value).replace(tzinfo=UTC)


def encode_cursor(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def decode_cursor(cursor: str) -> int | None:
    try:
        return int(base64.b64decode(cursor.encode(), validate=True).decode())
    except (ValueError, UnicodeDecodeError):
        return None


def pagination_of(query: str) -> tuple[int, int | None]:
    """The page size and offset a Public API query asks for, ``pagination.count`` and
    ``pagination[count]`` alike (§0): the size 200 when not given and 0 when not a number; the
    offset 0 when no cursor is given and None when the cursor is not valid."""
    params = dict(parse_qsl(query, keep_blank_values=True))
    count_text = params.get("pagination.count", params.get("pagination[count]", "200"))
    cursor = params.get("pagination.cursor", params.get("pagination[cursor]"))
    try:
        count = int(count_text)
    except ValueError:
        count = 0
    return count, decode_cursor(cursor) if cursor else 0


@dataclass
class FakeSource:
    id: str
    slug: str
    name: str
    workspace_token: str | None = None
    write_keys: list[str] = field(default_factory=list)
    enabled: bool = True
    labels: dict[str, str] = field(default_factory=dict)
    source_type: str = "HTTP API"

    def as_api(self, *, show_keys: bool, workspace_id: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "slug": self.slug,
            "name": self.name,
            "workspaceId": workspace_id,
            "enabled": self.enabled,
            "writeKeys": list(self.write_keys) if show_keys else [],
            "metadata": {
                "id": f"meta-{self.source_type.lower().replace(' ', '-')}",
                "slug": self.source_type.lower().replace(" ", "-"),
                "name": self.source_type,
                "description": f"A fake {self.source_type} source.",
                "categories": ["Server"],
                "logos": {},
                "options": [],
                "isCloudEventSource": False,
                "status": "PUBLIC",
            },
            "settings": {},
            "labels": [{"key": k, "value": v} for k, v in self.labels.items()],
        }


@dataclass
class FakeWorkspace:
    token: str
    id: str
    slug: str
    name: str
    source_admin: bool = True  # False: sources come back without write keys
    max_page_size: int | None = None  # fake only: forces pagination with few sources
    protocols: bool = True  # False: the tracking-plan routes answer 403 (see fake/plans.py)
    rules_per_minute: int = 200  # Segment's limit on reading a plan's rules


@dataclass
class FakeSpace:
    id: str
    token: str
    collect_identifies: bool = False  # accepted Identify calls update its profiles
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)  # "user_id:u1" -> traits


@dataclass
class Fault:
    """One queued answer instead of the normal one: a status (with Retry-After, a body and
    extra headers), or a drop."""

    status: int | None = None
    retry_after: str | None = None
    drop: bool = False
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: Any) -> Fault:
        if isinstance(spec, Fault):
            return spec
        if spec == "drop":
            return cls(drop=True)
        if isinstance(spec, int) and not isinstance(spec, bool):
            return cls(status=spec)
        if isinstance(spec, dict):
            if spec.get("drop"):
                return cls(drop=True)
            status = spec.get("status")
            if isinstance(status, int) and 100 <= status <= 599:
                retry_after = spec.get("retry_after")
                headers = spec.get("headers") or {}
                return cls(
                    status=status,
                    retry_after=None if retry_after is None else str(retry_after),
                    body=spec.get("body"),
                    headers={str(name): str(value) for name, value in dict(headers).items()},
                )
        raise ValueError(
            f"A fault is a status (500), {{'status': 429, 'retry_after': 2}} or 'drop', "
            f"not {spec!r}"
        )


@dataclass
class RecordedRequest:
    seq: int
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    status: int | None
    api: str
    at: str

    def as_dict(self, *, with_body: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "seq": self.seq,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "status": self.status,
            "api": self.api,
            "at": self.at,
            "body_bytes": len(self.body),
        }
        if with_body:
            data["body"] = self.body.decode("utf-8", errors="replace")
        return data


@dataclass(slots=True)
class Arrival:
    """One Tracking API request, shared by every message it carried: what the enrichment of
    its messages needs, kept once per request instead of once per message."""

    path: str
    call: str  # the path's call type ("batch" and "import" for batches)
    write_key: str
    known: bool
    source_id: Any
    received: datetime
    sent_at: Any = None  # the body's own sentAt (a batch's, or a single call's)
    context: Any = None  # a batch's context and integrations, merged into each item
    integrations: Any = None
    items: list[Any] = field(default_factory=list)  # the messages as sent, to be checked
    whole_batch_code: str | None = None  # why every item is dropped (too many of them)
    checked: list[Checked] = field(default_factory=list)

    @property
    def is_batch(self) -> bool:
        return self.call in ("batch", "import")


class Checked(NamedTuple):
    """One message as the edge checked it, before deduplication (which needs the lock)."""

    item: Any  # the message as sent (parsed JSON, not copied), or the literal entry message
    code: str | None  # why Segment would drop it, None if it passes
    dropped: tuple[str, ...]  # keys Segment ignores for this call type, sorted
    assigned_id: str | None  # the messageId given to a message sent without one
    literal: bool = False  # True: ``item`` is stored as is, without enrichment


class Kept(NamedTuple):
    """One received message as stored: compact; ``entry_of`` enriches it when it is read."""

    seq: int
    arrival: Arrival
    status: str
    checked: Checked


# Builds a NamedTuple without its Python-level __new__: at two records a message, a tenth
# of the fake's time under load went there (py-spy).
new_record = tuple.__new__


def _merge(batch_level: Any, own: Any) -> Any:
    if isinstance(batch_level, dict) and isinstance(own, dict):
        return {**batch_level, **own}
    if own is None and isinstance(batch_level, dict):
        return dict(batch_level)
    return own


def enriched(arrival: Arrival, checked: Checked) -> dict[str, Any]:
    """The message as Segment would store it (segment-api.md §9): the call type of a single
    call's path, the batch's context and integrations merged in, ignored keys and the write
    key removed, a messageId if it had none, and Segment's timestamps. Done when the message
    is read, not when it arrives: the fake's inspection is rare, its intake is not."""
    if checked.literal:
        literal: dict[str, Any] = checked.item
        return literal
    message = dict(checked.item)
    if not arrival.is_batch:
        message["type"] = arrival.call
        message.pop("writeKey", None)
    else:
        message["context"] = _merge(arrival.context, message.get("context"))
        message["integrations"] = _merge(arrival.integrations, message.get("integrations"))
        if message["context"] is None:
            del message["context"]
        if message["integrations"] is None:
            del message["integrations"]
    sent_at = message.pop("sentAt", None) or arrival.sent_at
    for key in checked.dropped:
        del message[key]
    message.pop("writeKey", None)
    if checked.assigned_id is not None:
        message["messageId"] = checked.assigned_id
    original, corrected = received_at_and_timestamp(message, sent_at, arrival.received)
    message["originalTimestamp"] = original
    message["timestamp"] = corrected
    message["receivedAt"] = _iso(arrival.received)
    if sent_at is not None:
        message["sentAt"] = sent_at
    return message


def entry_of(kept: Kept) -> dict[str, Any]:
    """A stored message as the inspection API shows it."""
    arrival = kept.arrival
    return {
        "path": arrival.path,
        "status": kept.status,
        "write_key": arrival.write_key,
        "write_key_known": arrival.known,
        "source_id": arrival.source_id if arrival.known else None,
        "dropped_keys": list(kept.checked.dropped),
        "message": enriched(arrival, kept.checked),
        "seq": kept.seq,
    }


class FakeState:
    """Registry, received messages, fault switches. All methods are thread-safe."""

    def __init__(self, *, freeze_stored: bool = False) -> None:
        self.lock = threading.RLock()
        # Tracking requests are answered before their messages are checked and stored (as
        # Segment's edge does), so the sender's next request overlaps that work. Readers of
        # what was received wait until no request is ``storing()``: a test that reads right
        # after its answer sees its messages.
        self.settled = threading.Condition(self.lock)
        self.pending = 0
        # True only when the fake has its process to itself (manage.py fake_segment): what
        # it stores is plain parsed JSON, without reference cycles, so the cyclic garbage
        # collector need not walk it again and again (about a fifth of the intake's time
        # with 50,000 messages kept). gc.freeze() is process-wide: never in a test run.
        self.freeze_stored = freeze_stored
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.wait_settled()
            self.write_keys: dict[str, str | None] = {}  # key -> source id
            self.workspaces: dict[str, FakeWorkspace] = {}  # token -> workspace
            self.sources: dict[str, FakeSource] = {}  # id -> source
            self.spaces: dict[str, FakeSpace] = {}
            self.messages: deque[Kept] = deque(maxlen=KEEP_MESSAGES)
            self.requests: deque[RecordedRequest] = deque(maxlen=KEEP_REQUESTS)
            self.counts: dict[str, int] = {}
            self.seen_ids: dict[str, float] = {}
            self.faults: deque[Fault] = deque()
            self.latency_ms = 0.0
            self.seq = 0
            self.request_seq = 0
            # Tracking plans live in their own module, which imports this one.
            from segadmin.segment.fake.plans import PlansState

            self.plans = PlansState()
            from segadmin.segment.fake.regulations import RegulationsState

            self.regulations = RegulationsState()

    # --- registry ---------------------------------------------------------------------------

    def add_write_key(self, key: str, source_id: str | None = None) -> None:
        with self.lock:
            self.write_keys[key] = source_id

    def add_workspace(
        self,
        token: str,
        *,
        id: str | None = None,
        slug: str = "fake-workspace",
        name: str = "Fake workspace",
        source_admin: bool = True,
        max_page_size: int | None = None,
        protocols: bool = True,
    ) -> FakeWorkspace:
        with self.lock:
            workspace = FakeWorkspace(
                token=token,
                id=id or f"ws_{uuid.uuid4().hex[:20]}",
                slug=slug,
                name=name,
                source_admin=source_admin,
                max_page_size=max_page_size,
                protocols=protocols,
            )
            self.workspaces[token] = workspace
            return workspace

    def add_source(
        self,
        *,
        id: str | None = None,
        slug: str | None = None,
        name: str | None = None,
        token: str | None = None,
        write_keys: list[str] | None = None,
        enabled: bool = True,
        labels: dict[str, str] | None = None,
        source_type: str = "HTTP API",
    ) -> FakeSource:
        with self.lock:
            source_id = id or f"src_{uuid.uuid4().hex[:20]}"
            source = FakeSource(
                id=source_id,
                slug=slug or source_id,
                name=name or slug or source_id,
                workspace_token=token,
                write_keys=list(write_keys or []),
                enabled=enabled,
                labels=dict(labels or {}),
                source_type=source_type,
            )
            self.sources[source_id] = source
            for key in source.write_keys:
                self.write_keys[key] = source_id
            return source

    def add_space(self, space_id: str, token: str, *, collect_identifies: bool = False) -> None:
        with self.lock:
            space = self.spaces.get(space_id)
            if space is None:
                self.spaces[space_id] = FakeSpace(space_id, token, collect_identifies)
            else:
                space.token = token
                space.collect_identifies = space.collect_identifies or collect_identifies

    def add_profile(
        self,
        *,
        space_id: str,
        token: str,
        traits: dict[str, Any],
        user_id: str | None = None,
        anonymous_id: str | None = None,
        email: str | None = None,
    ) -> None:
        if user_id is None and anonymous_id is None:
            raise ValueError("a profile needs a user_id or an anonymous_id")
        with self.lock:
            self.add_space(space_id, token)
            space = self.spaces[space_id]
            profile = None
            for kind, value in (("user_id", user_id), ("anonymous_id", anonymous_id)):
                if value is not None:
                    profile = space.profiles.setdefault(f"{kind}:{value}", {})
                    profile.update(traits)
            if email is not None and profile is not None:
                space.profiles[f"email:{email}"] = profile

    def workspace_sources(self, token: str) -> list[FakeSource]:
        with self.lock:
            return [s for s in self.sources.values() if s.workspace_token == token]

    # --- faults -----------------------------------------------------------------------------

    def queue_faults(self, specs: list[Any]) -> None:
        faults = [Fault.parse(spec) for spec in specs]
        with self.lock:
            self.faults.extend(faults)

    def set_latency(self, ms: float) -> None:
        with self.lock:
            self.latency_ms = max(0.0, float(ms))

    def next_fault(self) -> Fault | None:
        with self.lock:
            return self.faults.popleft() if self.faults else None

    # --- recording --------------------------------------------------------------------------

    def record_request(self, **fields: Any) -> RecordedRequest:
        with self.lock:
            self.request_seq += 1
            record = RecordedRequest(seq=self.request_seq, at=now_iso(), **fields)
            self.requests.append(record)
            return record

    @contextmanager
    def storing(self) -> Iterator[None]:
        """While a request's messages are on their way to ``store``: readers wait."""
        with self.lock:
            self.pending += 1
        try:
            yield
        finally:
            with self.lock:
                self.pending -= 1
                self.settled.notify_all()

    def wait_settled(self) -> None:
        """Wait (at most SETTLE_SECONDS) until every answered request's messages are stored."""
        with self.lock:
            self.settled.wait_for(lambda: self.pending == 0, timeout=SETTLE_SECONDS)

    def store(self, arrival: Arrival) -> None:
        """Keep the messages of one request, in order, deduplicating by messageId within 24
        hours; one lock for the whole request, not one per message."""
        now = time.monotonic()
        with self.lock:
            seen, counts, messages = self.seen_ids, self.counts, self.messages
            while seen:  # the dict is in arrival order: drop what left the window
                oldest_id, oldest_at = next(iter(seen.items()))
                if now - oldest_at <= DEDUP_WINDOW:
                    break
                del seen[oldest_id]
            seq = self.seq
            kept = []
            for checked in arrival.checked:
                if checked.code is not None:
                    status = DISCARDED + checked.code
                else:
                    message_id = checked.assigned_id or checked.item["messageId"]
                    if message_id in seen:
                        status = DUPLICATE
                    else:
                        seen[message_id] = now
                        status = ACCEPTED
                seq += 1
                kept.append(new_record(Kept, (seq, arrival, status, checked)))
                counts[status] = counts.get(status, 0) + 1
            self.seq = seq
            messages.extend(kept)
            if any(space.collect_identifies for space in self.spaces.values()):
                for record in kept:
                    if record.status == ACCEPTED:
                        message = enriched(arrival, record.checked)
                        if message.get("type") == "identify":
                            self._collect_identify(message)
        if self.freeze_stored:
            gc.freeze()

    def _collect_identify(self, message: dict[str, Any]) -> None:
        traits = message.get("traits")
        if not isinstance(traits, dict):
            traits = {}
        for space in self.spaces.values():
            if not space.collect_identifies:
                continue
            profile = None
            for kind, key in (("user_id", "userId"), ("anonymous_id", "anonymousId")):
                if isinstance(message.get(key), str) and message[key]:
                    profile = space.profiles.setdefault(f"{kind}:{message[key]}", {})
                    for name, value in traits.items():
                        if value is None:
                            profile.pop(name, None)  # Identify with null unsets a trait
                        else:
                            profile[name] = value
            email = traits.get("email")
            if profile is not None and isinstance(email, str) and email.strip():
                # Segment resolves the email to the same profile (its external ID email:...).
                space.profiles[f"email:{email.strip()}"] = profile

    def received(
        self, *, path: str | None = None, status: str | None = None, last: int | None = None
    ) -> list[dict[str, Any]]:
        """Stored messages, oldest first (only the ``last`` ones if given), enriched."""
        with self.lock:
            self.wait_settled()
            chosen = [
                kept
                for kept in self.messages
                if (path is None or kept.arrival.path == path)
                and (status is None or kept.status == status)
            ]
        if last is not None:
            chosen = chosen[-last:] if last > 0 else []
        return [entry_of(kept) for kept in chosen]

    def summary(self) -> dict[str, Any]:
        with self.lock:
            self.wait_settled()
            return {
                "messages": len(self.messages),
                "counts": dict(self.counts),
                "requests": self.request_seq,
                "faults_queued": len(self.faults),
                "latency_ms": self.latency_ms,
                "write_keys": len(self.write_keys),
                "workspaces": len(self.workspaces),
                "sources": len(self.sources),
                "spaces": len(self.spaces),
                "tracking_plans": len(self.plans.plans),
                "regulations": len(self.regulations.regulations),
            }


def received_at_and_timestamp(
    message: dict[str, Any], sent_at: Any, received: datetime
) -> tuple[str, str]:
    """Segment's clock-skew correction (segment-api.md §6): ``originalTimestamp`` is what the
    client sent (or receipt time); ``timestamp`` = receivedAt - (sentAt - originalTimestamp)."""
    original = parse_time(message.get("timestamp"))
    original_text = message["timestamp"] if original else _iso(received)
    sent = parse_time(sent_at)
    if original is None:
        corrected = received
    elif sent is None:
        corrected = original
    else:
        corrected = received - (sent - original)
    return original_text, _iso(corrected)
