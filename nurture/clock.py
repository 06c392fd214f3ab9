"""Time arithmetic the rules share: opening hours, quiet hours and parts of the day, across time
zones and daylight-saving changes. Every function takes aware datetimes; nothing reads the clock.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nurture.vocab import ContactWindow

__all__ = [
    "ClinicHours",
    "DailyWindow",
    "Interval",
    "as_utc",
    "require_aware",
    "window_of",
    "zone",
]

#: Parts of the day, as half-open [start, end) hours in the patient's local time.
WINDOW_HOURS: Mapping[ContactWindow, tuple[int, int]] = {
    ContactWindow.MORNING: (0, 12),
    ContactWindow.AFTERNOON: (12, 17),
    ContactWindow.EVENING: (17, 24),
}


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; raises ValueError naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def require_aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime")
    return value


def as_utc(value: datetime) -> datetime:
    return require_aware(value, "datetime").astimezone(UTC)


def window_of(at: datetime, tz: ZoneInfo) -> ContactWindow:
    """The part of the day ``at`` falls in, in time zone ``tz``."""
    hour = at.astimezone(tz).hour
    for window, (start, end) in WINDOW_HOURS.items():
        if start <= hour < end:
            return window
    raise AssertionError("WINDOW_HOURS covers the whole day")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class Interval:
    """A half-open span of absolute time [start, end), both aware (UTC in practice)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("Interval end must be after its start")

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def intersect(self, other: Interval) -> Interval | None:
        start, end = max(self.start, other.start), min(self.end, other.end)
        return Interval(start, end) if start < end else None


@dataclass(frozen=True, slots=True, kw_only=True)
class DailyWindow:
    """A local-time window repeated every day, e.g. the 08:00–21:00 calling hours.

    Attributes:
        start: local time the window opens.
        end: local time it closes (after ``start``; windows across midnight are not needed here).
    """

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"window end {self.end} must be after its start {self.start}")

    def on(self, day: date, tz: ZoneInfo) -> Interval:
        """The absolute interval of this window on local calendar day ``day`` in ``tz``."""
        return _window_on(self, day, tz)


@lru_cache(maxsize=65536)
def _window_on(window: DailyWindow, day: date, tz: ZoneInfo) -> Interval:
    # Pure and hot (the cadence planner asks for the same days again and again): cached.
    return Interval(_local(day, window.start, tz), _local(day, window.end, tz))


@lru_cache(maxsize=16384)
def _opening_on(hours: ClinicHours, day: date) -> tuple[Interval, ...]:
    if day in hours.holidays:
        return ()
    tz = hours.tz
    return tuple(w.on(day, tz) for w in hours.weekly.get(day.weekday(), ()))


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    """Local wall time to UTC. A wall time skipped by a spring-forward change maps to the instant
    the clocks jump to; an ambiguous one (fall back) to its first occurrence."""
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=tz, fold=0)
    # Round-trip through UTC: a non-existent wall time comes back different, and then the
    # instant after the gap is the truthful answer.
    back = aware.astimezone(UTC).astimezone(tz)
    if back.replace(tzinfo=None) != naive:
        aware = naive.replace(tzinfo=tz, fold=1)
    return aware.astimezone(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClinicHours:
    """When the clinic's staff answer: weekly opening hours in the clinic's time zone, less holidays.

    Attributes:
        timezone: IANA name of the clinic's time zone.
        weekly: for each weekday (0 = Monday) the local windows the clinic is open, in order.
        holidays: local dates the clinic is closed all day.
    """

    timezone: str
    weekly: Mapping[int, Sequence[DailyWindow]]
    holidays: frozenset[date] = field(default_factory=frozenset)
    _hash: int = field(init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        return self._hash

    def __post_init__(self) -> None:
        zone(self.timezone)
        week = tuple(tuple(self.weekly.get(d, ())) for d in range(7))
        # Hashable by value (the planner caches per clinic and day); computed once.
        object.__setattr__(self, "_hash", hash((self.timezone, week, self.holidays)))
        for weekday, windows in self.weekly.items():
            if weekday not in range(7):
                raise ValueError(f"weekday {weekday} is not 0 (Monday) .. 6 (Sunday)")
            for before, after in itertools.pairwise(windows):
                if after.start < before.end:
                    raise ValueError(f"opening windows overlap on weekday {weekday}")
        if not any(self.weekly.values()):
            raise ValueError("the clinic must be open at some time of the week")

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    def intervals_on(self, day: date) -> tuple[Interval, ...]:
        """Opening intervals on local calendar day ``day``."""
        return _opening_on(self, day)

    def is_open(self, at: datetime) -> bool:
        return any(i.contains(at) for i in self.intervals_on(at.astimezone(self.tz).date()))

    def next_open_day(self, day: date) -> date:
        """``day`` itself if the clinic opens on it, else the next local day it does."""
        for offset in range(366):
            candidate = day + timedelta(days=offset)
            if self.intervals_on(candidate):
                return candidate
        raise ValueError("the clinic does not open within a year")  # pragma: no cover
