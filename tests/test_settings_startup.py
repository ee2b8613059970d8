"""Start-up refuses bad configuration with a message naming the variable and the fix."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
GOOD_SECRET = "s" * 50
GOOD_AUDIT_KEY = "a" * 43


def start(**env: str | None) -> subprocess.CompletedProcess[str]:
    """Load the real settings in a fresh interpreter with exactly this environment (a good
    audit key unless one is given; None leaves a variable out)."""
    base = {
        "PATH": os.environ["PATH"],
        "SEGADMIN_ENV_FILE": "none",
        "DJANGO_SETTINGS_MODULE": "segadmin.settings",
    }
    env.setdefault("SEGADMIN_AUDIT_KEY", GOOD_AUDIT_KEY)
    env = {name: value for name, value in env.items() if value is not None}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_it_starts_with_good_settings() -> None:
    result = start(SECRET_KEY=GOOD_SECRET, SEGADMIN_ENCRYPTION_KEYS=Fernet.generate_key().decode())
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off() -> None:
    result = start(SEGADMIN_ENCRYPTION_KEYS=Fernet.generate_key().decode())
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "secrets.token_urlsafe" in result.stderr


def test_it_refuses_a_short_secret_key() -> None:
    result = start(SECRET_KEY="short", SEGADMIN_ENCRYPTION_KEYS=Fernet.generate_key().decode())
    assert result.returncode != 0
    assert "SECRET_KEY is too short" in result.stderr


def test_it_refuses_to_start_without_encryption_keys_when_debug_is_off() -> None:
    result = start(SECRET_KEY=GOOD_SECRET)
    assert result.returncode != 0
    assert "SEGADMIN_ENCRYPTION_KEYS is not set" in result.stderr
    assert "Fernet.generate_key()" in result.stderr


@pytest.mark.parametrize("bad", ["not-a-key", "abc,def", "x" * 44])
def test_it_refuses_a_malformed_encryption_key(bad: str) -> None:
    result = start(SECRET_KEY=GOOD_SECRET, SEGADMIN_ENCRYPTION_KEYS=bad)
    assert result.returncode != 0
    assert "SEGADMIN_ENCRYPTION_KEYS: key number 1 is not a valid Fernet key" in result.stderr


def test_it_names_which_key_of_several_is_malformed() -> None:
    good = Fernet.generate_key().decode()
    result = start(SECRET_KEY=GOOD_SECRET, SEGADMIN_ENCRYPTION_KEYS=f"{good},broken")
    assert result.returncode != 0
    assert "key number 2" in result.stderr


def test_debug_mode_starts_without_keys_for_a_first_look() -> None:
    result = start(DEBUG="true", SEGADMIN_AUDIT_KEY=None)
    assert result.returncode == 0, result.stderr


def test_it_refuses_to_start_without_an_audit_key_when_debug_is_off() -> None:
    fernet = Fernet.generate_key().decode()
    result = start(SECRET_KEY=GOOD_SECRET, SEGADMIN_ENCRYPTION_KEYS=fernet, SEGADMIN_AUDIT_KEY=None)
    assert result.returncode != 0
    assert "SEGADMIN_AUDIT_KEY is not set" in result.stderr
    assert "secrets.token_urlsafe(32)" in result.stderr


@pytest.mark.parametrize("bad, position", [("tiny-zq", 1), (f"{GOOD_AUDIT_KEY},tiny-zq", 2)])
def test_it_refuses_a_malformed_audit_key_and_names_which(bad: str, position: int) -> None:
    fernet = Fernet.generate_key().decode()
    result = start(SECRET_KEY=GOOD_SECRET, SEGADMIN_ENCRYPTION_KEYS=fernet, SEGADMIN_AUDIT_KEY=bad)
    assert result.returncode != 0
    assert f"SEGADMIN_AUDIT_KEY: key number {position} is not a valid audit key" in result.stderr
    assert "at least 32" in result.stderr
    assert "tiny-zq" not in result.stderr


def test_the_audit_key_never_appears_in_the_error() -> None:
    fernet = Fernet.generate_key().decode()
    secret = "my-private-audit-material"
    result = start(
        SECRET_KEY=GOOD_SECRET, SEGADMIN_ENCRYPTION_KEYS=fernet, SEGADMIN_AUDIT_KEY=secret
    )
    assert result.returncode != 0
    assert secret not in result.stderr + result.stdout


def test_the_secret_values_never_appear_in_the_error() -> None:
    result = start(SECRET_KEY=GOOD_SECRET, SEGADMIN_ENCRYPTION_KEYS="my-very-private-material")
    assert result.returncode != 0
    assert "my-very-private-material" not in result.stderr + result.stdout


def test_make_env_writes_working_keys_once(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    first = subprocess.run(
        [sys.executable, "scripts/make_env.py", str(env_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Wrote" in first.stdout
    content = env_file.read_text()
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    result = start(SEGADMIN_ENV_FILE=str(env_file), SEGADMIN_AUDIT_KEY=None)
    assert result.returncode == 0, result.stderr
    assert "SEGADMIN_AUDIT_KEY=" in content
    subprocess.run([sys.executable, "scripts/make_env.py", str(env_file)], cwd=ROOT, check=True)
    assert env_file.read_text() == content, "an existing .env must never be overwritten"


# --- The README's production settings pass Django's deployment checks -------------------------

# Values for the settings the README leaves as "…": they must be made by each operator.
MADE_BY_THE_OPERATOR = {
    "SECRET_KEY": lambda: secrets.token_urlsafe(50),
    "SEGADMIN_ENCRYPTION_KEYS": lambda: Fernet.generate_key().decode(),
    "SEGADMIN_AUDIT_KEY": lambda: secrets.token_urlsafe(48),
}


def readme_production_settings() -> dict[str, str]:
    """The NAME=value lines of the sh block under "**Settings**" in the README's Production."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    production = readme[readme.index("## Production") :]
    block = production[production.index("- **Settings**") :]
    block = block[block.index("```sh") + len("```sh") :]
    block = block[: block.index("```")]
    found: dict[str, str] = {}
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, value = line.partition("=")
        if value == "…":
            assert name in MADE_BY_THE_OPERATOR, f"the README leaves {name} to the operator"
            value = MADE_BY_THE_OPERATOR[name]()
        found[name] = value
    return found


