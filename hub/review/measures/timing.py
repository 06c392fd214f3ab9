"""Follow-up timing: how often attempts reach the patient, by attempt number, local hour, part of day
and cadence step (attempts as :mod:`.touches` counts them; hours and parts of day in clinic time)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from hub.review.measures.counts import NONE_LABEL, share_of
from hub.review.measures.touches import MAX_ATTEMPT_LABEL, AttemptCell
from nurture.clock import WINDOW_HOURS
from nurture.vocab import ContactWindow

__all__ = ["FollowUpTiming", "RateRow", "follow_up_timing"]

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
        return share_of(self.reached, self.attempts)


class _Rates:
    __slots__ = ("attempts", "reached")

    def __init__(self) -> None:
        self.attempts = 0
        self.reached = 0

    def row(self, key: str) -> RateRow:
        return RateRow(
            key=key, attempts=self.attempts, reached=self.reached, rate=share_of(self.reached, self.attempts)
        )


def _best(rows: Iterable[RateRow], min_sample: int) -> RateRow | None:
    eligible = [r for r in rows if r.attempts >= min_sample and r.rate is not None]
    return max(eligible, key=lambda r: (r.rate or 0.0, r.attempts), default=None)


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
