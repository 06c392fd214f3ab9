"""Speed to lead: how fast the clinic first tries, and first manages, to reach each new inquiry.

**Speed to lead**: time from receipt to the first outbound attempt and to the first contact, in
elapsed minutes; median and 90th percentile by linear interpolation between closest ranks. *Within
target*: the first attempt came within the channel's ``response_minutes`` of **clinic opening
time** (time the clinic was closed does not count); a lead not yet attempted counts as a miss once
that much opening time has passed, and is left out before. *After hours*: received while the
clinic was closed (``ClinicHours.is_open``).
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from hub.review.measures.counts import Count, percentile, share_of
from nurture.clock import ClinicHours

__all__ = [
    "NOT_ATTEMPTED",
    "SPEED_BUCKETS",
    "LeadClock",
    "LeadTiming",
    "SpeedRow",
    "SpeedToLead",
    "open_minutes",
    "speed_to_lead",
]

#: Upper bounds (minutes) of the speed-to-lead distribution's buckets; the last bucket is open.
SPEED_BUCKETS: tuple[tuple[str, float], ...] = (
    ("≤ 5 min", 5),
    ("5–15 min", 15),
    ("15–30 min", 30),
    ("30–60 min", 60),
    ("1–4 h", 240),
    ("4–24 h", 1440),
    ("> 24 h", math.inf),
)
NOT_ATTEMPTED = "not attempted"


class LeadTiming(NamedTuple):
    """One lead's speed-to-lead clock.

    Attributes:
        channel: the lead's channel.
        created_at: when the inquiry was received, aware.
        first_attempt_at: the first outbound attempt, or None.
        first_contact_at: the first contact, or None.
    """

    channel: str
    created_at: datetime
    first_attempt_at: datetime | None
    first_contact_at: datetime | None

    def clock(self) -> LeadClock:
        return LeadClock(
            self.channel,
            self.created_at.timestamp(),
            None if self.first_attempt_at is None else self.first_attempt_at.timestamp(),
            None if self.first_contact_at is None else self.first_contact_at.timestamp(),
        )


class LeadClock(NamedTuple):
    """A lead's speed-to-lead clock as POSIX timestamps (what PostgreSQL's ``date_part('epoch',
    …)`` and ``datetime.timestamp()`` both give: the same doubles), so a large cohort is read and
    measured without making a datetime per value."""

    channel: str
    created: float
    first_attempt: float | None
    first_contact: float | None


def open_minutes(hours: ClinicHours, start: datetime, end: datetime, *, cap: float | None = None) -> float:
    """Minutes the clinic was open between ``start`` and ``end`` (0 when ``end`` is not later).

    With ``cap``, counting stops once ``cap`` is passed (the result is then > ``cap``): enough to
    tell whether a target was missed, without walking months of calendar for an old lead.
    """
    if end <= start:
        return 0.0
    tz = hours.tz
    day = start.astimezone(tz).date()
    last = end.astimezone(tz).date()
    total = 0.0
    while day <= last:
        for interval in hours.intervals_on(day):
            s = interval.start if interval.start > start else start
            e = interval.end if interval.end < end else end
            if s < e:
                total += (e - s).total_seconds() / 60
        if cap is not None and total > cap:
            return total
        day += timedelta(days=1)
    return total


class _Calendar:
    """The clinic's opening intervals as UTC timestamps, worked out once per local day: what
    :func:`speed_to_lead` asks of every lead (open at receipt? open minutes to the first attempt?)
    without working the time zone out again for each lead. Answers exactly as
    :func:`open_minutes` and ``ClinicHours.is_open`` do."""

    __slots__ = ("_bounds", "_cum", "_days", "_first", "_hours", "_last", "_tz")

    def __init__(self, hours: ClinicHours, span: tuple[datetime, datetime] | None = None) -> None:
        self._hours = hours
        self._tz = hours.tz
        self._days: dict[date, tuple[tuple[float, float], ...]] = {}
        # Over ``span``: every opening's start and end in one sorted list, with the open seconds
        # up to each, so a lead's open minutes are two binary searches, however long it waited.
        self._bounds: list[float] = []
        self._cum: list[float] = []
        self._first = self._last = 0.0
        if span is not None:
            day = span[0].astimezone(self._tz).date() - timedelta(days=1)
            last = span[1].astimezone(self._tz).date() + timedelta(days=1)
            bounds: list[float] = []
            cum: list[float] = []
            ordered = True
            while day <= last:
                for s, e in self._on(day):
                    if bounds and s < bounds[-1]:
                        ordered = False
                    bounds += [s, e]
                    cum += [cum[-1] if cum else 0.0, (cum[-1] if cum else 0.0) + (e - s)]
                day += timedelta(days=1)
            if ordered and bounds:
                self._bounds, self._cum = bounds, cum
                self._first, self._last = bounds[0], bounds[-1]

    def _open_seconds_to(self, t: float) -> float:
        i = bisect.bisect_right(self._bounds, t)
        if i == 0:
            return 0.0
        return self._cum[i - 1] + (t - self._bounds[i - 1] if i % 2 else 0.0)

    def _covers(self, *times: float) -> bool:
        return bool(self._bounds) and all(self._first <= t <= self._last for t in times)

    def _on(self, day: date) -> tuple[tuple[float, float], ...]:
        found = self._days.get(day)
        if found is None:
            found = tuple((i.start.timestamp(), i.end.timestamp()) for i in self._hours.intervals_on(day))
            self._days[day] = found
        return found

    def bounds(self) -> tuple[list[float], list[float]]:
        """The openings over the span (start, end, start, end …, sorted) and the open seconds up to
        each; empty when no span was given or the openings overlap."""
        return self._bounds, self._cum

    def is_open_at(self, t: float) -> bool:
        """:meth:`is_open` of a timestamp."""
        if self._bounds and self._first <= t <= self._last:
            return bisect.bisect_right(self._bounds, t) % 2 == 1
        return self.is_open(datetime.fromtimestamp(t, UTC))

    def open_minutes_between(self, a: float, b: float, *, cap: float | None = None) -> float:
        """:meth:`open_minutes` of two timestamps."""
        if b <= a:
            return 0.0
        if self._bounds and self._first <= a and b <= self._last:
            return (self._open_seconds_to(b) - self._open_seconds_to(a)) / 60
        return self.open_minutes(datetime.fromtimestamp(a, UTC), datetime.fromtimestamp(b, UTC), cap=cap)

    def is_open(self, at: datetime) -> bool:
        t = at.timestamp()
        if self._covers(t):
            return bisect.bisect_right(self._bounds, t) % 2 == 1
        return any(s <= t < e for s, e in self._on(at.astimezone(self._tz).date()))

    def open_minutes(self, start: datetime, end: datetime, *, cap: float | None = None) -> float:
        """As :func:`open_minutes` (with ``cap``, a total past the cap may be larger than that
        function's, never on the other side of it)."""
        if end <= start:
            return 0.0
        a, b = start.timestamp(), end.timestamp()
        if self._covers(a, b):
            return (self._open_seconds_to(b) - self._open_seconds_to(a)) / 60
        day = start.astimezone(self._tz).date()
        last = end.astimezone(self._tz).date()
        total = 0.0
        while day <= last:
            for s, e in self._on(day):
                lo = s if s > a else a
                hi = e if e < b else b
                if lo < hi:
                    total += (hi - lo) / 60
            if cap is not None and total > cap:
                return total
            day += timedelta(days=1)
        return total


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeedRow:
    """Speed to lead of one channel (or of all: ``channel`` is ``all``).

    Attributes:
        channel: the channel.
        leads: inquiries received.
        target_minutes: the channel's response target (opening minutes), None for ``all``.
        attempted, contacted: leads with a first attempt / a first contact.
        median_attempt_minutes, p90_attempt_minutes: elapsed minutes from receipt to the first attempt.
        median_contact_minutes, p90_contact_minutes: the same to the first contact.
        due: leads whose target has come due (attempted, or not attempted past the target).
        within_target: of those, first attempts inside the target.
        within_target_share: ``within_target`` over ``due``.
        after_hours: leads received while the clinic was closed.
        after_hours_share: over ``leads``.
        distribution: leads per bucket of time to first attempt (``SPEED_BUCKETS``, then not attempted).
    """

    channel: str
    leads: int
    target_minutes: int | None
    attempted: int
    contacted: int
    median_attempt_minutes: float | None
    p90_attempt_minutes: float | None
    median_contact_minutes: float | None
    p90_contact_minutes: float | None
    due: int
    within_target: int
    within_target_share: float | None
    after_hours: int
    after_hours_share: float | None
    distribution: tuple[Count, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeedToLead:
    """Speed to lead per channel, and for all channels together (``total``)."""

    rows: tuple[SpeedRow, ...]
    total: SpeedRow


class _SpeedTally:
    __slots__ = ("after_hours", "attempt", "buckets", "contact", "due", "leads", "within")

    def __init__(self) -> None:
        self.leads = self.due = self.within = self.after_hours = 0
        self.attempt: list[float] = []
        self.contact: list[float] = []
        self.buckets = [0] * (len(SPEED_BUCKETS) + 1)

    def add(self, other: _SpeedTally) -> None:
        self.leads += other.leads
        self.due += other.due
        self.within += other.within
        self.after_hours += other.after_hours
        self.attempt += other.attempt
        self.contact += other.contact
        self.buckets = [a + b for a, b in zip(self.buckets, other.buckets, strict=True)]

    def freeze(self, channel: str, target: int | None) -> SpeedRow:
        self.attempt.sort()
        self.contact.sort()
        names = [name for name, _ in SPEED_BUCKETS] + [NOT_ATTEMPTED]
        return SpeedRow(
            channel=channel,
            leads=self.leads,
            target_minutes=target,
            attempted=len(self.attempt),
            contacted=len(self.contact),
            median_attempt_minutes=percentile(self.attempt, 0.5),
            p90_attempt_minutes=percentile(self.attempt, 0.9),
            median_contact_minutes=percentile(self.contact, 0.5),
            p90_contact_minutes=percentile(self.contact, 0.9),
            due=self.due,
            within_target=self.within,
            within_target_share=share_of(self.within, self.due),
            after_hours=self.after_hours,
            after_hours_share=share_of(self.after_hours, self.leads),
            distribution=tuple(
                Count(name=name, n=n, share=share_of(n, self.leads))
                for name, n in zip(names, self.buckets, strict=True)
            ),
        )


_BUCKET_BOUNDS = tuple(bound for _, bound in SPEED_BUCKETS)


def speed_to_lead(
    leads: Iterable[LeadTiming | LeadClock],
    *,
    hours: ClinicHours,
    targets: Mapping[str, int],
    default_target: int,
    as_of: datetime,
    span: tuple[datetime, datetime] | None = None,
) -> SpeedToLead:
    """Speed to lead per channel (see the module for the definitions).

    Args:
        leads: the cohort's clocks, as datetimes or as timestamps (the dashboard's path: a cohort
            of 100,000 leads is read and measured without a datetime per value).
        hours: the clinic's opening hours (after hours, and the target's clock).
        targets: response target in minutes per channel.
        default_target: the target of a channel missing from ``targets`` (the ``other`` channel's).
        as_of: when the measure is taken: an unattempted lead is a miss once its target has passed.
        span: the first receipt and the last attempt there can be (the period's start and
            ``as_of``), to work the clinic's openings out once for all leads; optional.
    """
    per: defaultdict[str, _SpeedTally] = defaultdict(_SpeedTally)
    calendar = _Calendar(hours, span)
    now = as_of.timestamp()
    # The hot loop of a 100,000-lead dashboard: the calendar's binary searches are inlined for
    # the timestamps its span covers (the rest ask the calendar), and each lead is tallied once,
    # in its channel (the total adds the channels up afterwards).
    bounds, cum = calendar.bounds()
    first, last = (bounds[0], bounds[-1]) if bounds else (math.inf, -math.inf)
    right, left = bisect.bisect_right, bisect.bisect_left
    slow_open, slow_minutes = calendar.is_open_at, calendar.open_minutes_between
    n_buckets = len(SPEED_BUCKETS)
    for lead in leads:
        channel, created, first_attempt, first_contact = lead.clock() if isinstance(lead, LeadTiming) else lead
        tally = per[channel]
        target = targets.get(channel, default_target)
        tally.leads += 1
        inside = first <= created <= last
        after_hours = (right(bounds, created) % 2 == 0) if inside else not slow_open(created)
        tally.after_hours += after_hours
        end = now if first_attempt is None else first_attempt
        if end <= created:
            waited = 0.0
        elif inside and end <= last:
            i, j = right(bounds, created), right(bounds, end)
            to_a = cum[i - 1] + (created - bounds[i - 1] if i % 2 else 0.0) if i else 0.0
            to_b = cum[j - 1] + (end - bounds[j - 1] if j % 2 else 0.0) if j else 0.0
            waited = round(to_b - to_a, 6) / 60  # to the microsecond, as the difference above
        else:
            waited = slow_minutes(created, end, cap=target)
        if first_attempt is not None:
            # Differences rounded to the microsecond the store keeps: two timestamps' doubles are
            # not exact, and 300.0000002 s must stay "5 minutes", in the ≤ 5 min bucket.
            minutes = max(0.0, round(first_attempt - created, 6) / 60)
            tally.buckets[left(_BUCKET_BOUNDS, minutes)] += 1
            tally.attempt.append(minutes)
            tally.due += 1
            tally.within += waited <= target
        else:
            tally.buckets[n_buckets] += 1
            tally.due += waited > target
        if first_contact is not None:
            tally.contact.append(max(0.0, round(first_contact - created, 6) / 60))
    total = _SpeedTally()
    for tally in per.values():
        total.add(tally)
    rows = [per[c].freeze(c, targets.get(c, default_target)) for c in per]
    rows.sort(key=lambda r: (-r.leads, r.channel))
    return SpeedToLead(rows=tuple(rows), total=total.freeze("all", None))
