"""Base URLs of Segment's three APIs, by region, overridable by settings.

The settings are read on every call (never at import time) so tests can point the client at
the local fake with pytest-django's ``settings`` fixture.
"""

from __future__ import annotations

from typing import Literal

from django.conf import settings

Region = Literal["us", "eu"]
REGIONS: tuple[Region, ...] = ("us", "eu")

TRACKING_HOSTS: dict[str, str] = {
    "us": "https://api.segment.io",
    "eu": "https://events.eu1.segmentapis.com",
}
PUBLIC_HOSTS: dict[str, str] = {
    "us": "https://api.segmentapis.com",
    "eu": "https://eu1.api.segmentapis.com",
}
PROFILES_HOSTS: dict[str, str] = {
    "us": "https://profiles.segment.com",
    "eu": "https://profiles.euw1.segment.com",
}


def _region(region: str) -> str:
    value = (region or "").strip().lower()
    if value not in REGIONS:
        raise ValueError(f"Unknown Segment region {region!r}: use 'us' or 'eu'.")
    return value


def _base(setting: str, hosts: dict[str, str], region: str) -> str:
    key = _region(region)
    override = getattr(settings, setting, "") or ""
    return (override or hosts[key]).rstrip("/")


def tracking_base(region: str) -> str:
    """Tracking API base without ``/v1`` and without a trailing slash."""
    return _base("SEGMENT_TRACKING_API_URL", TRACKING_HOSTS, region)


def public_base(region: str) -> str:
    """Public API base without a trailing slash."""
    return _base("SEGMENT_PUBLIC_API_URL", PUBLIC_HOSTS, region)


def profiles_base(region: str) -> str:
    """Profile API base without a trailing slash."""
    return _base("SEGMENT_PROFILES_API_URL", PROFILES_HOSTS, region)
