"""What a change of the channel map does to the leads already in a queue.

A channel's owner queue takes its new inquiries; an open lead of that channel whose next action is
with the old owner queue moves to the new one too (the next time the hub re-decided it, it would
anyway, so moving it at once is the only way the page can say truthfully what happens). Leads a
specialist or language queue holds stay where they are. :func:`queue_moves` says which leads a
change moves, before it is saved; :func:`move_open_leads` moves them, in the save's transaction,
through the same commit as every other lead change (follow-ups re-planned, CRM tasks re-sent).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from hub.lifecycle.leads import commit_lead
from hub.settings.config import HubConfig
from hub.store import repo
from hub.store.models import LeadRow
from nurture.vocab import CLOSED_STAGES, Channel

log = logging.getLogger(__name__)

__all__ = ["QueueMove", "move_open_leads", "open_leads_per_owner", "queue_moves"]


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueMove:
    """The open leads of one channel that a change moves from one owner queue to another.

    Attributes:
        channel: the channel.
        old_queue, new_queue: its owner queue before and after.
        leads: how many open leads of the channel are with the old queue now.
    """

    channel: str
    old_queue: str
    new_queue: str
    leads: int


def queue_moves(session: Session, before: HubConfig, after: HubConfig) -> list[QueueMove]:
    """Every channel whose owner queue the change alters, with the open leads that would move."""
    changed = [
        (channel, before.settings.channel(channel).owner_queue, after.settings.channel(channel).owner_queue)
        for channel in Channel
        if before.settings.channel(channel).owner_queue != after.settings.channel(channel).owner_queue
    ]
    moves = []
    for channel, old, new in changed:
        count = session.scalar(
            select(func.count()).select_from(LeadRow).where(*_open_in(channel.value, old))
        )  # fmt: skip
        moves.append(QueueMove(channel=channel.value, old_queue=old, new_queue=new, leads=int(count or 0)))
    return moves


def open_leads_per_owner(session: Session, config: HubConfig) -> dict[str, int]:
    """Per channel, how many of its open leads its owner queue holds now (what a change of that
    owner queue would move)."""
    counts = session.execute(
        select(LeadRow.channel, LeadRow.next_action_queue, func.count())
        .where(LeadRow.next_action_kind.is_not(None), LeadRow.stage.not_in([s.value for s in CLOSED_STAGES]))
        .group_by(LeadRow.channel, LeadRow.next_action_queue)
    ).all()
    owners = {c.value: config.settings.channel(c).owner_queue for c in Channel}
    return {str(ch): int(n) for ch, queue, n in counts if owners.get(str(ch)) == queue}


def _open_in(channel: str, queue: str) -> list[ColumnElement[bool]]:
    return [
        LeadRow.channel == channel,
        LeadRow.next_action_queue == queue,
        LeadRow.next_action_kind.is_not(None),
        LeadRow.stage.not_in([s.value for s in CLOSED_STAGES]),
    ]


def move_open_leads(
    session: Session,
    moves: Sequence[QueueMove],
    *,
    config: HubConfig,
    now: datetime,
    actor: str,
    destinations: Sequence[str],
) -> int:
    """Move each open lead of ``moves`` to its channel's new owner queue (audited per lead).
    Returns how many moved."""
    moved = 0
    for move in moves:
        ids = list(session.scalars(select(LeadRow.id).where(*_open_in(move.channel, move.old_queue))))
        for lead_id in ids:
            found = repo.load_lead(session, lead_id, for_update=True)
            if found is None:
                continue
            lead, version = found
            action = lead.next_action
            if action is None:
                continue
            proposed = lead.evolve(next_action=replace(action, owner_queue=move.new_queue))
            result = commit_lead(
                session, before=lead, version=version, proposed=proposed, config=config, now=now, actor=actor,
                action="queue_moved", destinations=destinations,
            )  # fmt: skip
            if result.ok:
                moved += 1
                repo.audit(
                    session, actor=actor, action="lead.queue_moved", subject_type="lead", subject_id=lead_id,
                    now=now, detail={"from": move.old_queue, "to": move.new_queue, "channel": move.channel},
                )  # fmt: skip
    log.info("channel map change moved %d open leads to new owner queues", moved)
    return moved
