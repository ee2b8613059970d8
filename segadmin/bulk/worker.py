"""The bulk worker: the chunk loop that sends a started import (run by the task in tasks.py).

How a job survives interruptions: the file is stored as chunks of rows; a worker claims one
chunk at a time with a lease (``select_for_update(skip_locked=True)`` where the database has
it; SQLite's single writer serialises the claim otherwise), sends its rows through
``sending.send_batch`` and records the chunk's outcome, failures and counters in one
transaction. A worker that dies leaves at most its claimed chunk unrecorded; once the lease
runs out any worker takes it again and re-sends it with the same messageIds, which Segment's
deduplication drops. A worker whose lease ran out records nothing, so no row is counted twice.

Imports go one way: the screens' services (services.py) queue tasks (tasks.py), which call
this module; nothing here imports either of them.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import itertools
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from segadmin import sending
from segadmin.audit import backlog
from segadmin.audit import limits as limit_events
from segadmin.audit.index import IndexedMessage, index_batch
from segadmin.audit.log import Actor
from segadmin.bulk import parsing
from segadmin.bulk.dryrun import describe_unexpected, plan_for
from segadmin.bulk.models import (
    ACTIVE,
    BulkChunk,
    BulkJob,
    BulkRowResult,
    ChunkStatus,
    FailureKind,
    Status,
)
from segadmin.bulk.plan import Plan, RowProblem
from segadmin.bulk.rights import outside_limits, stopped_because, uploader_refusal
from segadmin.credentials.crypto import SecretUnreadable
from segadmin.credentials.models import Source
from segadmin.segment.messages import split_into_batches

log = logging.getLogger("segadmin.bulk")


def lease() -> timedelta:
    return timedelta(seconds=settings.SEGADMIN_BULK_LEASE_SECONDS)


class JobStopped(Exception):
    """The job cannot go on (source gone, key unreadable); the message says why."""


class LostChunk(Exception):
    """This worker's lease on a chunk ran out and another worker may have taken it."""


def _claim(job_id: uuid.UUID, worker: str) -> BulkChunk | None:
    now = timezone.now()
    with transaction.atomic():
        candidates = BulkChunk.objects.filter(job_id=job_id).filter(
            Q(status=ChunkStatus.PENDING) | Q(status=ChunkStatus.RUNNING, lease_until__lt=now)
        )
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        chunk = candidates.order_by("index").only("pk").first()
        if chunk is None:
            return None
        BulkChunk.objects.filter(pk=chunk.pk).update(
            status=ChunkStatus.RUNNING,
            claimed_by=worker,
            lease_until=now + lease(),
            attempts=F("attempts") + 1,
        )
    BulkJob.objects.filter(pk=job_id).update(heartbeat_at=now)
    return BulkChunk.objects.get(pk=chunk.pk)


def _renew(chunk: BulkChunk, worker: str) -> None:
    now = timezone.now()
    if not BulkChunk.objects.filter(
        pk=chunk.pk, claimed_by=worker, status=ChunkStatus.RUNNING
    ).update(lease_until=now + lease()):
        raise LostChunk
    BulkJob.objects.filter(pk=chunk.job_id).update(heartbeat_at=now)


def _actor(job: BulkJob) -> Actor:
    who = job.actor or {}
    return Actor(
        user=job.started_by,
        username=who.get("username", "") or "bulk worker",
        role=who.get("role", ""),
        ip=who.get("ip"),
        user_agent=who.get("user_agent", ""),
    )


def _describe(sent: sending.Sent) -> tuple[str, str]:
    result = sent.result
    # Segment's words as the audit log stores them: an answer quoting the key shows it masked.
    answer = sent.redacted_answer()
    if result.status is None:
        return FailureKind.NO_ANSWER, f"No answer from Segment: {answer.error or 'unknown'}."
    text = answer.text().strip().replace("\n", " ")
    if len(text) > 200:
        text = text[:197] + "…"
    return FailureKind.REFUSED, f"Segment answered {result.status}" + (f": {text}" if text else ".")


def _source(job: BulkJob) -> Source:
    source = Source.objects.filter(pk=job.source_id).first() if job.source_id else None
    if source is None:
        raise JobStopped("The source of this import was deleted, so nothing more can be sent.")
    if not source.enabled:
        raise JobStopped(f"The source “{source.name}” was disabled, so nothing more is sent.")
    return source


# One batch as the sender takes it: (messages, [(row, cells)], the messages' audit index with
# their rows, the plan's verdict on them for the send service, each message's encoding).
_Batch = tuple[
    list[dict[str, Any]],
    list[tuple[int, Any]],
    list[IndexedMessage],
    sending.Checked,
    list[bytes],
]


