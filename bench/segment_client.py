"""Messages per second through segadmin's Segment client into the local fake, next to the
official library (segment-analytics-python) sending the same messages into the same fake.

    .venv/bin/python bench/segment_client.py [--repeat 5] [--single 300] [--batched 20000]

The fake runs in its own process (``manage.py fake_segment``) so that it does not share the
interpreter lock with the client being measured. Each figure is the median of ``--repeat``
runs; every run checks that the fake accepted every message, so a faster client cannot win by
dropping messages.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "segadmin.settings")
# The benchmark serves nothing; without a .env the settings still load.
if not (ROOT / ".env").is_file():
    os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

import logging  # noqa: E402

from django.conf import settings  # noqa: E402
from segment.analytics import Client as OfficialClient  # noqa: E402

from bench._support import RunningServer, start_fake  # noqa: E402
from segadmin.segment import client, messages  # noqa: E402

WRITE_KEY = "benchWriteKey000000000000000001"


def inputs(count: int) -> list[dict]:
    """The same call arguments for both clients: a mix of Identify and Track."""
    calls = []
    for index in range(count):
        if index % 2:
            calls.append(
                {
                    "call": "track",
                    "user_id": f"user-{index}",
                    "event": "Order Completed",
                    "properties": {"revenue": 19.99, "currency": "EUR", "items": index % 7},
                }
            )
        else:
            calls.append(
                {
                    "call": "identify",
                    "user_id": f"user-{index}",
                    "traits": {"email": f"user{index}@example.com", "plan": "pro"},
                }
            )
    return calls


def ours_build(arguments: dict, *, validate: bool = True) -> dict:
    arguments = dict(arguments)
    message = messages.build_message(arguments.pop("call"), **arguments)
    if validate:  # a batch is validated whole (every item included) by validate_batch
        messages.validate_message(message)
    return message


def ours_single(calls: list[dict]) -> None:
    for arguments in calls:
        request = client.tracking_request(ours_build(arguments), write_key=WRITE_KEY, region="us")
        result = client.send(request)
        assert result.ok, result


def ours_batched(size: int) -> Callable[[list[dict]], None]:
    def run(calls: list[dict]) -> None:
        built = [ours_build(arguments, validate=False) for arguments in calls]
        for start in range(0, len(built), size):
            batch = built[start : start + size]
            messages.validate_batch(batch)
            request = client.batch_request(batch, write_key=WRITE_KEY, region="us")
            result = client.send(request, profile=client.BACKGROUND)
            assert result.ok, result

    return run


def official_call(library: OfficialClient, arguments: dict) -> None:
    arguments = dict(arguments)
    getattr(library, arguments.pop("call"))(**arguments)


def official_single(url: str) -> Callable[[list[dict]], None]:
    def run(calls: list[dict]) -> None:
        # sync_mode posts each call at once (as a one-item /v1/batch), like a Send button.
        library = OfficialClient(WRITE_KEY, host=url, sync_mode=True)
        for arguments in calls:
            official_call(library, arguments)

    return run


def official_batched(url: str, size: int) -> Callable[[list[dict]], None]:
    def run(calls: list[dict]) -> None:
        library = OfficialClient(
            WRITE_KEY, host=url, upload_size=size, max_queue_size=len(calls) + 1
        )
        for arguments in calls:
            official_call(library, arguments)
        library.flush()
        library.join()

    return run


def measure(
    fake: RunningServer, run: Callable[[list[dict]], None], calls: list[dict], repeat: int
) -> float:
    rates = []
    for _ in range(repeat):
        fake.reset()
        fake.add_write_key(WRITE_KEY)
        started = time.perf_counter()
        run(calls)
        elapsed = time.perf_counter() - started
        accepted = fake.accepted()
        if accepted != len(calls):
            raise SystemExit(f"the fake accepted {accepted} of {len(calls)} messages")
        rates.append(len(calls) / elapsed)
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--single", type=int, default=300, help="messages sent one by one")
    parser.add_argument("--batched", type=int, default=20_000, help="messages sent in batches")
    options = parser.parse_args()
    logging.getLogger("segment").setLevel(logging.CRITICAL)

    with start_fake() as fake:
        url = fake.url
        settings.SEGMENT_TRACKING_API_URL = url
        scenarios = [
            ("single calls", options.single, ours_single, official_single(url)),
            ("batches of 100", options.batched, ours_batched(100), official_batched(url, 100)),
            ("batches of 1,000", options.batched, ours_batched(1000), official_batched(url, 1000)),
        ]
        print(f"Median of {options.repeat} runs, messages per second, into the fake at {url}")
        header = ("scenario", "messages", "segadmin", "analytics-python", "ratio")
        print("{:<18} {:>9} {:>10} {:>17} {:>6}".format(*header))
        for name, count, mine, theirs in scenarios:
            calls = inputs(count)
            ours_rate = measure(fake, mine, calls, options.repeat)
            their_rate = measure(fake, theirs, calls, options.repeat)
            print(
                f"{name:<18} {count:>9,} {ours_rate:>10,.0f} {their_rate:>17,.0f} "
                f"{ours_rate / their_rate:>6.2f}"
            )


if __name__ == "__main__":
    main()
