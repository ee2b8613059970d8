"""Signed checkpoints of the audit chain, kept outside the database (like CloudTrail's digests).

A checkpoint says "at ``time`` the chain's entry ``seq`` had hash ``hash``", with an HMAC over
those under the audit key (``key_id`` names the key). Whoever can write to the database but
has not the key can neither forge one nor move one: cutting the log's tail and rolling the
chain head back, or rewriting entries up to a checkpointed one, is found by
``verify_audit --anchor``, which compares the log with every checkpoint it is given.

``verify_audit`` (after an intact check) and the periodic job ``audit.checkpoint`` write them:
one JSON line to the ``segadmin.audit.anchor`` logger, and, when ``SEGADMIN_AUDIT_ANCHOR``
names a file, appended to it, or when it names a directory, to one file per (UTC) day in it.
A checkpoint also starts an incremental check: the entries after ``seq`` chain from ``hash``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from segadmin.audit.keys import Keyring, keyring

logger = logging.getLogger("segadmin.audit.anchor")

CHECKPOINT = "checkpoint"
SEAL = "seal"  # the migration's seal of the unkeyed entries (models.ChainSeal)
_FIELDS = ("seq", "hash", "time", "key_id", "mac")


class AnchorError(Exception):
    """An anchor file that cannot be read or written; the message says which and why."""


def message(purpose: str, seq: int, digest: str, time: str, key_id: str) -> bytes:
    """The bytes a checkpoint's HMAC covers; ``purpose`` keeps a seal from passing for a
    checkpoint and the other way round."""
    return f"segadmin-audit-{purpose}\n{seq}\n{digest}\n{time}\n{key_id}".encode()


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    time: str  # ISO 8601, UTC; "" on a seal
    key_id: str
    mac: str
    where: str = ""  # "line 3 of anchors.jsonl": for messages, not signed

    @classmethod
    def sign(
        cls, seq: int, digest: str, *, purpose: str = CHECKPOINT, time: str | None = None
    ) -> Checkpoint:
        when = timezone.now().isoformat() if time is None else time
        ring = keyring()
        key_id, mac = ring.sign(message(purpose, seq, digest, when, ring.signing_id))
        return cls(seq=seq, hash=digest, time=when, key_id=key_id, mac=mac)

    def problem(self, ring: Keyring, *, purpose: str = CHECKPOINT) -> str | None:
        """Why this checkpoint cannot be trusted, or None when its HMAC verifies."""
        verdict = ring.verify(
            self.key_id, message(purpose, self.seq, self.hash, self.time, self.key_id), self.mac
        )
        if verdict is None:
            return (
                f"signed with key id {self.key_id} which is not configured "
                f"(SEGADMIN_AUDIT_KEY has key ids {ring.describe()})"
            )
        if not verdict:
            return "HMAC mismatch: it was not written with the audit key, or was changed since"
        return None

    def label(self) -> str:
        what = f"the checkpoint of {self.time}" if self.time else "the seal"
        return f"{what} ({self.where})" if self.where else what

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["where"]
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str = "") -> Checkpoint:
        """Raises ValueError when ``data`` is not a checkpoint."""
        if not isinstance(data, dict) or not all(name in data for name in _FIELDS):
            raise ValueError(f"it is not a checkpoint (one needs {', '.join(_FIELDS)})")
        seq = data["seq"]
        texts = [data[name] for name in _FIELDS[1:]]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise ValueError("its seq is not a whole number")
        if not all(isinstance(value, str) for value in texts):
            raise ValueError("its hash, time, key_id and mac must be text")
        hash_, time, key_id, mac = texts
        return cls(seq, hash_, time, key_id, mac, where=where)


# --- writing --------------------------------------------------------------------------------


def anchor_file(path: str | Path, when: str) -> Path:
    """The file a checkpoint made at ``when`` goes to: ``path`` itself, or, when ``path`` is a
    directory, that day's file in it."""
    target = Path(path)
    if target.is_dir():
        return target / f"audit-checkpoints-{when[:10]}.jsonl"
    return target


def write(checkpoint: Checkpoint) -> Path | None:
    """Log ``checkpoint`` and append it to the anchor (``SEGADMIN_AUDIT_ANCHOR``) when set.

    Returns the file written, None without an anchor. Raises AnchorError when the anchor
    cannot be written (the log line is written first, so the checkpoint is not lost).
    """
    line = json.dumps(checkpoint.as_dict(), separators=(",", ":"))
    logger.info("audit checkpoint %s", line)
    anchor = getattr(settings, "SEGADMIN_AUDIT_ANCHOR", "")
    if not anchor:
        return None
    target = anchor_file(anchor, checkpoint.time)
    try:
        # One write() of one line with O_APPEND: processes appending at once never interleave.
        descriptor = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(descriptor, (line + "\n").encode())
        finally:
            os.close(descriptor)
    except OSError as exc:
        raise AnchorError(
            f"SEGADMIN_AUDIT_ANCHOR: cannot append the checkpoint to {target}: {exc.strerror}"
        ) from None
    return target


def checkpoint_head() -> Checkpoint:
    """Sign and write a checkpoint of the chain head as the app last wrote it (the periodic
    job ``audit.checkpoint``): cheap, it reads one row."""
    from segadmin.audit.models import ChainHead

    head = ChainHead.objects.filter(pk=1).values_list("last_seq", "last_hash").first()
    seq, digest = head or (0, "0" * 64)
    checkpoint = Checkpoint.sign(seq, digest)
    write(checkpoint)
    return checkpoint


# --- reading --------------------------------------------------------------------------------


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix == ".jsonl" and p.is_file())
    if path.is_file():
        return [path]
    raise AnchorError(f"The anchor {path} is neither a file nor a directory.")


def read(path: str | Path) -> Iterator[Checkpoint]:
    """Every checkpoint in an anchor file, or in every ``.jsonl`` file of a directory.

    Raises AnchorError naming the file and line of anything that is not a checkpoint: an
    anchor one cannot fully read proves nothing.
    """
    for file in _files(Path(path)):
        try:
            with file.open(encoding="utf-8") as lines:
                for number, line in enumerate(lines, start=1):
                    if not line.strip():
                        continue
                    where = f"line {number} of {file.name}"
                    try:
                        yield Checkpoint.from_dict(json.loads(line), where)
                    except ValueError as exc:
                        raise AnchorError(f"The anchor's {where} cannot be read: {exc}.") from None
        except OSError as exc:
            raise AnchorError(f"Cannot read the anchor {file}: {exc.strerror}") from None
