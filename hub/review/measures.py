"""The review's measures: pure aggregation over plain row values. No database, no clock, no I/O.

Each measure takes an iterable of small named tuples (what :mod:`hub.review.queries` streams from the
store, or what a test builds by hand) and returns a frozen result. Rows that carry a count ``n`` may
stand for one lead (``n=1``) or for a group the database already counted: the results are the same.

Definitions (also in ``docs/review.md``):

- **Cohort**: the leads *created* in the period (duplicates merged into another lead excluded), with
  the stage they stand at when the measure is computed.
- **Funnel**: inquiries → reached → scheduled → prepared → kept. A lead counts at a step when it got
  there, whatever happened later (a booked lead that cancelled still counts as scheduled):
  reached = first contact recorded, or a stage from ``reached`` on, or booked; scheduled = booked,
  or a stage from ``scheduled`` on (``no_show`` included); prepared = stage ``prepared`` or ``kept``;
  kept = stage ``kept``. Declined, not a fit and unreachable are the closed stages, counted apart.
  Conversion at a step = its count ÷ the previous step's count.
- **Speed to lead**: time from receipt to the first outbound attempt and to the first contact, in
  elapsed minutes; median and 90th percentile by linear interpolation between closest ranks. *Within
  target*: the first attempt came within the channel's ``response_minutes`` of **clinic opening
  time** (time the clinic was closed does not count); a lead not yet attempted counts as a miss once
  that much opening time has passed, and is left out before. *After hours*: received while the
  clinic was closed (``ClinicHours.is_open``).
- **Stalled**: open leads whose next action is overdue, with one reason each (see :func:`stall_reason`).
- **Follow-up timing**: every outbound touch is an attempt, numbered per lead in time order; it
  *reached* the patient when its outcome is ``reached`` or the lead's very next touch is inbound (the
  patient answered before any further attempt). Local hour and part of day in the clinic's time zone.
- **Confusion**: a send is an outbound touch whose cadence step has a known template; it is *answered
  with a question* when the lead's very next touch is an inbound ``replied``. The hub does not read
  reply text, so every such reply counts.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from nurture.clock import WINDOW_HOURS, ClinicHours
from nurture.vocab import ContactWindow, Intent, Need, NextActionKind, Stage, TouchOutcome

__all__ = [
    "NONE_LABEL",
    "AttemptCell",
    "ChannelQuestions",
    "Confusion",
    "Count",
    "FollowUpTiming",
    "Funnel",
    "FunnelCell",
    "FunnelCounts",
    "FunnelRow",
    "FunnelStep",
    "LanguageConversion",
    "LanguageRow",
    "LeadClock",
    "LeadTiming",
    "QuestionCell",
    "RateRow",
    "RepeatedQuestions",
    "ReplyFact",
    "ServiceDemand",
    "SpeedRow",
    "SpeedToLead",
    "StallReason",
    "Stalled",
    "StalledFact",
    "StalledGroup",
    "StalledLead",
    "TemplateConfusion",
    "TouchFact",
    "TrendCell",
    "Verdict",
    "WeekPoint",
    "attempt_cells",
    "confusion",
    "follow_up_timing",
    "funnel",
    "language_conversion",
    "open_minutes",
    "percentile",
    "repeated_questions",
    "service_demand",
    "speed_to_lead",
    "stall_reason",
    "stalled_leads",
    "trend",
]

#: How a missing dimension value (no campaign, no service …) is shown.
NONE_LABEL = "(none)"
FUNNEL_DIMENSIONS = ("channel", "campaign", "location", "service", "language")
FUNNEL_STEPS = ("inquiries", "reached", "scheduled", "prepared", "kept")

REACHED_STAGES = frozenset({Stage.REACHED, Stage.SCHEDULED, Stage.PREPARED, Stage.KEPT, Stage.NO_SHOW})
SCHEDULED_STAGES = frozenset({Stage.SCHEDULED, Stage.PREPARED, Stage.KEPT, Stage.NO_SHOW})
PREPARED_STAGES = frozenset({Stage.PREPARED, Stage.KEPT})
#: Intents that make an inquiry scheduling-ready.
READY_INTENTS = frozenset({Intent.READY_TO_SCHEDULE})

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


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _label(value: str | None) -> str:
    return value if value else NONE_LABEL


@dataclass(frozen=True, slots=True, kw_only=True)
class Count:
    """How often one thing occurred.

    Attributes:
        name: the thing (an intent, a need, a reason …).
        n: how many leads (or attempts).
        share: ``n`` over the whole it belongs to, or None when that whole is zero.
    """

    name: str
    n: int
    share: float | None


def _counts(counter: Mapping[str, int], whole: int, *, top: int | None = None) -> tuple[Count, ...]:
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    if top is not None:
        ranked = ranked[:top]
    return tuple(Count(name=k, n=v, share=_share(v, whole)) for k, v in ranked)


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """The ``p`` quantile (0 ≤ p ≤ 1) of already sorted values, by linear interpolation between
    closest ranks (numpy's default, Excel's PERCENTILE.INC); None for no values."""
    if not 0 <= p <= 1:
        raise ValueError("percentile p must be between 0 and 1")
    if not sorted_values:
        return None
    position = p * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


# --- funnel -------------------------------------------------------------------------------------


class FunnelCell(NamedTuple):
    """Leads sharing every attribute the funnel looks at (one lead when ``n`` is 1).

    Attributes:
        channel, campaign, location, service: the lead's attributes (None when unknown).
        language: the lead's preferred language.
        ready: the lead's intent makes it scheduling-ready (``ready_to_schedule``).
        stage: the lead's stage now.
        contacted: a first contact was recorded.
        booked: a booking was recorded.
        n: how many leads.
    """

    channel: str
    campaign: str | None
    location: str | None
    service: str | None
    language: str
    ready: bool
    stage: str
    contacted: bool
    booked: bool
    n: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class FunnelStep:
    """One step of a funnel.

    Attributes:
        name: ``inquiries``, ``reached``, ``scheduled``, ``prepared`` or ``kept``.
        count: leads that got at least this far.
        from_previous: ``count`` over the previous step's count (None for the first step or a zero).
        from_inquiries: ``count`` over the inquiries.
    """

    name: str
    count: int
    from_previous: float | None
    from_inquiries: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FunnelCounts:
    """The funnel of a group of leads.

    Attributes:
        inquiries: leads in the group.
        reached, scheduled, prepared, kept: leads that got at least that far (see the module).
        declined, not_a_fit, unreachable, no_show: leads at that stage now.
        scheduling_ready: leads whose intent is ready-to-schedule.
    """

    inquiries: int = 0
    reached: int = 0
    scheduled: int = 0
    prepared: int = 0
    kept: int = 0
    declined: int = 0
    not_a_fit: int = 0
    unreachable: int = 0
    no_show: int = 0
    scheduling_ready: int = 0

    @property
    def steps(self) -> tuple[FunnelStep, ...]:
        """The five steps with their conversion rates."""
        out: list[FunnelStep] = []
        previous: int | None = None
        for name in FUNNEL_STEPS:
            count = int(getattr(self, name))
            out.append(
                FunnelStep(
                    name=name,
                    count=count,
                    from_previous=None if previous is None else _share(count, previous),
                    from_inquiries=_share(count, self.inquiries),
                )
            )
            previous = count
        return tuple(out)

    @property
    def ready_share(self) -> float | None:
        return _share(self.scheduling_ready, self.inquiries)


class _FunnelTally:
    __slots__ = (
        "declined",
        "inquiries",
        "kept",
        "no_show",
        "not_a_fit",
        "prepared",
        "reached",
        "scheduled",
        "scheduling_ready",
        "unreachable",
    )

    def __init__(self) -> None:
        self.inquiries = self.reached = self.scheduled = self.prepared = self.kept = 0
        self.declined = self.not_a_fit = self.unreachable = self.no_show = self.scheduling_ready = 0

    def add(self, cell: FunnelCell) -> None:
        n, stage = cell.n, cell.stage
        self.inquiries += n
        if cell.booked or stage in SCHEDULED_STAGES:
            self.scheduled += n
            self.reached += n
        elif cell.contacted or stage in REACHED_STAGES:
            self.reached += n
        if stage in PREPARED_STAGES:
            self.prepared += n
        if stage == Stage.KEPT:
            self.kept += n
        elif stage == Stage.DECLINED:
            self.declined += n
        elif stage == Stage.NOT_A_FIT:
            self.not_a_fit += n
        elif stage == Stage.UNREACHABLE:
            self.unreachable += n
        elif stage == Stage.NO_SHOW:
            self.no_show += n
        if cell.ready:
            self.scheduling_ready += n

    def freeze(self) -> FunnelCounts:
        return FunnelCounts(**{name: getattr(self, name) for name in self.__slots__})


@dataclass(frozen=True, slots=True, kw_only=True)
class FunnelRow:
    """The funnel of the leads sharing one value of a dimension (``key``)."""

    key: str
    counts: FunnelCounts


@dataclass(frozen=True, slots=True, kw_only=True)
class Funnel:
    """The funnel broken down by one dimension.

    Attributes:
        dimension: ``channel``, ``campaign``, ``location``, ``service`` or ``language``.
        rows: one per value seen, most inquiries first.
        total: all leads together.
    """

    dimension: str
    rows: tuple[FunnelRow, ...]
    total: FunnelCounts

    def row(self, key: str) -> FunnelCounts:
        """The counts of ``key`` (all zero when it did not occur)."""
        return next((r.counts for r in self.rows if r.key == key), FunnelCounts())


def funnel(cells: Iterable[FunnelCell], dimension: str) -> Funnel:
    """The funnel of ``cells`` per value of ``dimension`` (see the module for each step's rule).

    Raises:
        ValueError: for an unknown dimension.
    """
    return funnels(cells, (dimension,))[0]


def funnels(cells: Iterable[FunnelCell], dimensions: Sequence[str] = FUNNEL_DIMENSIONS) -> tuple[Funnel, ...]:
    """One :class:`Funnel` per dimension, in one pass over ``cells``. Duplicate leads are skipped."""
    unknown = [d for d in dimensions if d not in FUNNEL_DIMENSIONS]
    if unknown:
        raise ValueError(f"unknown funnel dimension {unknown[0]!r}; use one of {', '.join(FUNNEL_DIMENSIONS)}")
    total = _FunnelTally()
    per: list[defaultdict[str, _FunnelTally]] = [defaultdict(_FunnelTally) for _ in dimensions]
    for cell in cells:
        if cell.stage == Stage.DUPLICATE or cell.n <= 0:
            continue
        total.add(cell)
        for tallies, dimension in zip(per, dimensions, strict=True):
            tallies[_label(getattr(cell, dimension))].add(cell)
    out = []
    for tallies, dimension in zip(per, dimensions, strict=True):
        rows = [FunnelRow(key=key, counts=t.freeze()) for key, t in tallies.items()]
        rows.sort(key=lambda r: (-r.counts.inquiries, r.key))
        out.append(Funnel(dimension=dimension, rows=tuple(rows), total=total.freeze()))
    return tuple(out)


# --- language -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class LanguageRow:
    """Conversion of the inquiries in one preferred language.

    Attributes:
        language: ISO 639-1 code.
        counts: its funnel.
        reached_rate, scheduled_rate, kept_rate: reached / scheduled / kept over inquiries.
    """

    language: str
    counts: FunnelCounts
    reached_rate: float | None
    scheduled_rate: float | None
    kept_rate: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LanguageConversion:
    """Spanish-language inquiries against English ones (and any other language seen).

    Attributes:
        rows: one per language, most inquiries first.
        base, compared: the two languages compared (``en`` and ``es``).
        scheduled_gap_points: ``compared``'s scheduled rate minus ``base``'s, in percentage points
            (None when either has no inquiries).
        kept_gap_points: the same for kept.
    """

    rows: tuple[LanguageRow, ...]
    base: str
    compared: str
    scheduled_gap_points: float | None
    kept_gap_points: float | None

    def row(self, language: str) -> LanguageRow | None:
        return next((r for r in self.rows if r.language == language), None)


def language_conversion(by_language: Funnel, *, base: str = "en", compared: str = "es") -> LanguageConversion:
    """Conversion per preferred language, from the funnel by language."""
    if by_language.dimension != "language":
        raise ValueError("language_conversion needs the funnel by language")
    rows = tuple(
        LanguageRow(
            language=r.key,
            counts=r.counts,
            reached_rate=_share(r.counts.reached, r.counts.inquiries),
            scheduled_rate=_share(r.counts.scheduled, r.counts.inquiries),
            kept_rate=_share(r.counts.kept, r.counts.inquiries),
        )
        for r in by_language.rows
    )
    found = {r.language: r for r in rows}

    def gap(attr: str) -> float | None:
        a, b = found.get(base), found.get(compared)
        if a is None or b is None:
            return None
        va, vb = getattr(a, attr), getattr(b, attr)
        return None if va is None or vb is None else (vb - va) * 100

    return LanguageConversion(
        rows=rows,
        base=base,
        compared=compared,
        scheduled_gap_points=gap("scheduled_rate"),
        kept_gap_points=gap("kept_rate"),
    )


# --- services: demand against capacity ----------------------------------------------------------

#: Demand above this share of openings: promote less. Below ``PROMOTE_MORE_BELOW``: promote more.
PROMOTE_LESS_ABOVE = 1.0
PROMOTE_MORE_BELOW = 0.5


class Verdict(StrEnum):
    """What the demand for a service against its openings suggests."""

    PROMOTE_MORE = "promote more"
    PROMOTE_LESS = "promote less"
    BALANCED = "balanced"
    NO_CAPACITY_DATA = "no capacity data"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceDemand:
    """Demand for one service against its openings.

    Attributes:
        service: the service id (or ``(none)``).
        inquiries: inquiries about it in the period.
        scheduling_ready: those with a ready-to-schedule intent.
        demand: inquiries less those declined or not a fit (leads who want, or got, an appointment).
        scheduled: leads booked.
        openings: openings the scheduling system reports for the next period, or None if unknown.
        load: ``demand`` over ``openings`` (None without capacity data or with no openings).
        verdict: ``promote more`` (load < 0.5), ``promote less`` (load > 1, or no openings at all),
            ``balanced``, or ``no capacity data``.
    """

    service: str
    inquiries: int
    scheduling_ready: int
    demand: int
    scheduled: int
    openings: int | None
    load: float | None
    verdict: Verdict


def service_demand(
    by_service: Funnel, capacity: Mapping[str, int] | None, *, services: Iterable[str] = ()
) -> tuple[ServiceDemand, ...]:
    """Each service's demand against ``capacity`` (service id → openings), most demand first.

    Args:
        by_service: the funnel by service.
        capacity: openings per service for a span as long as the period; None when the scheduling
            system reports none (every verdict is then ``no capacity data``).
        services: service ids to list even without inquiries (the configured ones).
    """
    keys = dict.fromkeys([*(r.key for r in by_service.rows), *services, *(capacity or {})])
    out = []
    for key in keys:
        counts = by_service.row(key)
        demand = counts.inquiries - counts.declined - counts.not_a_fit
        openings = None if capacity is None else capacity.get(key)
        load = demand / openings if openings else None
        if openings is None:
            verdict = Verdict.NO_CAPACITY_DATA
        elif openings == 0:
            verdict = Verdict.PROMOTE_LESS if demand else Verdict.BALANCED
        elif load is not None and load > PROMOTE_LESS_ABOVE:
            verdict = Verdict.PROMOTE_LESS
        elif load is not None and load < PROMOTE_MORE_BELOW:
            verdict = Verdict.PROMOTE_MORE
        else:
            verdict = Verdict.BALANCED
        out.append(
            ServiceDemand(
                service=key,
                inquiries=counts.inquiries,
                scheduling_ready=counts.scheduling_ready,
                demand=demand,
                scheduled=counts.scheduled,
                openings=openings,
                load=load,
                verdict=verdict,
            )
        )
    out.sort(key=lambda s: (-s.demand, s.service))
    return tuple(out)


# --- speed to lead ------------------------------------------------------------------------------


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
            within_target_share=_share(self.within, self.due),
            after_hours=self.after_hours,
            after_hours_share=_share(self.after_hours, self.leads),
            distribution=tuple(
                Count(name=name, n=n, share=_share(n, self.leads)) for name, n in zip(names, self.buckets, strict=True)
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


# --- stalled leads ------------------------------------------------------------------------------


class StallReason(StrEnum):
    """Why an open lead's overdue next action is stuck (one per lead, first that applies)."""

    NO_ANSWER = "no_answer"
    REFERRAL_DOCUMENTS = "waiting_for_referral_documents"
    AUTHORIZATION = "waiting_for_authorization"
    BOOKED_OUT = "booked_out"
    LANGUAGE_COVERAGE = "language_coverage"
    OTHER = "overdue_other"


class StalledFact(NamedTuple):
    """An open lead whose next action is overdue.

    Attributes:
        id: the lead id.
        channel, service, location: the lead's attributes.
        stage: its stage.
        kind, queue, reason: its next action's kind, owner queue and reason code.
        due_at: when the next action was due.
        language: preferred language.
        needs: its needs flags.
        contacted: a first contact was recorded.
        attempts: outbound touches so far.
    """

    id: str
    channel: str
    service: str | None
    location: str | None
    stage: str
    kind: str
    queue: str
    reason: str | None
    due_at: datetime
    language: str
    needs: tuple[str, ...]
    contacted: bool
    attempts: int


_SCHEDULING_ACTIONS = frozenset({NextActionKind.BOOK_APPOINTMENT, NextActionKind.CALL_BACK_REQUESTED_TIME})


def stall_reason(
    fact: StalledFact,
    *,
    clinic_language: str,
    no_answer_attempts: int = 3,
    booked_out_services: frozenset[str] = frozenset(),
) -> StallReason:
    """Why ``fact`` stalled. The first rule that applies wins:

    1. the next action's reason code is itself a stall reason (``booked_out`` … set by the scheduling
       rules), which is taken as it is;
    2. next action *request referral documents* → waiting for referral documents;
    3. next action *verify insurance / authorization* → waiting for authorization;
    4. a booking action for a service with no openings → booked out;
    5. ``no_answer_attempts`` or more outbound attempts and never reached → no answer;
    6. the patient needs another language than the clinic's → language coverage;
    7. otherwise, overdue for no recorded cause.
    """
    if fact.reason and fact.reason in StallReason.__members__.values():
        return StallReason(fact.reason)
    if fact.kind == NextActionKind.REQUEST_REFERRAL_DOCUMENTS:
        return StallReason.REFERRAL_DOCUMENTS
    if fact.kind == NextActionKind.VERIFY_INSURANCE:
        return StallReason.AUTHORIZATION
    if fact.kind in _SCHEDULING_ACTIONS and fact.service is not None and fact.service in booked_out_services:
        return StallReason.BOOKED_OUT
    if fact.attempts >= no_answer_attempts and not fact.contacted:
        return StallReason.NO_ANSWER
    if fact.language != clinic_language or Need.LANGUAGE in fact.needs:
        return StallReason.LANGUAGE_COVERAGE
    return StallReason.OTHER


@dataclass(frozen=True, slots=True, kw_only=True)
class StalledLead:
    """One stalled lead, as lists show it: ids and codes only."""

    lead_id: str
    channel: str
    kind: str
    queue: str
    reason: StallReason
    overdue_hours: float


@dataclass(frozen=True, slots=True, kw_only=True)
class StalledGroup:
    """Stalled leads sharing a next action, owner queue and reason.

    Attributes:
        kind, queue, reason: what they share.
        n: how many.
        max_overdue_hours: the longest overdue among them.
        lead_ids: the most overdue few (at most ``ids_per_group``).
    """

    kind: str
    queue: str
    reason: StallReason
    n: int
    max_overdue_hours: float
    lead_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Stalled:
    """Open leads whose next action is overdue.

    Attributes:
        total: how many.
        by_reason, by_kind, by_queue: counts, most first (shares of ``total``).
        groups: by next action, queue and reason, largest first.
        leads: the most overdue (at most ``list_limit``).
        no_answer_attempts: the N of "no answer after N attempts".
    """

    total: int
    by_reason: tuple[Count, ...]
    by_kind: tuple[Count, ...]
    by_queue: tuple[Count, ...]
    groups: tuple[StalledGroup, ...]
    leads: tuple[StalledLead, ...]
    no_answer_attempts: int


def stalled_leads(
    facts: Iterable[StalledFact],
    *,
    as_of: datetime,
    clinic_language: str,
    no_answer_attempts: int = 3,
    capacity: Mapping[str, int] | None = None,
    list_limit: int = 100,
    ids_per_group: int = 10,
) -> Stalled:
    """Group overdue open leads by next action, queue and reason (see :func:`stall_reason`).

    Args:
        facts: the overdue open leads.
        as_of: the present (overdue hours are counted to it).
        clinic_language: the language staff speak by default.
        no_answer_attempts: attempts after which an unreached lead counts as "no answer".
        capacity: openings per service; services with 0 openings are booked out.
        list_limit: how many of the most overdue leads to list.
        ids_per_group: how many lead ids each group lists.
    """
    if no_answer_attempts < 1:
        raise ValueError("no_answer_attempts must be at least 1")
    booked_out = frozenset(s for s, n in (capacity or {}).items() if n <= 0)
    leads = []
    for fact in facts:
        reason = stall_reason(
            fact,
            clinic_language=clinic_language,
            no_answer_attempts=no_answer_attempts,
            booked_out_services=booked_out,
        )
        overdue = round(max(0.0, (as_of - fact.due_at).total_seconds() / 3600), 1)
        leads.append(
            StalledLead(
                lead_id=fact.id,
                channel=fact.channel,
                kind=fact.kind,
                queue=fact.queue,
                reason=reason,
                overdue_hours=overdue,
            )
        )
    leads.sort(key=lambda s: (-s.overdue_hours, s.lead_id))
    total = len(leads)
    grouped: defaultdict[tuple[str, str, StallReason], list[StalledLead]] = defaultdict(list)
    for lead in leads:
        grouped[(lead.kind, lead.queue, lead.reason)].append(lead)
    groups = [
        StalledGroup(
            kind=kind,
            queue=queue,
            reason=reason,
            n=len(members),
            max_overdue_hours=members[0].overdue_hours,
            lead_ids=tuple(m.lead_id for m in members[:ids_per_group]),
        )
        for (kind, queue, reason), members in grouped.items()
    ]
    groups.sort(key=lambda g: (-g.n, g.kind, g.queue, g.reason))
    return Stalled(
        total=total,
        by_reason=_counts(Counter(lead.reason.value for lead in leads), total),
        by_kind=_counts(Counter(lead.kind for lead in leads), total),
        by_queue=_counts(Counter(lead.queue for lead in leads), total),
        groups=tuple(groups),
        leads=tuple(leads[:list_limit]),
        no_answer_attempts=no_answer_attempts,
    )


# --- repeated questions -------------------------------------------------------------------------


class QuestionCell(NamedTuple):
    """Leads of one channel sharing an intent, needs flags and fired triage keywords.

    ``needs`` and ``keywords`` may be tuples or the JSON text of a list (as grouped in SQL).
    """

    channel: str
    intent: str | None
    needs: tuple[str, ...] | str
    keywords: tuple[str, ...] | str
    n: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelQuestions:
    """What one channel's inquiries were about.

    Attributes:
        channel: the channel.
        leads: its inquiries.
        intents, needs, keywords: the most frequent, shares of ``leads``.
    """

    channel: str
    leads: int
    intents: tuple[Count, ...]
    needs: tuple[Count, ...]
    keywords: tuple[Count, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RepeatedQuestions:
    """The most frequent intents, needs flags and triage keywords, per channel and overall."""

    by_channel: tuple[ChannelQuestions, ...]
    overall: ChannelQuestions


def _as_tuple(value: tuple[str, ...] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        parsed = json.loads(value) if value else []
        return tuple(str(v) for v in parsed) if isinstance(parsed, list) else ()
    return value


def repeated_questions(cells: Iterable[QuestionCell], *, top: int = 5) -> RepeatedQuestions:
    """Intents, needs and fired triage keywords, counted once per lead, per channel and overall.

    Args:
        cells: the cohort's questions.
        top: how many of each to keep per channel (``overall`` keeps them all).
    """
    leads: Counter[str] = Counter()
    intents: defaultdict[str, Counter[str]] = defaultdict(Counter)
    needs: defaultdict[str, Counter[str]] = defaultdict(Counter)
    keywords: defaultdict[str, Counter[str]] = defaultdict(Counter)
    parsed: dict[tuple[str, ...] | str, tuple[str, ...]] = {}
    for cell in cells:
        if cell.n <= 0:
            continue
        leads[cell.channel] += cell.n
        intents[cell.channel][cell.intent or "unknown"] += cell.n
        for source, target in ((cell.needs, needs), (cell.keywords, keywords)):
            values = parsed.get(source)
            if values is None:
                values = parsed[source] = tuple(dict.fromkeys(_as_tuple(source)))
            for value in values:
                target[cell.channel][value] += cell.n

    def merged(counters: Mapping[str, Counter[str]]) -> Counter[str]:
        out: Counter[str] = Counter()
        for c in counters.values():
            out.update(c)
        return out

    rows = [
        ChannelQuestions(
            channel=channel,
            leads=n,
            intents=_counts(intents[channel], n, top=top),
            needs=_counts(needs[channel], n, top=top),
            keywords=_counts(keywords[channel], n, top=top),
        )
        for channel, n in leads.items()
    ]
    rows.sort(key=lambda r: (-r.leads, r.channel))
    whole = sum(leads.values())
    return RepeatedQuestions(
        by_channel=tuple(rows),
        overall=ChannelQuestions(
            channel="all",
            leads=whole,
            intents=_counts(merged(intents), whole),
            needs=_counts(merged(needs), whole),
            keywords=_counts(merged(keywords), whole),
        ),
    )


# --- touches: follow-up timing and confusion ----------------------------------------------------


class TouchFact(NamedTuple):
    """One touch of a cohort lead. Streams are ordered by lead, then time (then id).

    Attributes:
        lead_id: the lead.
        at: when, aware.
        outcome: a ``TouchOutcome`` value.
        outbound: True for the clinic reaching out.
        step: the cadence step it carried out, if any.
    """

    lead_id: str
    at: datetime
    outcome: str
    outbound: bool
    step: str | None


class AttemptCell(NamedTuple):
    """Outbound touches sharing an attempt number, a local hour and a cadence step.

    Attributes:
        attempt: the attempt's number for its lead (1 = first outbound touch), capped at
            ``MAX_ATTEMPT_LABEL``.
        hour: local hour of day (0–23) in the clinic's time zone.
        step: the cadence step, or None.
        attempts: how many touches.
        reached: of those, how many reached the patient (outcome ``reached``, or the patient's
            very next touch is inbound).
        questions: of those, how many the patient answered with a reply (the very next touch is an
            inbound ``replied``).
    """

    attempt: int
    hour: int
    step: str | None
    attempts: int
    reached: int
    questions: int


class ReplyFact(NamedTuple):
    """A lead that replied right after a touch of cadence step ``step``."""

    step: str
    lead_id: str


#: Attempts from this number on are counted together (``6+``).
MAX_ATTEMPT_LABEL = 6
_WINDOW_OF_HOUR = {h: w for w, (start, end) in WINDOW_HOURS.items() for h in range(start, end)}


@dataclass(frozen=True, slots=True, kw_only=True)
class RateRow:
    """Attempts and how many reached the patient.

    Attributes:
        key: the attempt number (``1`` … ``6+``), local hour (``09:00``), part of day or step.
        attempts: outbound touches.
        reached: of those, ones that reached the patient.
        rate: ``reached`` over ``attempts``.
    """

    key: str
    attempts: int
    reached: int
    rate: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowUpTiming:
    """Reach rate by attempt number, local hour, part of day and cadence step.

    Attributes:
        by_attempt, by_hour, by_part_of_day, by_step: rates (hours and parts of day in clinic time).
        attempts, reached: all outbound touches, and those that reached the patient.
        best_hour, best_part_of_day, best_step: the highest rate among rows with at least
            ``min_sample`` attempts (None when none has that many).
        min_sample: the least attempts a row needs to be called best.
    """

    by_attempt: tuple[RateRow, ...]
    by_hour: tuple[RateRow, ...]
    by_part_of_day: tuple[RateRow, ...]
    by_step: tuple[RateRow, ...]
    attempts: int
    reached: int
    best_hour: RateRow | None
    best_part_of_day: RateRow | None
    best_step: RateRow | None
    min_sample: int

    @property
    def rate(self) -> float | None:
        return _share(self.reached, self.attempts)


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateConfusion:
    """Replies after one approved template.

    Attributes:
        template: the template id.
        steps: cadence steps that use it.
        sends: outbound touches that carried it.
        questions: sends the patient replied to before the next outbound touch.
        rate: ``questions`` over ``sends``.
        leads: distinct leads that replied.
        lead_ids: the first of them (at most ``ids_per_template``).
    """

    template: str
    steps: tuple[str, ...]
    sends: int
    questions: int
    rate: float | None
    leads: int
    lead_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Confusion:
    """Replies after each template, most replied-to (by rate, then count) first.

    Attributes:
        rows: one per template sent.
        leads: distinct leads that replied after any template.
    """

    rows: tuple[TemplateConfusion, ...]
    leads: int

    @property
    def worst(self) -> TemplateConfusion | None:
        return next((r for r in self.rows if r.questions), None)


class _Rates:
    __slots__ = ("attempts", "reached")

    def __init__(self) -> None:
        self.attempts = 0
        self.reached = 0

    def row(self, key: str) -> RateRow:
        return RateRow(key=key, attempts=self.attempts, reached=self.reached, rate=_share(self.reached, self.attempts))


def _best(rows: Iterable[RateRow], min_sample: int) -> RateRow | None:
    eligible = [r for r in rows if r.attempts >= min_sample and r.rate is not None]
    return max(eligible, key=lambda r: (r.rate or 0.0, r.attempts), default=None)


def attempt_cells(touches: Iterable[TouchFact], *, hours: ClinicHours) -> tuple[list[AttemptCell], list[ReplyFact]]:
    """Count attempts from a touch stream (grouped by lead, in time order within a lead).

    The reference for what :func:`hub.review.queries.attempt_cells` counts in SQL.

    Returns:
        the attempt cells, and one reply fact per lead and step answered with a reply (sorted).
    """
    tz = hours.tz
    tally: defaultdict[tuple[int, int, str | None], list[int]] = defaultdict(lambda: [0, 0, 0])
    replies: set[ReplyFact] = set()
    # Local hour per UTC quarter hour: every zone offset in use is a multiple of 15 minutes, so a
    # quarter hour never straddles two local hours, and the zone conversion runs once per quarter.
    local: dict[datetime, int] = {}
    for lead_id, group in itertools.groupby(touches, key=lambda t: t.lead_id):
        items = list(group)
        number = 0
        for index, touch in enumerate(items):
            if not touch.outbound:
                continue
            number += 1
            after = items[index + 1] if index + 1 < len(items) else None
            answered = after is not None and not after.outbound
            replied = answered and after is not None and after.outcome == TouchOutcome.REPLIED
            at = touch.at
            quarter = at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)
            hour = local.get(quarter)
            if hour is None:
                hour = local[quarter] = quarter.astimezone(tz).hour
            counts = tally[(min(number, MAX_ATTEMPT_LABEL), hour, touch.step)]
            counts[0] += 1
            counts[1] += touch.outcome == TouchOutcome.REACHED or answered
            counts[2] += replied
            if replied and touch.step is not None:
                replies.add(ReplyFact(step=touch.step, lead_id=lead_id))
    cells = [AttemptCell(a, h, s, *counts) for (a, h, s), counts in tally.items()]
    return cells, sorted(replies)


def follow_up_timing(cells: Iterable[AttemptCell], *, min_sample: int = 30) -> FollowUpTiming:
    """Reach rate by attempt number, local hour, part of day and cadence step.

    Args:
        cells: the attempt cells of the cohort.
        min_sample: the least attempts a row needs to be named best.
    """
    by_attempt: defaultdict[int, _Rates] = defaultdict(_Rates)
    by_hour: defaultdict[int, _Rates] = defaultdict(_Rates)
    by_part: defaultdict[ContactWindow, _Rates] = defaultdict(_Rates)
    by_step: defaultdict[str, _Rates] = defaultdict(_Rates)
    total = _Rates()
    for cell in cells:
        for rates in (
            by_attempt[min(cell.attempt, MAX_ATTEMPT_LABEL)],
            by_hour[cell.hour],
            by_part[_WINDOW_OF_HOUR[cell.hour]],
            by_step[cell.step or NONE_LABEL],
            total,
        ):
            rates.attempts += cell.attempts
            rates.reached += cell.reached
    attempt_rows = tuple(by_attempt[n].row(f"{n}+" if n == MAX_ATTEMPT_LABEL else str(n)) for n in sorted(by_attempt))
    hour_rows = tuple(by_hour[h].row(f"{h:02d}:00") for h in sorted(by_hour))
    part_rows = tuple(by_part[w].row(w.value) for w in WINDOW_HOURS if w in by_part)
    step_rows = tuple(by_step[s].row(s) for s in sorted(by_step, key=lambda s: (-by_step[s].attempts, s)))
    return FollowUpTiming(
        by_attempt=attempt_rows,
        by_hour=hour_rows,
        by_part_of_day=part_rows,
        by_step=step_rows,
        attempts=total.attempts,
        reached=total.reached,
        best_hour=_best(hour_rows, min_sample),
        best_part_of_day=_best(part_rows, min_sample),
        best_step=_best(step_rows, min_sample),
        min_sample=min_sample,
    )


def confusion(
    cells: Iterable[AttemptCell],
    replies: Iterable[ReplyFact],
    *,
    step_templates: Mapping[str, str],
    ids_per_template: int = 20,
) -> Confusion:
    """Replies after each known template.

    Args:
        cells: the attempt cells of the cohort (sends and questions per step).
        replies: the leads that replied, per step.
        step_templates: cadence step key → template id (the steps whose template is known).
        ids_per_template: how many lead ids each template lists (in id order).
    """
    sends: Counter[str] = Counter()
    questions: Counter[str] = Counter()
    for cell in cells:
        template = step_templates.get(cell.step) if cell.step else None
        if template is not None:
            sends[template] += cell.attempts
            questions[template] += cell.questions
    leads: defaultdict[str, set[str]] = defaultdict(set)
    for reply in replies:
        template = step_templates.get(reply.step)
        if template is not None:
            leads[template].add(reply.lead_id)
    steps_of: defaultdict[str, list[str]] = defaultdict(list)
    for step, template in step_templates.items():
        steps_of[template].append(step)
    rows = [
        TemplateConfusion(
            template=template,
            steps=tuple(steps_of[template]),
            sends=n,
            questions=questions[template],
            rate=_share(questions[template], n),
            leads=len(leads[template]),
            lead_ids=tuple(sorted(leads[template])[:ids_per_template]),
        )
        for template, n in sends.items()
    ]
    rows.sort(key=lambda r: (-(r.rate or 0.0), -r.questions, r.template))
    return Confusion(rows=tuple(rows), leads=len(set().union(*leads.values())))


# --- trend --------------------------------------------------------------------------------------


class TrendCell(NamedTuple):
    """Counts for one week of the trend (grouped in SQL).

    Attributes:
        week: the index of the week in the trend's list of weeks.
        inquiries, scheduling_ready, scheduled, kept: counts of the leads created that week.
    """

    week: int
    inquiries: int
    scheduling_ready: int
    scheduled: int
    kept: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WeekPoint:
    """One week of the trend: its label and the funnel counts of the leads created in it."""

    week: str
    inquiries: int
    scheduling_ready: int
    scheduled: int
    kept: int


def trend(cells: Iterable[TrendCell], weeks: Sequence[str]) -> tuple[WeekPoint, ...]:
    """One point per week label in ``weeks`` (zeros where no cell), summing cells of the same week."""
    sums: defaultdict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for cell in cells:
        if not 0 <= cell.week < len(weeks):
            raise ValueError(f"trend cell for week {cell.week} outside the {len(weeks)} weeks")
        acc = sums[cell.week]
        for i, value in enumerate((cell.inquiries, cell.scheduling_ready, cell.scheduled, cell.kept)):
            acc[i] += int(value)
    return tuple(
        WeekPoint(
            week=label,
            inquiries=sums[i][0],
            scheduling_ready=sums[i][1],
            scheduled=sums[i][2],
            kept=sums[i][3],
        )
        for i, label in enumerate(weeks)
    )
