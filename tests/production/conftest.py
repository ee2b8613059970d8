"""Fixtures for the Production tests: the credentials tests' fake Public API."""

from __future__ import annotations

from tests.credentials.conftest import public_api

__all__ = ["public_api"]
