"""How long filing and approving a privacy request with many IDs takes, and where the time goes.

Through Django's test Client (middleware, form, view: the web request's whole time), a Support
person files a request naming ``--ids`` user IDs (the IDs typed into the form, one a line) and
an Admin approves it under Approvals. Sending happens after, in ``db_worker`` (the task is only
queued here: the database tasks backend), so it is not part of either web request. For each
step: wall time, this process's CPU time, the time spent in database queries and their count,
and the audit rows written; ``--profile`` prints cProfile's top functions of each step.

    .venv/bin/python bench/privacy_request.py --ids 100000
    .venv/bin/python bench/privacy_request.py --ids 100000 --purge      # + remove kept rows
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/segadmin_privacy_bench \\
        .venv/bin/python bench/privacy_request.py --ids 100000

Without DATABASE_URL it uses bench/results/privacy_request.sqlite3 (never the development one).
Each round files a new request in the same database.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._support import RESULTS, use_bench_environment  # noqa: E402

# The Admin who approves has no second factor.
use_bench_environment(RESULTS / "privacy_request.sqlite3", require_mfa=False)


class QueryTimer:
    """Sums the time and count of every database query run inside it (execute_wrapper)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.count = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, ctx: Any):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, ctx)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1


@contextmanager
def measured(name: str, profile: bool) -> Iterator[None]:
    from django.db import connection

    from segadmin.audit.models import AuditEntry, AuditMessage

    entries, messages = AuditEntry.objects.count(), AuditMessage.objects.count()
    timer = QueryTimer()
    profiler = cProfile.Profile() if profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(timer):
        if profiler is not None:
            profiler.enable()
        yield
        if profiler is not None:
            profiler.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"{name:26} {wall:8.2f} s wall {cpu:8.2f} s CPU {timer.seconds:8.2f} s in "
        f"{timer.count:5} queries   +{AuditEntry.objects.count() - entries} audit entries, "
        f"+{AuditMessage.objects.count() - messages:,} index rows",
        flush=True,
    )
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ids", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--purge", action="store_true", help="tick 'remove kept rows' too")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from segadmin.credentials.models import Workspace
    from segadmin.privacy.models import PrivacyRequest

    call_command("migrate", verbosity=0)
    people = {}
    for name, role in (("bench-support", "Support"), ("bench-admin", "Admin")):
        user, _ = User.objects.get_or_create(username=name)
        user.groups.add(Group.objects.get(name=role))
        people[role] = user
    workspace = Workspace.objects.filter(name="Bench privacy").first()
    if workspace is None:
        workspace = Workspace(name="Bench privacy", region="us")
        workspace.set_public_api_token("sgp_BENCHprivacyToken0123456789")
        workspace.save()

    def client_for(user: Any) -> Client:
        from allauth.account.internal.flows.login import (
            _AUTHENTICATION_METHODS_USER_SESSION_KEY,
            AUTHENTICATION_METHODS_SESSION_KEY,
        )

        client = Client()
        client.force_login(user)
        # As at a real password log-in: approving asks for a recent one (accounts.reauth).
        session = client.session
        session[AUTHENTICATION_METHODS_SESSION_KEY] = [
            {"method": "password", "at": time.time(), "username": user.username}
        ]
        session[_AUTHENTICATION_METHODS_USER_SESSION_KEY] = str(user.pk)
        session.save()
        return client

    support, admin = client_for(people["Support"]), client_for(people["Admin"])
    print(
        f"{connection.vendor}, {args.ids:,} IDs a request, {args.rounds} rounds "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    for round_ in range(args.rounds):
        ids = "\n".join(f"user-{round_}-{n:06d}" for n in range(args.ids))
        form = {
            "workspace": workspace.pk,
            "scope": "",
            "action": "SUPPRESS_WITH_DELETE",
            "subject_type": "USER_ID",
            "ids": ids,
            "reason": f"BENCH-{round_}: privacy request bench",
        }
        if args.purge:
            form["purge_kept_files"] = "on"
        with measured(f"round {round_ + 1}: file", args.profile):
            response = support.post(reverse("privacy:new"), form)
        assert response.status_code == 302, response.content[:2000]
        filed = PrivacyRequest.objects.order_by("-pk").first()
        assert filed is not None and filed.id_count == args.ids
        with measured(f"round {round_ + 1}: approve", args.profile):
            response = admin.post(
                reverse("approvals:decide", args=[filed.approval_id]),
                {"decision": "approve", "comment": "bench"},
            )
        assert response.status_code == 302
        filed.refresh_from_db()
        assert filed.state == PrivacyRequest.State.SENDING, filed.state
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
