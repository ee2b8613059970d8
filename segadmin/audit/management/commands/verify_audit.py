"""manage.py verify_audit: check the audit log's keyed hash chain; exit non-zero on a break.

Checks the database's log (against the checkpoints of an anchor too, with ``--anchor``, or
``SEGADMIN_AUDIT_ANCHOR`` when set) and then writes a signed checkpoint of the intact head; or,
with ``--file``, checks a full JSON Lines export offline, without the database.

Incremental by default: with an anchor, only the entries after its last good checkpoint (its
HMAC verifies and its entry still hashes to it) are read; ``--full`` reads every entry, and
is the only way to find a change made before that checkpoint. A large log is walked by
several processes at once (``--workers``, default one per CPU), each taking a contiguous run
of entries; the findings are exactly those of one walk.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from segadmin.audit import anchor, export
from segadmin.audit.chain import VerifyReport, verify_chain


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Command(BaseCommand):
    help = (
        "Check that no audit entry was changed, removed or inserted behind the app's back. "
        "Prints 'OK: N entries' or the first entry where the chain breaks, and exits 1 then."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--anchor",
            metavar="PATH",
            help="a checkpoint file or directory (default: SEGADMIN_AUDIT_ANCHOR when set); "
            "finds entries missing after, or rewritten up to, any checkpoint in it",
        )
        parser.add_argument(
            "--full",
            action="store_true",
            help="check every entry, not only those after the last good checkpoint",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=_cpus(),
            metavar="N",
            help="processes a full check of a large log is split across (default: the CPUs "
            "this process may use, here %(default)s; 1: one process)",
        )
        parser.add_argument(
            "--file",
            metavar="EXPORT.jsonl",
            help="check a full JSON Lines export offline instead of the database",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        if options["file"]:
            self._verify_export(Path(options["file"]))
            return
        path = options["anchor"] or getattr(settings, "SEGADMIN_AUDIT_ANCHOR", "")
        # The configured anchor file appears with its first checkpoint; one named on the
        # command line must be there.
        first_time = not options["anchor"] and path and not Path(path).exists()
        try:
            checkpoints = list(anchor.read(path)) if path and not first_time else []
        except anchor.AnchorError as exc:
            raise CommandError(str(exc)) from None
        report = verify_chain(
            checkpoints=checkpoints,
            incremental=not options["full"],
            workers=max(1, options["workers"]),
        )
        self._finish(report)
        if report.ok and report.start is None and not options["full"]:
            self.stdout.write(
                "No good checkpoint to start from: checked every entry"
                + ("" if path else " (no anchor: set SEGADMIN_AUDIT_ANCHOR or name --anchor)")
            )
        if report.count:
            # Written down somewhere else, this pins the log: a rewritten chain ends elsewhere.
            self.stdout.write(f"Last entry: seq {report.last_seq}, hash {report.last_hash}")
        if checkpoints:
            self.stdout.write(f"Matches the {len(checkpoints)} checkpoint(s) in {path}")
        try:
            written = anchor.write(anchor.Checkpoint.sign(report.last_seq, report.last_hash))
        except anchor.AnchorError as exc:
            raise CommandError(str(exc)) from None
        if written is not None:
            self.stdout.write(f"Checkpoint appended to {written}")

    def _verify_export(self, path: Path) -> None:
        try:
            with path.open(encoding="utf-8") as lines:
                report = export.verify_file(lines)
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from None
        self._finish(report, what=f"{path.name}: ")

    def _finish(self, report: VerifyReport, what: str = "") -> None:
        if not report.ok:
            # CommandError prints to stderr and exits with status 1.
            raise CommandError(f"{what}{report}")
        self.stdout.write(f"{what}{report}")
        if self.verbosity > 1:
            self.stdout.write(f"Checked in {report.seconds:.1f} s")
