"""The span a review covers and the filters it applies: plain values, no I/O.

A :class:`Period` is a half-open span of absolute time ``[start, end)`` with a label; ISO weeks and
runs of local days are cut at local midnight in the clinic's time zone, so a week holds 167 or 169
hours across a daylight-saving change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from nurture.clock import require_aware, zone

__all__ = ["Filters", "Period", "iso_week_label", "local_midnight"]

_ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def local_midnight(day: date, timezone: str) -> datetime:
    """The instant local day ``day`` starts in ``timezone``, in UTC.

    Where a daylight-saving change skips midnight, the day starts at the first wall time that exists.
    """
    tz = zone(timezone)
    naive = datetime.combine(day, time())
    aware = naive.replace(tzinfo=tz)
    if aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        aware = naive.replace(tzinfo=tz, fold=1)
    return aware.astimezone(UTC)


def iso_week_label(day: date) -> str:
    """``2026-W48`` for any day of that ISO week."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Period:
    """A half-open span ``[start, end)`` of absolute time.

    Attributes:
        start: first instant included, aware UTC.
        end: first instant excluded, aware UTC, after ``start``.
        label: how reports name it (``2026-W48``, ``2026-11-01 – 2026-11-30``).
    """

    start: datetime
    end: datetime
    label: str

    def __post_init__(self) -> None:
        require_aware(self.start, "Period.start")
        require_aware(self.end, "Period.end")
        if self.end <= self.start:
            raise ValueError(f"period {self.label!r}: end must be after start")
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "end", self.end.astimezone(UTC))

    @classmethod
    def iso_week(cls, week: str, timezone: str) -> Period:
        """The ISO week ``week`` (``2026-W48``): Monday 00:00 to the next Monday 00:00, local time.

        Raises:
            ValueError: when ``week`` is not a valid ISO week.
        """
        match = _ISO_WEEK.match(week.strip())
        if not match:
            raise ValueError(f"{week!r} is not an ISO week like '2026-W48'")
        try:
            monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
        except ValueError:
            raise ValueError(f"{week!r} is not a week of that year") from None
        return cls.local_days(monday, monday + timedelta(days=6), timezone, label=iso_week_label(monday))

    @classmethod
    def local_days(cls, first: date, last: date, timezone: str, *, label: str | None = None) -> Period:
        """Local days ``first`` to ``last`` inclusive, in ``timezone``."""
        if last < first:
            raise ValueError(f"period: {last} is before {first}")
        return cls(
            start=local_midnight(first, timezone),
            end=local_midnight(last + timedelta(days=1), timezone),
            label=label or (first.isoformat() if first == last else f"{first.isoformat()} – {last.isoformat()}"),
        )

    def weeks_back(self, count: int, timezone: str) -> tuple[Period, ...]:
        """The ``count`` ISO weeks ending with the one this period ends in, oldest first (for trends)."""
        if count < 1:
            raise ValueError("weeks_back needs at least one week")
        last_day = (self.end - timedelta(microseconds=1)).astimezone(zone(timezone)).date()
        monday = last_day - timedelta(days=last_day.weekday())
        mondays = [monday - timedelta(weeks=n) for n in range(count - 1, -1, -1)]
        return tuple(Period.iso_week(iso_week_label(m), timezone) for m in mondays)

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True, slots=True, kw_only=True)
class Filters:
    """Which leads a review looks at; None means all.

    Attributes:
        channel: a channel name (``paid_search``).
        location: a location id from the configuration.
        service: a service id from the configuration.
    """

    channel: str | None = None
    location: str | None = None
    service: str | None = None

    def __post_init__(self) -> None:
        for name in ("channel", "location", "service"):
            value = getattr(self, name)
            if value is not None and not value.strip():
                raise ValueError(f"Filters.{name} must be None or a non-empty id")

    @property
    def active(self) -> dict[str, str]:
        """The filters that are set, by name."""
        return {
            name: value for name in ("channel", "location", "service") if (value := getattr(self, name)) is not None
        }
