"""The retry policy every outbound client shares (connectors.limits): the server's Retry-After when
it sent one, else exponential backoff up to the longest wait slept in place; past the retries or the
longest wait, RetryLater (the outbox waits instead), and a Retry-After holds every caller."""

from __future__ import annotations

import pytest

from connectors.limits import RetryPolicy, TokenBucket
from nurture.errors import RetryLater
from tests.fixtures.clock import ManualClock

POLICY = RetryPolicy(max_retries=4, max_wait_s=30.0, backoff_s=0.5)


def test_backoff_doubles_up_to_the_longest_wait() -> None:
    assert [POLICY.backoff(n) for n in range(1, 9)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_the_servers_retry_after_wins_and_an_http_date_falls_back() -> None:
    assert POLICY.wait(1, "7") == 7.0
    assert POLICY.wait(3, None) == 2.0
    assert POLICY.wait(1, None, default=10.0) == 10.0  # a vendor's documented wait (HubSpot's rolling limit)
    assert POLICY.wait(2, "Wed, 21 Oct 2026 07:28:00 GMT") == 1.0  # not seconds: the backoff


def test_it_gives_up_past_the_retries_or_a_wait_longer_than_it_sleeps_in_place() -> None:
    assert not POLICY.gives_up(4, 4.0)
    assert POLICY.gives_up(5, 0.5)
    assert POLICY.gives_up(1, 31.0)


def test_a_pause_holds_every_caller_for_a_retry_after_and_raises_retry_later_when_it_gives_up() -> None:
    clock = ManualClock()
    start = clock.monotonic()
    bucket = TokenBucket(10, 1, monotonic=clock.monotonic, sleep=clock.sleep)
    POLICY.pause(1, "fhir: read failed (429)", retry_after="3", bucket=bucket, sleep=clock.sleep)
    assert clock.sleeps == [3.0]
    POLICY.pause(2, "fhir: read failed (503)", retry_after=None, bucket=bucket, sleep=clock.sleep)
    assert clock.sleeps == [3.0, 1.0]
    with pytest.raises(RetryLater) as raised:
        POLICY.pause(1, "fhir: read failed (429)", retry_after="120", bucket=bucket, sleep=clock.sleep)
    assert raised.value.retry_after == 120.0 and "fhir: read failed (429)" in str(raised.value)
    bucket.acquire()  # the 120 s the server asked for hold the next caller too
    assert clock.monotonic() >= start + 4.0 + 120.0
    with pytest.raises(RetryLater) as raised:
        POLICY.pause(5, "calcom: bookings failed (ConnectionError)", retry_after=None, bucket=bucket, sleep=clock.sleep)
    assert raised.value.retry_after is None  # the server said nothing: the outbox's own backoff decides
