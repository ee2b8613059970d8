"""Pytest plugin: a real OpenID Connect provider (npm `oidc-provider`) on a free loopback port.

``oidc_provider_server`` (session) starts ``node tests/oidc/provider.mjs`` once; ``oidc_provider``
(function) puts its people back as they start (a test may move one to another group, or make
the ID tokens carry a wrong nonce) and gives a handle. Tests that need it are skipped, saying
how to get it, only when Node.js or the npm package is missing.
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "oidc" / "provider.mjs"
PASSWORD = "sso-test-password"
CLIENT_ID = "segadmin-tests"

# Who the provider knows when a test starts: two people in different groups, one in both
# marketing and admins, and one in a group segadmin does not map.
PEOPLE: list[dict[str, Any]] = [
    {"username": "mallory.marketing", "name": "Mallory Marketing", "groups": ["marketing"]},
    {"username": "sam.support", "name": "Sam Support", "groups": ["support"]},
    {"username": "alice.admin", "name": "Alice Admin", "groups": ["marketing", "admins"]},
    {"username": "oscar.outsider", "name": "Oscar Outsider", "groups": ["finance"]},
]


@dataclass
class OIDCProvider:
    """The running provider: its issuer, the registered client, and switches for a test."""

    issuer: str
    client_id: str
    client_secret: str
    users_file: Path
    people: list[dict[str, Any]] = field(default_factory=list)
    wrong_nonce: bool = False

    def reset(self) -> None:
        self.people = [dict(person, password=PASSWORD) for person in PEOPLE]
        self.wrong_nonce = False
        self._write()

    def set_groups(self, username: str, groups: list[str]) -> None:
        """Moves a person to other groups (the provider reads this at its next log-in)."""
        for person in self.people:
            if person["username"] == username:
                person["groups"] = list(groups)
        self._write()

    def issue_wrong_nonce(self, wrong: bool = True) -> None:
        self.wrong_nonce = wrong
        self._write()

    def _write(self) -> None:
        data = {"users": self.people, "wrong_nonce": self.wrong_nonce}
        temporary = self.users_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(data), encoding="utf-8")
        temporary.replace(self.users_file)  # the provider never reads half a file


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip(
            "Node.js not found: the OpenID Connect provider of the tests runs on it; install it "
            "with `sudo apt-get install -y nodejs npm` (Debian/Ubuntu), then `npm ci`"
        )
    if not (ROOT / "node_modules" / "oidc-provider").is_dir():
        pytest.skip("the npm package oidc-provider is not installed: run `npm ci` (make install)")
    return node


def start_provider(
    users_file: Path, client_secret: str, *extra: str
) -> tuple[subprocess.Popen[str], str]:
    """Starts the provider; returns the process and its issuer URL once it listens."""
    node = node_or_skip()
    process = subprocess.Popen(
        [
            node,
            str(SCRIPT),
            "--port",
            "0",
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            client_secret,
            "--users",
            str(users_file),
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "NODE_ENV": "test"},
    )
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not selector.select(timeout=deadline - time.monotonic()):
            break
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith("issuer: "):
            selector.close()
            return process, line.split(" ", 1)[1].strip()
    process.kill()
    process.wait()
    raise RuntimeError("the OpenID Connect test provider did not start (tests/oidc/provider.mjs)")


def stop_provider(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout:
        process.stdout.close()


@pytest.fixture(scope="session")
def oidc_provider_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OIDCProvider]:
    users_file = tmp_path_factory.mktemp("oidc") / "people.json"
    secret = f"test-client-secret-{secrets.token_urlsafe(16)}"
    handle = OIDCProvider(
        issuer="", client_id=CLIENT_ID, client_secret=secret, users_file=users_file
    )
    handle.reset()
    process, issuer = start_provider(users_file, secret)
    handle.issuer = issuer
    try:
        yield handle
    finally:
        stop_provider(process)


@pytest.fixture
def oidc_provider(oidc_provider_server: OIDCProvider) -> Iterator[OIDCProvider]:
    oidc_provider_server.reset()
    yield oidc_provider_server
    oidc_provider_server.reset()
