"""What a chained audit entry's protocol costs on PostgreSQL, with and without pipeline mode.

The question (issue 17, call screens): psycopg's pipeline mode could send BEGIN with the chain
head's ``SELECT ... FOR UPDATE``, and the entry's ``WITH`` statement with COMMIT, two round
trips instead of four. Does that bring an entry near the minimal view's plain row?

Raw psycopg, no Django, in turn in one loop so the machine's load weighs on all three alike:

- ``serial``: the round trips of an entry as ``segadmin.audit.chain.append`` writes it on
  PostgreSQL (a narrower row, no kept counts): BEGIN, the head read ``FOR UPDATE``, the keyed
  hash worked out from it, one ``WITH`` statement that inserts the entry and moves the head,
  COMMIT;
- ``pipelined``: the same statements in pipeline mode (BEGIN and the read in one round trip,
  the ``WITH`` and COMMIT in another);
- ``plain row``: the minimal view's write, one INSERT in autocommit.

Its tables (``bench_entry_*``) are created and dropped in the database given:

    DATABASE_URL=postgres://segadmin@127.0.0.1:5432/segadmin_bench \\
        .venv/bin/python bench/pg_entry_protocol.py --writes 300 --rounds 5
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import statistics
import sys
import time
from collections.abc import Callable

import psycopg

KEY = b"bench-only key, not a secret"
BODY = "x" * 2000  # about a call's stored request
WITH = (
    "WITH e AS (INSERT INTO bench_entry_log (seq, hash, body) VALUES (%s, %s, %s) RETURNING id) "
    "UPDATE bench_entry_head SET last_seq = %s, last_hash = %s WHERE id = 1 "
    "RETURNING (SELECT id FROM e)"
)
HEAD = "SELECT last_seq, last_hash FROM bench_entry_head WHERE id = 1 FOR UPDATE"


def chained(previous: str) -> str:
    return hmac.new(KEY, (previous + BODY).encode(), hashlib.sha256).hexdigest()


def writers(conn: psycopg.Connection) -> dict[str, Callable[[], None]]:
    def serial() -> None:
        conn.autocommit = False
        with conn.cursor() as cursor:
            cursor.execute(HEAD)  # psycopg sends BEGIN before it
            seq, previous = cursor.fetchone() or (0, "")
            digest = chained(previous)
            cursor.execute(WITH, (seq + 1, digest, BODY, seq + 1, digest))
            cursor.fetchone()
        conn.commit()
        conn.autocommit = True

    def pipelined() -> None:
        conn.autocommit = False
        with conn.pipeline() as pipeline, conn.cursor() as cursor:
            cursor.execute(HEAD)
            pipeline.sync()
            seq, previous = cursor.fetchone() or (0, "")
            digest = chained(previous)
            cursor.execute(WITH, (seq + 1, digest, BODY, seq + 1, digest))
            conn.commit()
        conn.autocommit = True

    def plain_row() -> None:
        with conn.cursor() as cursor:
            cursor.execute("INSERT INTO bench_entry_plain (body) VALUES (%s)", (BODY,))

    return {"serial": serial, "pipelined": pipelined, "plain row": plain_row}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=300, help="writes of each kind a round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print("Set DATABASE_URL to a PostgreSQL database (see the docstring).", file=sys.stderr)
        return 2
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "DROP TABLE IF EXISTS bench_entry_head, bench_entry_log, bench_entry_plain;"
            "CREATE TABLE bench_entry_head (id int PRIMARY KEY, last_seq bigint, last_hash text);"
            "INSERT INTO bench_entry_head VALUES (1, 0, '');"
            "CREATE TABLE bench_entry_log (id bigserial PRIMARY KEY, seq bigint UNIQUE,"
            " hash text, body text);"
            "CREATE TABLE bench_entry_plain (id bigserial PRIMARY KEY, body text)"
        )
        try:
            times: dict[str, list[float]] = {name: [] for name in writers(conn)}
            for _ in range(args.rounds):
                for name, write in writers(conn).items():
                    started = time.perf_counter()
                    for _ in range(args.writes):
                        write()
                    times[name].append((time.perf_counter() - started) / args.writes * 1000)
            written = conn.execute("SELECT count(*), max(seq) FROM bench_entry_log").fetchone()
            assert written == (2 * args.rounds * args.writes,) * 2, written  # a whole chain
        finally:
            conn.execute("DROP TABLE bench_entry_head, bench_entry_log, bench_entry_plain")
    plain = statistics.median(times["plain row"])
    print(f"{args.rounds} rounds of {args.writes} writes each; ms a write, median (each round)")
    for name, values in times.items():
        median = statistics.median(values)
        rounds = " / ".join(f"{v:.3f}" for v in values)
        print(f"{name:>10}: {median:.3f} ms  ({median / plain:.2f}x a plain row)  [{rounds}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
