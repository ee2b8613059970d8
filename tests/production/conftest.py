"""Fixtures for the Production tests: the credentials tests' fake Public API, the call screens'
logged-in clients."""

from __future__ import annotations

from tests.calls.conftest import marketer_client, support_client
from tests.credentials.conftest import public_api

__all__ = ["marketer_client", "public_api", "support_client"]
