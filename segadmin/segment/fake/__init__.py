"""A faithful local fake of Segment's Tracking, Public and Profile APIs (segment-api.md §9-11)."""

from __future__ import annotations

from segadmin.segment.fake.demo import seed_demo
from segadmin.segment.fake.server import FakeSegmentServer
from segadmin.segment.fake.state import FakeState

__all__ = ["FakeSegmentServer", "FakeState", "seed_demo"]
