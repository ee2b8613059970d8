"""One batching function for every batcher: ``segment.messages.split_into_batches``, which the
bulk worker feeds with the sizes its plan measured, so each row's message is encoded once."""

from __future__ import annotations

from itertools import pairwise

import pytest

import segadmin
from segadmin.bulk import dryrun, worker
from segadmin.bulk.models import BulkJob
from segadmin.segment import messages as segment_messages
from segadmin.segment.messages import (
    BATCH_BUDGET,
    BATCH_ENVELOPE_RESERVE,
    MAX_BATCH_BYTES,
    MAX_BATCH_ITEMS,
    encode,
    encode_text,
    split_into_batches,
)
from tests.bulk.conftest import csv_text, upload

LIBRARY = {"name": segment_messages.LIBRARY_NAME, "version": segadmin.__version__}


def sized(sizes: list[int]) -> list[tuple[str, int]]:
    return [(f"item-{i}", size) for i, size in enumerate(sizes)]


def test_items_with_known_sizes_are_split_at_2500_items():
    batches = list(split_into_batches(sized([10] * (MAX_BATCH_ITEMS + 1)), size=lambda i: i[1]))
    assert [len(batch) for batch in batches] == [MAX_BATCH_ITEMS, 1]


def test_items_with_known_sizes_fill_a_batch_to_the_last_byte_and_no_further():
    # Two items and the comma between them: exactly the budget fits, one byte more does not.
    first = 200_000
    fits = sized([first, BATCH_BUDGET - first - 1])
    assert len(list(split_into_batches(fits, size=lambda i: i[1]))) == 1
    too_big = sized([first, BATCH_BUDGET - first])
    assert [len(b) for b in split_into_batches(too_big, size=lambda i: i[1])] == [1, 1]


def test_each_item_is_measured_once():
    measured: list[str] = []

    def size(item: tuple[str, int]) -> int:
        measured.append(item[0])
        return item[1]

    items = sized([100_000] * 12)
    assert sum(len(b) for b in split_into_batches(items, size=size)) == 12
    assert measured == [name for name, _ in items]


def prepared_batches(client, marketer, source, rows: list[list[str]]) -> list[list[dict]]:
    client.force_login(marketer)
    header = ["userId", "pad"]
    assert upload(client, csv_text(header, rows), source=source).status_code == 302
    job = BulkJob.objects.get()
    chunks = list(job.chunks.order_by("index"))
    plan = dryrun.plan_for(job)
    return [batch for chunk in chunks for batch, *_ in worker._prepare(job, plan, chunk).batches]


def body_bytes(batch: list[dict]) -> int:
    return len(encode({"batch": batch})) + BATCH_ENVELOPE_RESERVE


@pytest.mark.django_db
def test_the_worker_sends_at_most_2500_rows_a_batch(client, marketer, source):
    rows = [[f"user-{i}", "x"] for i in range(1, MAX_BATCH_ITEMS + 2)]
    batches = prepared_batches(client, marketer, source, rows)
    assert [len(batch) for batch in batches] == [MAX_BATCH_ITEMS, 1]


@pytest.mark.django_db
def test_the_worker_fills_each_batch_up_to_500000_bytes(client, marketer, source):
    rows = [[f"user-{i}", "x" * 30_000] for i in range(1, 41)]
    batches = prepared_batches(client, marketer, source, rows)
    assert sum(len(batch) for batch in batches) == 40
    assert len(batches) > 1
    for batch, following in pairwise(batches):
        assert body_bytes(batch) <= MAX_BATCH_BYTES
        # As full as it can be: the next row would not have fitted.
        assert body_bytes([*batch, following[0]]) > MAX_BATCH_BYTES
    assert body_bytes(batches[-1]) <= MAX_BATCH_BYTES


@pytest.mark.django_db
def test_the_worker_encodes_each_message_once_to_batch_it(client, marketer, source, monkeypatch):
    client.force_login(marketer)
    rows = [[f"user-{i}", "pro"] for i in range(1, 301)]
    assert upload(client, csv_text(["userId", "plan"], rows), source=source).status_code == 302
    job = BulkJob.objects.get()
    [chunk] = job.chunks.all()
    whole: list[object] = []
    parts: list[object] = []

    def counting(value: object) -> bytes:
        whole.append(value)
        return encode(value)

    def counting_parts(value: object) -> str:
        parts.append(value)
        return encode_text(value)

    monkeypatch.setattr("segadmin.bulk.plan.encode", counting)
    monkeypatch.setattr(segment_messages, "encode", counting)
    monkeypatch.setattr("segadmin.bulk.plan.encode_text", counting_parts)
    prepared = worker._prepare(job, dryrun.plan_for(job), chunk)
    assert sum(len(batch) for batch, *_ in prepared.batches) == 300
    # The context every message of the job shares once, then each row's traits once (the
    # rest of a message is its IDs); no message is encoded again, whole, to be measured or
    # batched.
    assert parts == [{"library": LIBRARY}] + [{"plan": "pro"}] * 300
    assert whole == []
