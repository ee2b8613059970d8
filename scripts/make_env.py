"""Write a local `.env` with a fresh SECRET_KEY, encryption key and audit key, unless one exists.

Run by `make run` before Django starts (settings need these values), so it uses only the
standard library and `cryptography`. An existing `.env` is never rewritten; one written before
the audit chain was keyed gets a SEGADMIN_AUDIT_KEY line appended.
"""

from __future__ import annotations

import re
import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

TEMPLATE = """\
# Local settings for `make run`, written by scripts/make_env.py on {path}'s first run.
# Keep this file private: it holds the key that decrypts the stored Segment credentials.
# Losing SEGADMIN_ENCRYPTION_KEYS means re-entering every token and write key.
DEBUG=true
# Admins may use a second factor without being made to (production requires it).
SEGADMIN_REQUIRE_MFA=false
SECRET_KEY={secret_key}
SEGADMIN_ENCRYPTION_KEYS={fernet_key}
{audit_key}# DATABASE_URL=postgres://segadmin@127.0.0.1:5432/segadmin
# SEGMENT_TRACKING_API_URL=http://127.0.0.1:8765
"""
AUDIT_KEY = """\
# Keys the audit log's hash chain; without it the log's entries cannot be verified.
SEGADMIN_AUDIT_KEY={audit_key}
"""
_HAS_AUDIT_KEY = re.compile(r"^\s*SEGADMIN_AUDIT_KEY\s*=", re.MULTILINE)


def main(path: Path) -> int:
    if path.exists():
        content = path.read_text()
        if not _HAS_AUDIT_KEY.search(content):
            with path.open("a") as env_file:
                env_file.write(("" if content.endswith("\n") or not content else "\n") + _audit())
            print(f"Added a fresh SEGADMIN_AUDIT_KEY to {path}.")
        return 0
    path.write_text(
        TEMPLATE.format(
            path=path.name,
            secret_key=secrets.token_urlsafe(50),
            fernet_key=Fernet.generate_key().decode(),
            audit_key=_audit(),
        )
    )
    path.chmod(0o600)
    print(f"Wrote {path} with a fresh SECRET_KEY, SEGADMIN_ENCRYPTION_KEYS and SEGADMIN_AUDIT_KEY.")
    return 0


def _audit() -> str:
    return AUDIT_KEY.format(audit_key=secrets.token_urlsafe(32))


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else ".env")))
