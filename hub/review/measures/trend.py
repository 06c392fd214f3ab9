"""The trend: the funnel counts of the leads created in each of the last few weeks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["TrendCell", "WeekPoint", "trend"]


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
