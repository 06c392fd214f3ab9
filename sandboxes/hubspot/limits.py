"""The HubSpot sandbox's rate limits: the per-app burst window and the daily allowance
(:class:`RateLimits`), counted in sliding windows; ``auth`` answers with HubSpot's 429 and
``X-HubSpot-RateLimit-*`` headers from them.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimits:
    """The portal's API limits (defaults: a Professional portal's private app).

    Attributes:
        burst: requests allowed in any rolling ``burst_window_s`` (HubSpot: 100 Starter, 190 Pro/Enterprise).
        burst_window_s: the rolling window of the burst limit (HubSpot: 10 s).
        search_per_second: CRM search requests allowed in any rolling second (HubSpot: 5).
        daily: the daily allowance reported in the ``X-HubSpot-RateLimit-Daily`` header.
    """

    burst: int = 190
    burst_window_s: float = 10.0
    search_per_second: int = 5
    daily: int = 650_000

    def __post_init__(self) -> None:
        if self.burst < 1 or self.search_per_second < 1 or self.daily < 1:
            raise ValueError("RateLimits: every limit must be at least 1")
        if self.burst_window_s <= 0:
            raise ValueError("RateLimits.burst_window_s must be positive")


class _SlidingWindow:
    """Counts admitted calls in a rolling window (monotonic time, thread-safe)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._stamps: deque[float] = deque()
        self._lock = threading.Lock()

    def _prune(self, now: float) -> None:
        while self._stamps and self._stamps[0] <= now - self.window_s:
            self._stamps.popleft()

    def admit(self) -> int | None:
        """Admit a call, or answer the whole seconds until one would be admitted."""
        now = time.monotonic()
        with self._lock:
            self._prune(now)
            if len(self._stamps) >= self.limit:
                return max(1, math.ceil(self._stamps[0] + self.window_s - now))
            self._stamps.append(now)
            return None

    def remaining(self, last_s: float | None = None, limit: int | None = None) -> int:
        """Calls still allowed in the window (or in the last ``last_s`` seconds against ``limit``)."""
        now = time.monotonic()
        with self._lock:
            self._prune(now)
            if last_s is None:
                return max(0, self.limit - len(self._stamps))
            recent = sum(1 for s in self._stamps if s > now - last_s)
            return max(0, (limit or self.limit) - recent)
