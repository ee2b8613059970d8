"""manage.py verify_audit: check the whole audit log's hash chain; exit non-zero on a break."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from segadmin.audit.chain import verify_chain


class Command(BaseCommand):
    help = (
        "Check that no audit entry was changed, removed or inserted behind the app's back. "
        "Prints 'OK: N entries' or the first entry where the chain breaks, and exits 1 then."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_chain()
        if not report.ok:
            # CommandError prints to stderr and exits with status 1.
            raise CommandError(str(report))
        self.stdout.write(str(report))
        if report.count:
            # Written down somewhere else, this pins the log: a rewritten chain ends elsewhere.
            self.stdout.write(f"Last entry: seq {report.last_seq}, hash {report.last_hash}")
        if options["verbosity"] > 1:
            self.stdout.write(f"Checked in {report.seconds:.1f} s")
