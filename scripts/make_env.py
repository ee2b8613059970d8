"""Write a local `.env` with a fresh SECRET_KEY and encryption key, unless one exists.

Run by `make run` before Django starts (settings need these values), so it uses only the
standard library and `cryptography`.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

TEMPLATE = """\
# Local settings for `make run`, written by scripts/make_env.py on {path}'s first run.
# Keep this file private: it holds the key that decrypts the stored Segment credentials.
# Losing SEGADMIN_ENCRYPTION_KEYS means re-entering every token and write key.
DEBUG=true
SECRET_KEY={secret_key}
SEGADMIN_ENCRYPTION_KEYS={fernet_key}
# DATABASE_URL=postgres://segadmin@127.0.0.1:5432/segadmin
# SEGMENT_TRACKING_API_URL=http://127.0.0.1:8765
"""


def main(path: Path) -> int:
    if path.exists():
        return 0
    path.write_text(
        TEMPLATE.format(
            path=path.name,
            secret_key=secrets.token_urlsafe(50),
            fernet_key=Fernet.generate_key().decode(),
        )
    )
    path.chmod(0o600)
    print(f"Wrote {path} with a fresh SECRET_KEY and SEGADMIN_ENCRYPTION_KEYS.")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else ".env")))