@dataclass
class _Prepared:
    """One chunk's rows turned into batches (and the rows that failed before sending).
    ``batches`` is a list, or (a worker sending in a thread) a ``_Feed`` the reading thread
    fills while the chunk is sent; ``failures`` is complete once ``batches`` is exhausted."""

    chunk: BulkChunk
    failures: list[BulkRowResult]
    batches: Iterable[_Batch]


def _prepare(job: BulkJob, plan: Plan, chunk: BulkChunk, *, small_first: bool = False) -> _Prepared:
    """A chunk read as it is sent: each batch leaves as soon as it is full."""
    failures: list[BulkRowResult] = []
    return _Prepared(
        chunk=chunk,
        failures=failures,
        batches=_batches(job, plan, chunk, failures, small_first=small_first),
    )


def _batches(
    job: BulkJob,
    plan: Plan,
    chunk: BulkChunk,
    failures: list[BulkRowResult],
    *,
    small_first: bool = False,
) -> Iterator[_Batch]:
    """The chunk's batches, each yielded as soon as it is full (the first leaves after a
    few hundred rows, not after the chunk); the rows that may not be sent go to ``failures``.
    ``small_first``: the first batch holds at most FIRST_BATCH_ROWS rows (a run's first
    chunk: its first rows leave at once)."""
    data, chunk.data = bytes(chunk.data), b""  # the rows go into the batches; let the text go
    sendable = _sendable(job, plan, chunk, data, failures)
    # Batched by the one batching function, with the encodings the plan made when it checked
    # each row: each message is encoded once, and its bytes go into the body as they are.
    first = list(itertools.islice(sendable, FIRST_BATCH_ROWS)) if small_first else []
    groups = itertools.chain(
        split_into_batches(first, size=_size), split_into_batches(sendable, size=_size)
    )
    for items in groups:
        messages = [item[0] for item in items]
        rows = [(item[2], item[3]) for item in items]
        # Each row was asked of the rules module (and the tracking plan) once, when the plan
        # built it; the send service takes that verdict rather than checking it again.
        checked = sending.Checked(
            plan.tracking_plan,
            tuple(
                replace(problem.problem, index=position)
                for position, item in enumerate(items)
                for problem in item[4]
                if problem.problem is not None
            ),
        )
        yield (
            messages,
            rows,
            # The first message's index values (the entry's own ID columns): the rest of the
            # batch is indexed after the import, from the stored body (audit.backlog).
            index_batch(messages[:1], rows=[items[0][2]]),
            checked,
            [item[1] for item in items],
        )


def _sendable(
    job: BulkJob, plan: Plan, chunk: BulkChunk, data: bytes, failures: list[BulkRowResult]
) -> Iterator[tuple[dict[str, Any], bytes, int, Any, list[RowProblem]]]:
    """(message, its encoding, row, cells, its warnings) for each row that may be sent."""
    for row, cells in parsing.chunk_rows(
        job.file_format,
        job.delimiter,
        data,
        chunk.first_row,
        restoring=parsing.restores_cells(job.file_format, job.columns),
    ):
        message, encoded, problems = plan.encoded(cells, row)
        if message is None:
            failures.append(
                BulkRowResult(
                    job_id=job.pk,
                    row=row,
                    kind=FailureKind.INVALID,
                    problems=[[p.column, p.reason] for p in problems],
                    cells=cells,
                )
            )
            continue
        yield message, encoded, row, cells, problems


def _size(item: tuple[Any, bytes, Any, Any, Any]) -> int:
    return len(item[1])


