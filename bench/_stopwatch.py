"""Where a post's time goes, for ``bench/call_screens.py --breakdown``.

``STOPWATCH.wrap(owner, "name", "label")`` replaces ``owner.name`` by a function that times
each call under ``label``; ``ViewStopwatch``, added last to the middleware, times everything
inside the middleware stack (URL resolution, the view, its response) under ``"view"``. A post's
spans are summed per label between ``begin(screen)`` and ``end()``, which keeps the sums per
screen and label (not during the warm-up: ``end(keep=False)``).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable
from functools import wraps
from time import perf_counter
from typing import Any


class Stopwatch:
    def __init__(self) -> None:
        self.screen = ""
        self.post: dict[str, float] = defaultdict(float)
        self.posts: dict[tuple[str, str], list[float]] = defaultdict(list)

    def begin(self, screen: str) -> None:
        self.screen = screen
        self.post.clear()

    def end(self, *, keep: bool = True) -> None:
        if keep:
            for label, ms in self.post.items():
                self.posts[(self.screen, label)].append(ms)

    def add(self, label: str, started: float) -> None:
        self.post[label] += (perf_counter() - started) * 1000

    def wrap(self, owner: Any, name: str, label: str) -> None:
        timed: Callable[..., Any] = getattr(owner, name)

        @wraps(timed)
        def timing(*args: Any, **kwargs: Any) -> Any:
            started = perf_counter()
            try:
                return timed(*args, **kwargs)
            finally:
                self.add(label, started)

        setattr(owner, name, timing)

    def median(self, screen: str, label: str) -> float:
        """The median ms a post of ``screen`` spent in ``label`` (0 where it never ran)."""
        return statistics.median(self.posts.get((screen, label)) or [0.0])


STOPWATCH = Stopwatch()


class ViewStopwatch:
    """Innermost middleware: the time a post spends inside the middleware stack."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        started = perf_counter()
        try:
            return self.get_response(request)
        finally:
            STOPWATCH.add("view", started)
