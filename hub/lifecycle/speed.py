"""The speed-to-lead clock: received → first attempt → first contact → booked, against each
channel's response target. A lead whose Day 0 call came due without a first attempt is *breached*.

The target is counted inside clinic hours and the patient's calling hours (the cadence planner's
Day 0 slot), so an inquiry at 22:00 is not breached at 22:15.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.store.models import FollowUpRow, LeadRow
from nurture.vocab import BOOKED_STAGES, CLOSED_STAGES

__all__ = ["Breach", "breaches"]

FIRST_STEP = "day0_call"


@dataclass(frozen=True, slots=True, kw_only=True)
class Breach:
    """One lead past its response target without a first attempt (ids and times only: no PHI)."""

    lead_id: str
    channel: str
    received_at: datetime
    due_at: datetime
    owner_queue: str
    minutes_over: int


def breaches(session: Session, *, now: datetime, limit: int = 500) -> list[Breach]:
    """Open, unbooked leads whose first call is overdue and was never attempted, most overdue first."""
    rows = session.execute(
        select(LeadRow.id, LeadRow.channel, LeadRow.created_at, FollowUpRow.due_at, FollowUpRow.owner_queue)
        .join(FollowUpRow, (FollowUpRow.lead_id == LeadRow.id) & (FollowUpRow.step_key == FIRST_STEP))
        .where(
            LeadRow.first_attempt_at.is_(None),
            LeadRow.stage.not_in([s.value for s in CLOSED_STAGES | BOOKED_STAGES]),
            FollowUpRow.status.not_in(["done", "cancelled"]),
            FollowUpRow.due_at < now,
        )
        .order_by(FollowUpRow.due_at)
        .limit(limit)
    ).all()
    return [
        Breach(
            lead_id=r.id,
            channel=r.channel,
            received_at=r.created_at,
            due_at=r.due_at,
            owner_queue=r.owner_queue,
            minutes_over=int((now - r.due_at).total_seconds() // 60),
        )
        for r in rows
    ]