def _send_and_record(job: BulkJob, prepared: _Prepared, worker: str, actor: Actor) -> None:
    """Send a prepared chunk's batches, then record its outcome in one transaction (or
    nothing, if this worker's claim ran out meanwhile: LostChunk)."""
    chunk, failures = prepared.chunk, prepared.failures
    sent = requests = 0
    source: Source | None = None
    renewed = 0.0
    for batch, rows, index, checked, encoded in prepared.batches:
        if source is None:
            source = _source(job)
        # Before the chunk's first batch (the claim is still this worker's), then once a
        # tenth of a lease has passed: two writes fewer for most batches, and the lease
        # never runs out while the worker is alive.
        if not renewed or time.monotonic() - renewed > lease().total_seconds() / 10:
            _renew(chunk, worker)
            renewed = time.monotonic()
        try:
            result = sending.send_batch(
                actor=actor,
                source=source,
                messages=batch,
                bulk_job_id=str(job.pk),
                index=index,
                reason=job.reason,
                # Each row was asked of the rules module and the tracking plan when the plan
                # built it (rows it refused are failures already): the send service takes
                # that verdict instead of asking again (+47 % of CPU with a plan otherwise).
                checked=checked,
                encoded=encoded,
                # The message index of the batch is written after the import (audit.backlog):
                # three random-key index writes a message were most of a large import's time.
                index_later=[row for row, _ in rows],
            )
        except (SecretUnreadable, sending.SourceDisabled, sending.NotAllowed) as exc:
            # Disabled after this chunk began, or the person's source limits changed: the
            # send service refuses it (and records the refusal), the job stops.
            raise JobStopped(str(exc)) from None
        requests += 1
        if result.result.ok:
            sent += len(batch)
            continue
        kind, reason = _describe(result)
        failures.extend(
            BulkRowResult(
                job_id=job.pk,
                row=row,
                kind=kind,
                problems=[["", reason]],
                cells=cells,
                audit_entry_id=result.entry.pk,
            )
            for row, cells in rows
        )
    invalid = sum(1 for item in failures if item.kind == FailureKind.INVALID)
    failed = len(failures) - invalid
    with transaction.atomic():
        if not BulkChunk.objects.filter(
            pk=chunk.pk, claimed_by=worker, status=ChunkStatus.RUNNING
        ).update(
            status=ChunkStatus.DONE, sent=sent, invalid=invalid, failed=failed, lease_until=None
        ):
            raise LostChunk
        BulkRowResult.objects.bulk_create(failures, batch_size=500)
        BulkJob.objects.filter(pk=job.pk).update(
            sent=F("sent") + sent,
            invalid=F("invalid") + invalid,
            failed=F("failed") + failed,
            requests=F("requests") + requests,
            heartbeat_at=timezone.now(),
        )


class _Abandoned(Exception):
    """The reading thread gave up on a chunk before its last batch: it is not recorded."""


_DONE = object()  # a feed's end: every batch of the chunk was put
_ABANDONED = object()  # the reading thread stopped in the middle of the chunk


class _Feed:
    """A chunk's batches from the reading thread to the sending one, a few at a time."""

    def __init__(self, sender: _Sender) -> None:
        self.sender = sender
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=_FEED_BATCHES)
        self.ended = False  # its end (or abandonment) was taken

    def put(self, item: Any) -> None:
        """Hand over a batch (or the end); re-raises what stopped the sending thread."""
        while True:
            self.sender.raise_failure()
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[_Batch]:
        while not self.ended:
            item = self.queue.get()
            if item is _DONE or item is _ABANDONED:
                self.ended = True
                if item is _ABANDONED:
                    raise _Abandoned
                return
            yield item

    def drain(self) -> None:
        """Take what is left of the chunk (its claim was lost, or sending stopped: nothing
        more of it is sent), so that the reading thread is never left waiting."""
        with contextlib.suppress(_Abandoned):
            for _ in self:
                pass


# Batches waiting between the reading and the sending thread (about 500 KB each).
_FEED_BATCHES = 4
# At most this many rows in the first batch a worker sends for a job (then full batches).
FIRST_BATCH_ROWS = 100


