"""The worker outside a transaction (as ``db_worker`` runs it): a reading thread checks and
encodes the rows and hands each batch to a sending thread as soon as it is full. The first
batch leaves before its chunk is read to the end, and whatever stops either thread ends the
job with the reason instead of leaving a thread waiting."""

from __future__ import annotations

import gc
import io
import json
import threading
from typing import Any

import pytest

from segadmin import sending
from segadmin.audit.chain import verify_chain
from segadmin.audit.models import AuditEntry, Kind, unpack_body
from segadmin.bulk import services, worker
from segadmin.bulk.models import BulkChunk, BulkJob, ChunkStatus, Status
from segadmin.bulk.plan import Plan
from segadmin.segment.messages import encode
from tests.bulk.conftest import csv_text

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def only_worker(settings: Any) -> None:
    """The sending thread is that of a worker that is an import's only one."""
    settings.SEGADMIN_BULK_PARALLEL = 1


def queued_job(marketer: Any, source: Any, rows: int, pad: int = 0) -> BulkJob:
    content = csv_text(
        ["userId", "email", "pad"],
        [[f"user-{i}", f"u{i}@example.com", "x" * pad] for i in range(1, rows + 1)],
    )
    job = services.create_job(
        stream=io.BytesIO(content),
        name="users.csv",
        size=len(content),
        call_type="identify",
        source=source,
        user=marketer,
    )
    BulkJob.objects.filter(pk=job.pk).update(
        status=Status.QUEUED, started_by=marketer, actor={"username": "maria"}
    )
    return job


def senders_alive() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "bulk-sender" and t.is_alive()]


@pytest.mark.parametrize("parallel", [1, 2], ids=["sending thread", "one thread"])
def test_the_first_batch_leaves_before_its_chunk_is_read_to_the_end(
    marketer, source, fake_segment, monkeypatch, settings, parallel
):
    # Alone, a worker sends from its sending thread; sharing the import with another worker,
    # it reads and sends in turn in one thread: either way a batch leaves once it is full.
    settings.SEGADMIN_BULK_PARALLEL = parallel
    # 5,000 rows of about 250 bytes: one chunk (under 2 MB), four batches of 500 KB.
    job = queued_job(marketer, source, 5_000, pad=200)
    assert BulkChunk.objects.filter(job=job).count() == 1
    built = 0
    built_when_sent: list[int] = []
    sizes: list[int] = []
    first_sent = threading.Event()
    real_encoded, real_send = Plan.encoded, sending.send_batch

    def counting(self: Plan, cells: Any, row: int) -> Any:
        nonlocal built
        built += 1
        if built == 2_000:
            # Reading waits here for the first batch to leave: a worker that sent a chunk
            # only once it had read all of it would never send it.
            if parallel == 1:
                assert first_sent.wait(timeout=60), "no batch left before the chunk was read"
            else:
                assert first_sent.is_set(), "no batch left before the chunk was read"
        return real_encoded(self, cells, row)

    threads_seen: list[str] = []

    def noting(**kwargs: Any) -> Any:
        if threading.current_thread().name == "bulk-sender":
            threads_seen.append("bulk-sender")
        built_when_sent.append(built)
        sizes.append(len(kwargs["messages"]))
        first_sent.set()
        return real_send(**kwargs)

    monkeypatch.setattr(Plan, "encoded", counting)
    monkeypatch.setattr(sending, "send_batch", noting)
    assert worker.run_job(str(job.pk)) == Status.DONE, BulkJob.objects.get(pk=job.pk).error
    job.refresh_from_db()
    assert (job.sent, job.invalid, job.failed) == (5_000, 0, 0)
    assert bool(threads_seen) == (parallel == 1)
    assert len(built_when_sent) == job.requests >= 3
    # The first batch was on its way while most of the chunk was still unread; it held the
    # first 100 rows only, so that it left at once; then the batches are full ones.
    assert built_when_sent[0] <= 2_000
    assert sizes[0] == worker.FIRST_BATCH_ROWS == 100
    assert min(sizes[1:-1]) > 1_000
    assert len(fake_segment.messages("/v1/batch")) == 5_000
    assert verify_chain().ok
    # Each batch's body is its messages' encodings joined: what encoding them again gives.
    for entry in AuditEntry.objects.filter(kind=Kind.REQUEST, bulk_job_id=str(job.pk)):
        raw = unpack_body(entry.request_body)
        items = json.loads(raw)["batch"]
        assert raw.startswith(b'{"batch":' + encode(items) + b',"sentAt":')