def test_the_readmes_production_settings_pass_check_deploy() -> None:
    production = readme_production_settings()
    assert {"DEBUG", "SECRET_KEY", "SEGADMIN_ENCRYPTION_KEYS", "ALLOWED_HOSTS"} <= set(production)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "SEGADMIN_ENV_FILE": "none", **production},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_make_env_adds_an_audit_key_to_an_env_file_written_before_there_was_one(
    tmp_path: Path,
) -> None:
    env_file = tmp_path / ".env"
    older = (
        f"DEBUG=false\nSECRET_KEY={GOOD_SECRET}\n"
        f"SEGADMIN_ENCRYPTION_KEYS={Fernet.generate_key().decode()}"  # no final newline
    )
    env_file.write_text(older)
    added = subprocess.run(
        [sys.executable, "scripts/make_env.py", str(env_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Added a fresh SEGADMIN_AUDIT_KEY" in added.stdout
    content = env_file.read_text()
    assert content.startswith(older + "\n")
    result = start(SEGADMIN_ENV_FILE=str(env_file), SEGADMIN_AUDIT_KEY=None)
    assert result.returncode == 0, result.stderr


def test_it_refuses_a_fake_segment_url_that_is_not_an_address() -> None:
    result = start(
        SECRET_KEY=GOOD_SECRET,
        SEGADMIN_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        SEGADMIN_FAKE_SEGMENT_URL="127.0.0.1:8765",
    )
    assert result.returncode != 0
    assert "SEGADMIN_FAKE_SEGMENT_URL must be the local fake's address" in result.stderr