class _Sender:
    """Sends a chunk's batches as they are made: the first batch leaves once it is full.

    A worker that is an import's only one (SEGADMIN_BULK_PARALLEL 1) sends in a background
    thread, so that its CPU work (reading, checking, encoding) overlaps the sending thread's
    (the audit log's writes, the wait for Segment). Where several workers share an import
    (``make run`` starts two), each reads and sends in turn in one thread while the others
    overlap it: two threads of one process share its interpreter lock, and handing batches
    between them cost more CPU than it saved (200,000 rows, two workers, alternating runs:
    5.5-5.8 s of CPU threaded, 5.1-5.2 s not; 33,000-35,000 against 37,000-48,000 rows/s).
    Inside a transaction (tests on the in-process backend) it sends inline too, since another
    thread's connection could not see the uncommitted rows."""

    def __init__(self, job: BulkJob, worker: str, actor: Actor) -> None:
        self.job, self.worker, self.actor = job, worker, actor
        self.threaded = not connection.in_atomic_block and settings.SEGADMIN_BULK_PARALLEL <= 1
        self.chunks: queue.Queue[_Prepared | None] = queue.Queue(maxsize=1)
        self.idle = threading.Condition()
        self.unfinished = 0  # chunks handed over and not yet recorded (or given up)
        self.failure: BaseException | None = None
        self.thread: threading.Thread | None = None
        self.started = False  # a chunk was handed over (the first one's first batch is small)

    def _loop(self) -> None:
        try:
            while (prepared := self.chunks.get()) is not None:
                try:
                    if self.failure is None:
                        _send_and_record(self.job, prepared, self.worker, self.actor)
                except LostChunk:
                    _lost(self.job)
                except _Abandoned:
                    pass
                except BaseException as exc:  # noqa: BLE001 - raised in the reading thread
                    self.failure = exc
                finally:
                    if isinstance(prepared.batches, _Feed):
                        prepared.batches.drain()
                    with self.idle:
                        self.unfinished -= 1
                        self.idle.notify_all()
        finally:
            connection.close()  # this thread's own connection

    def raise_failure(self) -> None:
        """Re-raise what stopped the sending thread (it stays: nothing more is sent)."""
        if self.failure is not None:
            raise self.failure

    def send(self, job: BulkJob, plan: Plan, chunk: BulkChunk) -> None:
        """Read, check and send one claimed chunk (in the background when threaded)."""
        small_first, self.started = not self.started, True
        if not self.threaded:
            prepared = _prepare(job, plan, chunk, small_first=small_first)
            _send_and_record(self.job, prepared, self.worker, self.actor)
            return
        if self.thread is None:
            self.thread = threading.Thread(target=self._loop, name="bulk-sender", daemon=True)
            self.thread.start()
        failures: list[BulkRowResult] = []
        feed = _Feed(self)
        self._hand_over(_Prepared(chunk=chunk, failures=failures, batches=feed))
        try:
            for batch in _batches(job, plan, chunk, failures, small_first=small_first):
                feed.put(batch)
        except BaseException:
            # Not recorded: the sending thread drops the chunk (its claim runs out, and
            # whichever worker resumes the job sends it again with the same messageIds).
            feed.queue.put(_ABANDONED)
            raise
        feed.put(_DONE)

    def _hand_over(self, prepared: _Prepared) -> None:
        with self.idle:
            self.unfinished += 1
        while True:
            self.raise_failure()
            try:
                self.chunks.put(prepared, timeout=0.1)
                return
            except queue.Full:
                continue

    def wait(self) -> None:
        """Wait until every chunk handed over is recorded; re-raise what stopped one
        (JobStopped, or an unexpected error; a lost claim is only logged)."""
        with self.idle:
            while self.unfinished and self.failure is None:
                self.idle.wait(timeout=0.1)
        self.raise_failure()

    def close(self) -> None:
        if self.thread is not None:
            self.chunks.put(None)
            self.thread.join()


def run_job(job_id: str, *, worker: str | None = None, poll: float = 0.5) -> str:
    """Send a queued or running job's remaining chunks; return the job's status at the end.

    Several workers may run the same job at once: each claims its own chunks. A worker that
    finds no free chunk while others hold live claims waits, so that the chunk of a worker that
    died is taken over when its lease runs out; the last worker out marks the job finished.
    Then, when no import is sending any more, the audit log's message index catches up with
    the batches sent (``index_backlog``).
    """
    with fewer_collections():
        status = _send_job(job_id, worker=worker, poll=poll)
        index_backlog()
    return status