def test_an_error_on_the_sending_thread_ends_the_job_with_the_reason(
    marketer, source, fake_segment, monkeypatch
):
    job = queued_job(marketer, source, 12_000)  # three chunks
    calls = 0
    real_send = sending.send_batch

    def failing_second(**kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the disk is on fire")
        return real_send(**kwargs)

    monkeypatch.setattr(sending, "send_batch", failing_second)
    assert worker.run_job(str(job.pk)) == Status.FAILED
    job.refresh_from_db()
    assert "RuntimeError: the disk is on fire" in job.error
    # Nothing was sent after the error; the chunk it stopped was not recorded as done.
    assert calls == 2
    assert job.sent == 0
    assert not BulkChunk.objects.filter(job=job, status=ChunkStatus.DONE).exists()
    assert not senders_alive()  # the sending thread has ended


def test_an_error_on_the_reading_thread_ends_the_job_and_its_chunk_is_not_recorded(
    marketer, source, fake_segment, monkeypatch
):
    job = queued_job(marketer, source, 12_000)  # three chunks
    built = 0
    real_encoded = Plan.encoded

    def failing_late(self: Plan, cells: Any, row: int) -> Any:
        nonlocal built
        built += 1
        if built == 7_000:  # in the middle of the second chunk
            raise RuntimeError("the disk is on fire")
        return real_encoded(self, cells, row)

    monkeypatch.setattr(Plan, "encoded", failing_late)
    assert worker.run_job(str(job.pk)) == Status.FAILED
    job.refresh_from_db()
    assert "RuntimeError: the disk is on fire" in job.error
    # The first chunk was sent and recorded; the second was abandoned, not recorded.
    assert job.sent == 5_000
    done = BulkChunk.objects.filter(job=job, status=ChunkStatus.DONE)
    assert list(done.values_list("index", flat=True)) == [0]
    assert not senders_alive()


def test_a_source_disabled_during_the_job_stops_it_from_the_sending_thread(
    marketer, source, fake_segment, monkeypatch
):
    job = queued_job(marketer, source, 12_000)
    real_send = sending.send_batch
    calls = 0

    def disable_after_the_first(**kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        sent = real_send(**kwargs)
        if calls == 1:
            type(source).objects.filter(pk=source.pk).update(enabled=False)
        return sent

    monkeypatch.setattr(sending, "send_batch", disable_after_the_first)
    assert worker.run_job(str(job.pk)) == Status.FAILED
    job.refresh_from_db()
    assert "disabled" in job.error
    assert len(fake_segment.messages("/v1/batch")) < 12_000


def test_an_import_runs_with_fewer_garbage_collections_and_gives_the_threshold_back(
    marketer, source, monkeypatch
):
    before = gc.get_threshold()
    seen: dict[str, tuple[int, int, int]] = {}
    sending_job = worker._send_job
    catching_up = worker.index_backlog

    def sending(*args: Any, **kwargs: Any) -> str:
        seen["sending"] = gc.get_threshold()
        return sending_job(*args, **kwargs)

    def indexing() -> int:
        seen["indexing"] = gc.get_threshold()
        return catching_up()

    monkeypatch.setattr(worker, "_send_job", sending)
    monkeypatch.setattr(worker, "index_backlog", indexing)
    job = queued_job(marketer, source, 300)
    assert worker.run_job(str(job.pk)) == Status.DONE
    young = max(worker.GC_YOUNG_THRESHOLD, before[0])
    assert seen == {"sending": (young, *before[1:]), "indexing": (young, *before[1:])}
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), worker.fewer_collections():
        raise RuntimeError("a job stopped by an error")
    assert gc.get_threshold() == before
