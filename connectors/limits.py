"""Client-side limits shared by every outbound client (Salesforce, HubSpot, FHIR, Cal.com,
Calendly): a token bucket per org or account, kept below the vendor's burst limit, and one retry
policy — how long to wait before each retry (the server's ``Retry-After`` when it sent one, else
exponential backoff) and when to stop retrying in place and raise ``RetryLater`` so the work waits
in the outbox. Which answers are retried is each vendor's error table (``classify`` in each
connector); how is decided here, once. ``sleep`` and ``monotonic`` are injectable so tests can run
without waiting."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from nurture.errors import RetryLater

__all__ = ["RetryPolicy", "TokenBucket", "parse_retry_after"]

logger = logging.getLogger(__name__)


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


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How one outbound call retries in place.

    Attributes:
        max_retries: retries after the first attempt before giving up (``RetryLater``).
        max_wait_s: the longest wait slept in place; a longer ``Retry-After`` gives up at once (the
            outbox waits instead, without holding a worker).
        backoff_s: the first backoff after a 5xx or a network error; it doubles with each retry,
            up to ``max_wait_s``.
    """

    max_retries: int
    max_wait_s: float
    backoff_s: float

    def backoff(self, retry: int) -> float:
        """Seconds before retry number ``retry`` (1 for the first) when the server said nothing."""
        return float(min(self.backoff_s * 2 ** (retry - 1), self.max_wait_s))

    def wait(self, retry: int, retry_after: str | None = None, *, default: float | None = None) -> float:
        """Seconds before retry ``retry``: the server's ``Retry-After`` when it sent one, else
        ``default`` (a vendor's documented wait), else the backoff."""
        return parse_retry_after(retry_after, default=self.backoff(retry) if default is None else default)

    def gives_up(self, retry: int, wait: float) -> bool:
        """True when retry ``retry`` should not happen in place: out of retries, or a wait longer
        than ``max_wait_s``."""
        return retry > self.max_retries or wait > self.max_wait_s

    def pause(
        self,
        retry: int,
        failure: str,
        *,
        retry_after: str | None,
        bucket: TokenBucket,
        sleep: Callable[[float], None],
    ) -> None:
        """Before retry ``retry`` of a call that failed with ``failure`` (no values in it): hold
        every caller of ``bucket`` until a server's ``Retry-After`` ends (the limit is the
        account's), then sleep the wait; or raise ``RetryLater`` when the policy gives up."""
        wait = self.wait(retry, retry_after)
        if retry_after:
            bucket.hold_until(wait)
        if self.gives_up(retry, wait):
            raise RetryLater(failure, retry_after=wait if retry_after else None)
        logger.info("%s; retrying in %.1fs", failure, wait)
        sleep(wait)