# The young generation's threshold while an import runs (Python's default: 2,000). Each row
# allocates a dozen dicts, lists and tuples that refcounting frees, and each batch keeps
# thousands alive until sent, so at the default the cyclic collector ran every few rows and
# walked the batch's objects and the promoted ones again and again: 18-24 µs a row in one
# process against 16-17 at 50,000 (reading, checking, encoding and batching the benchmark's
# rows, load 4-8). What refcounting cannot free (cycles) waits a little longer. 20,000 rather
# than 50,000: the same speed, and a lower peak for a worker sending a 1,000,000-row file
# (bench/bulk_import.py --rows 1000000, one run each, alternating: 160-161 MB against 181-190,
# worker CPU 17.2-17.4 s against 17.3-17.9 s).
GC_YOUNG_THRESHOLD = 20_000


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often inside: an import's rows make no cycles."""
    before = gc.get_threshold()
    gc.set_threshold(max(GC_YOUNG_THRESHOLD, before[0]), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def index_backlog() -> int:
    """Write the message index of the bulk batches recorded without it (audit.backlog), unless
    an import is still sending: it would take the CPU and the database from that import, whose
    own end catches up. Returns the entries indexed. Also the periodic job ``bulk.index_backlog``
    (a worker that died before its import's end)."""
    if _an_import_is_sending():
        return 0
    try:
        # An import started meanwhile gets the machine back: its own end catches up.
        with fewer_collections():  # thousands of index rows a batch, parsed and written
            return backlog.catch_up(stop=_an_import_is_sending)
    except Exception:
        # Left pending for the next import's end or the periodic job; the import itself is done.
        log.exception("The message index could not catch up with the bulk batches sent")
        return 0


def _an_import_is_sending() -> bool:
    return BulkJob.objects.filter(status=Status.RUNNING).exists()


def _send_job(job_id: str, *, worker: str | None, poll: float) -> str:
    worker = worker or uuid.uuid4().hex
    job = BulkJob.objects.select_related("started_by").filter(pk=job_id).first()
    if job is None or job.status not in ACTIVE:
        return job.status if job else "missing"
    now = timezone.now()
    BulkJob.objects.filter(pk=job.pk, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=now, heartbeat_at=now
    )
    sender = _Sender(job, worker, _actor(job))
    try:
        return _run(job, plan_for(job), sender, worker, poll)
    except JobStopped as exc:
        BulkJob.objects.filter(pk=job.pk, status__in=ACTIVE).update(
            status=Status.FAILED, error=str(exc), finished_at=timezone.now()
        )
        return Status.FAILED
    except Exception as exc:
        # Anything else ends the job too, with the reason on its page: a job left "running"
        # would only be resumed into the same error, forever at the same percentage.
        log.exception("Bulk job %s stopped by an unexpected error", job.pk)
        reason = _without_write_key(describe_unexpected(exc), job)
        BulkJob.objects.filter(pk=job.pk, status__in=ACTIVE).update(
            status=Status.FAILED,
            error=f"An unexpected error stopped this import ({reason}). The rows sent before "
            "it stay sent; the rest were not sent. The server log has the details.",
            finished_at=timezone.now(),
        )
        return Status.FAILED
    finally:
        sender.close()


def _without_write_key(text: str, job: BulkJob) -> str:
    """``text`` with the source's write key masked, as it is or as a Basic authorization
    (an exception's message may quote a header), before it is stored and shown."""
    key = ""
    with contextlib.suppress(Exception):  # no key to mask is better than a second error
        key = job.source.write_key() if job.source is not None else ""
    if not key:
        return text
    basic = base64.b64encode(f"{key}:".encode()).decode()
    return text.replace(basic, "****").replace(key, "****")


def _run(job: BulkJob, plan: Plan, sender: _Sender, worker: str, poll: float) -> str:
    while True:
        status = BulkJob.objects.filter(pk=job.pk).values_list("status", flat=True).first()
        if status not in ACTIVE:
            _wait(sender, job)
            return status or "missing"
        # Before each chunk: the uploader may have lost the right to send it meanwhile.
        problem = uploader_refusal(job)
        if problem:
            if job.created_by is not None and outside_limits(job, job.created_by):
                # "A job of a person whose limits changed after upload is refused at start."
                limit_events.refused(actor=sender.actor, entrance="bulk worker", source=job.source)
            raise JobStopped(stopped_because(problem))
        chunk = _claim(job.pk, worker)
        if chunk is None:
            _wait(sender, job)
            unfinished = BulkChunk.objects.filter(job_id=job.pk).exclude(status=ChunkStatus.DONE)
            if not unfinished.exists():
                BulkJob.objects.filter(pk=job.pk, status__in=ACTIVE).update(
                    status=Status.DONE, finished_at=timezone.now(), heartbeat_at=timezone.now()
                )
                return Status.DONE
            time.sleep(poll)  # another worker holds the rest; take over if its lease ends
            continue
        plan = _current(job, plan)
        try:
            sender.send(job, plan, chunk)
        except LostChunk:  # sent inline, and its claim ran out meanwhile
            _lost(job)


def _current(job: BulkJob, plan: Plan) -> Plan:
    """``plan``, or the job's plan made again when the source's tracking plan, its revision
    or its enforcement changed since (an import of the plan, an Admin switching Block to
    Warn during the job): each chunk's rows are checked as the source says now."""
    source = Source.objects.filter(pk=job.source_id).first() if job.source_id else None
    now = source.plan_check() if source is not None else None
    if sending.same_plan(plan.tracking_plan, now):
        return plan
    if source is not None:
        job.source = source  # plan_for reads the job's source: the one just read
    return plan_for(job)


def _wait(sender: _Sender, job: BulkJob) -> None:
    sender.wait()


def _lost(job: BulkJob) -> None:
    log.warning("Bulk job %s: a chunk's claim ran out and another worker took it over", job.pk)
