"""Client-side rate limiting shared by the connectors: a token bucket per CRM org, kept below the
vendor's burst limit, and waits that honour ``Retry-After``. ``sleep`` and ``monotonic`` are
injectable so tests can run without waiting."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["TokenBucket", "parse_retry_after"]


class TokenBucket:
    """Allows ``rate`` calls per second on average and bursts of up to ``capacity``.

    ``acquire`` blocks until a token is available; ``hold_until`` makes every caller wait until a
    moment (a ``Retry-After`` from the server applies to the whole org, not just one thread).
    """

    def __init__(
        self,
        rate: float,
        capacity: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a token bucket needs a positive rate and a capacity of at least 1")
        self.rate = rate
        self.capacity = capacity
        self._monotonic = monotonic
        self._sleep = sleep
        self._tokens = capacity
        self._stamp = monotonic()
        self._not_before = 0.0
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                wait = max(self._not_before - now, 0.0)
                # The tolerance absorbs float rounding: after waiting exactly (1 - tokens) / rate
                # the refill can land a hair under 1, and a clock too coarse to advance by the
                # next tiny wait would spin forever.
                if wait == 0.0 and self._tokens >= 1 - 1e-9:
                    self._tokens -= 1
                    return
                if wait == 0.0:
                    wait = (1 - self._tokens) / self.rate
            self.waited += wait
            self._sleep(wait)

    def hold_until(self, seconds_from_now: float) -> None:
        """No call leaves before ``seconds_from_now`` (from a Retry-After)."""
        with self._lock:
            self._not_before = max(self._not_before, self._monotonic() + max(seconds_from_now, 0.0))


def parse_retry_after(value: str | None, default: float = 1.0) -> float:
    """Seconds from a Retry-After header (delta-seconds form; HTTP dates fall back to ``default``)."""
    if not value:
        return default
    try:
        return max(float(value.strip()), 0.0)
    except ValueError:
        return default
