"""Pytest plugin: the local fake of Segment on a free loopback port, shared by the session.

``fake_segment`` (function scope) resets the fake, points the three Segment base URL settings
at it and gives a handle. The fake is a real server on a port, so a separate process (a
``db_worker`` subprocess) reaches it too: pass it ``handle.env()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from segadmin.segment.fake import FakeSegmentServer, FakeState, seed_demo


class FakeSegment:
    """What a test sees of the fake: its URL, what it received, and its switches."""

    def __init__(self, server: FakeSegmentServer) -> None:
        self.server = server
        self.state: FakeState = server.state

    @property
    def url(self) -> str:
        return self.server.url

    def env(self) -> dict[str, str]:
        """Environment variables pointing a subprocess's segadmin at the fake."""
        return {
            "SEGMENT_TRACKING_API_URL": self.url,
            "SEGMENT_PUBLIC_API_URL": self.url,
            "SEGMENT_PROFILES_API_URL": self.url,
        }

    def received(self, path: str | None = None, status: str | None = None) -> list[dict]:
        """Stored messages (oldest first), each {"path", "status", "message", ...}."""
        return self.state.received(path=path, status=status)

    def messages(self, path: str | None = None, status: str | None = "accepted") -> list[dict]:
        """The enriched messages themselves, accepted ones by default."""
        return [entry["message"] for entry in self.received(path, status)]

    @property
    def requests(self) -> list[Any]:
        """Raw requests (method, path, query, headers, body, status), oldest first."""
        with self.state.lock:
            return list(self.state.requests)

    def add_write_key(self, key: str, source_id: str | None = None) -> None:
        self.state.add_write_key(key, source_id)

    def add_workspace(self, token: str, **kwargs: Any) -> Any:
        return self.state.add_workspace(token, **kwargs)

    def add_source(self, **kwargs: Any) -> Any:
        return self.state.add_source(**kwargs)

    def add_profile(self, **kwargs: Any) -> None:
        self.state.add_profile(**kwargs)

    def queue_faults(self, faults: list[Any]) -> None:
        """E.g. [500, {"status": 429, "retry_after": 1}, 460, "drop"]: one per request."""
        self.state.queue_faults(faults)

    def set_latency(self, ms: float) -> None:
        self.state.set_latency(ms)

    def seed_demo(self) -> dict[str, Any]:
        return seed_demo(self.state)

    def reset(self) -> None:
        self.state.reset()


@pytest.fixture(scope="session")
def fake_segment_server() -> Iterator[FakeSegmentServer]:
    server = FakeSegmentServer("127.0.0.1", 0).start()
    yield server
    server.stop()


@pytest.fixture
def fake_segment(fake_segment_server: FakeSegmentServer, settings: Any) -> Iterator[FakeSegment]:
    fake_segment_server.state.reset()
    url = fake_segment_server.url
    settings.SEGMENT_TRACKING_API_URL = url
    settings.SEGMENT_PUBLIC_API_URL = url
    settings.SEGMENT_PROFILES_API_URL = url
    yield FakeSegment(fake_segment_server)
    fake_segment_server.state.reset()
