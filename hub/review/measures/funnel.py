"""The funnel: what became of a cohort's inquiries, broken down by channel, campaign, location,
service or language.

- **Cohort**: the leads *created* in the period (duplicates merged into another lead excluded), with
  the stage they stand at when the measure is computed.
- **Funnel**: inquiries → reached → scheduled → prepared → kept. A lead counts at a step when it got
  there, whatever happened later (a booked lead that cancelled still counts as scheduled):
  reached = first contact recorded, or a stage from ``reached`` on, or booked; scheduled = booked,
  or a stage from ``scheduled`` on (``no_show`` included); prepared = stage ``prepared`` or ``kept``;
  kept = stage ``kept``. Declined, not a fit and unreachable are the closed stages, counted apart.
  Conversion at a step = its count ÷ the previous step's count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from hub.review.measures.counts import label_of, share_of
from nurture.vocab import Intent, Stage

__all__ = [
    "FUNNEL_DIMENSIONS",
    "FUNNEL_STEPS",
    "PREPARED_STAGES",
    "REACHED_STAGES",
    "READY_INTENTS",
    "SCHEDULED_STAGES",
    "Funnel",
    "FunnelCell",
    "FunnelCounts",
    "FunnelRow",
    "FunnelStep",
    "funnel",
    "funnels",
]

FUNNEL_DIMENSIONS = ("channel", "campaign", "location", "service", "language")
FUNNEL_STEPS = ("inquiries", "reached", "scheduled", "prepared", "kept")

REACHED_STAGES = frozenset({Stage.REACHED, Stage.SCHEDULED, Stage.PREPARED, Stage.KEPT, Stage.NO_SHOW})
SCHEDULED_STAGES = frozenset({Stage.SCHEDULED, Stage.PREPARED, Stage.KEPT, Stage.NO_SHOW})
PREPARED_STAGES = frozenset({Stage.PREPARED, Stage.KEPT})
#: Intents that make an inquiry scheduling-ready.
READY_INTENTS = frozenset({Intent.READY_TO_SCHEDULE})


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
                    from_previous=None if previous is None else share_of(count, previous),
                    from_inquiries=share_of(count, self.inquiries),
                )
            )
            previous = count
        return tuple(out)

    @property
    def ready_share(self) -> float | None:
        return share_of(self.scheduling_ready, self.inquiries)


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
            tallies[label_of(getattr(cell, dimension))].add(cell)
    out = []
    for tallies, dimension in zip(per, dimensions, strict=True):
        rows = [FunnelRow(key=key, counts=t.freeze()) for key, t in tallies.items()]
        rows.sort(key=lambda r: (-r.counts.inquiries, r.key))
        out.append(Funnel(dimension=dimension, rows=tuple(rows), total=total.freeze()))
    return tuple(out)
