"""Advancing the cadence as time passes (the every-minute job): CRM tasks for follow-ups that
have come due, and closing leads whose cadence ran out without reaching the patient."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from hub.lifecycle.leads import TASK_HORIZON, commit_lead, request_due_tasks
from hub.settings.config import HubConfig
from hub.store import Store, repo
from hub.store.models import FollowUpRow
from nurture.vocab import Stage

log = logging.getLogger(__name__)

__all__ = ["TickReport", "advance_cadence"]


@dataclass(slots=True)
class TickReport:
    tasks_requested: int = 0
    closed: int = 0


def advance_cadence(
    store: Store, config: HubConfig, *, destinations: Sequence[str], now: datetime, limit: int = 1000
) -> TickReport:
    """Queue CRM tasks for follow-ups coming due, and close leads whose closing step came due."""
    report = TickReport()
    with store.tx() as session:
        due = session.execute(
            select(FollowUpRow.lead_id, FollowUpRow.step_key, FollowUpRow.channel)
            .where(FollowUpRow.status == "planned", FollowUpRow.due_at <= now + TASK_HORIZON)
            .order_by(FollowUpRow.due_at)
            .limit(limit)
        ).all()
    lead_ids = sorted({r.lead_id for r in due if r.channel is not None})
    closing = sorted({r.lead_id for r in due if r.channel is None})
    if destinations:
        for lead_id in lead_ids:
            with store.tx() as session:
                report.tasks_requested += request_due_tasks(session, lead_id, destinations=destinations, now=now)
    for lead_id in closing:
        with store.tx() as session:
            row = session.scalars(
                select(FollowUpRow).where(
                    FollowUpRow.lead_id == lead_id,
                    FollowUpRow.channel.is_(None),
                    FollowUpRow.status == "planned",
                )
            ).first()
            if row is None or row.due_at > now:
                continue
            found = repo.load_lead(session, lead_id, for_update=True)
            if found is None:
                continue
            lead, version = found
            if lead.stage not in (Stage.NEW, Stage.ATTEMPTING):
                row.status, row.updated_at = "cancelled", now
                continue
            result = commit_lead(
                session,
                before=lead,
                version=version,
                proposed=lead.evolve(
                    stage=Stage.UNREACHABLE,
                    next_action=None,
                    close_reason="no contact after the full cadence",
                ),
                config=config,
                now=now,
                actor="cadence",
                action="closed_unreachable",
                destinations=destinations,
            )
            row.status, row.updated_at = "done", now
            if result.ok:
                report.closed += 1
    if report.tasks_requested or report.closed:
        log.info("cadence: %d tasks requested, %d leads closed", report.tasks_requested, report.closed)
    return report
