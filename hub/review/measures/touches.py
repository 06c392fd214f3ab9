"""The cohort's touches counted as attempts: what follow-up timing (:mod:`.timing`) and confusion
(:mod:`.confusion`) are measured from.

Every outbound touch is an attempt, numbered per lead in time order; it *reached* the patient when
its outcome is ``reached`` or the lead's very next touch is inbound (the patient answered before any
further attempt), and it was *answered with a question* when that next touch is an inbound
``replied`` (the hub does not read reply text, so every such reply counts). Local hour in the
clinic's time zone.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from nurture.clock import ClinicHours
from nurture.vocab import TouchOutcome

__all__ = ["MAX_ATTEMPT_LABEL", "AttemptCell", "ReplyFact", "TouchFact", "attempt_cells"]


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
