"""Committing a lead change: the one path every change takes — intake, CRM edits, bookings, the
cadence job, the CLI.

In ONE transaction: the policy decides (accept with derived score and next action, or reject with
violations), the cadence is planned again, and the lead, its follow-ups, its outbox rows and an
audit event are written. Either all of it is stored or none.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.orm import Session

from hub.settings.config import HubConfig
from hub.store import repo
from nurture.cadence import CadencePlan, plan_cadence
from nurture.lead import Lead, NextAction
from nurture.policy import Accepted, Violation, enforce
from nurture.vocab import Stage

if TYPE_CHECKING:
    from hub.store.models import FollowUpRow

log = logging.getLogger(__name__)

__all__ = ["CommitResult", "Refiner", "commit_lead", "plan_for"]

#: Follow-ups due within this window get their CRM task at once; later ones when they come due
#: (the cadence job), so staff see today's work, not next week's.
TASK_HORIZON = timedelta(hours=12)


@dataclass(frozen=True, slots=True, kw_only=True)
class CommitResult:
    """What happened to a proposed change. ``recorded``: what the inquiry's words changed beyond the
    usual (an opt-out, a decline, a requested callback, a suppression), to say back to the sender."""

    lead: Lead | None
    version: int | None
    plan: CadencePlan | None
    violations: tuple[Violation, ...] = ()
    recorded: Mapping[str, object] | None = None

    @property
    def ok(self) -> bool:
        return not self.violations


class Refiner(Protocol):
    """Refines a new lead's proposed next action (with availability), and says which script its
    first call should follow."""

    def __call__(self, lead: Lead, proposed: NextAction) -> NextAction: ...

    def first_template(self, lead_id: str) -> str | None:
        """The first-response template chosen for the lead refined, or None for the channel's."""
        ...


def plan_for(
    lead: Lead,
    session: Session,
    config: HubConfig,
    *,
    now: datetime,
    new: bool = False,
    first_template: str | None = None,
) -> CadencePlan:
    """The follow-ups still to come: the nurture cadence, or — for a lead with an appointment — its
    preparation (or, after a no-show, re-booking) sequence. ``first_template``: the Day-0 call's
    script when something (availability) chose one; else the channel's first-response template."""
    settings = config.settings
    touches = [] if new else repo.load_touches(session, lead.id)
    if lead.stage in (Stage.SCHEDULED, Stage.PREPARED, Stage.NO_SHOW):
        from hub.bookings.scheduling import appointment_plan  # scheduling commits through this module

        planned = appointment_plan(session, lead, touches, config, now=now)
        if planned is not None:
            return planned
    return plan_cadence(
        lead,
        touches,
        cadence=settings.cadence,
        hours=settings.hours,
        rules=settings.contact,
        response_target=settings.channel(lead.channel).response_target,
        now=now,
        first_template=first_template or settings.channel(lead.channel).first_response_template,
        urgent=settings.urgent,
    )


def commit_lead(
    session: Session,
    *,
    before: Lead | None,
    version: int | None,
    proposed: Lead,
    config: HubConfig,
    now: datetime,
    actor: str,
    action: str,
    destinations: Sequence[str],
    refine: Refiner | None = None,
) -> CommitResult:
    """Enforce, plan and write one lead change inside the caller's transaction.

    ``refine`` (new leads only) refines the proposed next action with availability."""
    decision = enforce(before, proposed, config.settings, now=now, refine=refine)
    if not isinstance(decision, Accepted):
        repo.audit(
            session,
            actor=actor,
            action=f"{action}_rejected",
            subject_type="lead",
            subject_id=proposed.id,
            now=now,
            detail={"violations": [v.rule for v in decision.violations]},
        )
        log.info(
            "lead %s change rejected by policy: %s",
            proposed.id,
            ",".join(v.rule for v in decision.violations),
        )
        return CommitResult(lead=None, version=version, plan=None, violations=decision.violations)
    lead = decision.lead
    new_version = repo.save_lead(session, lead, expected_version=version)
    new = before is None  # nothing hangs off a new lead yet: skip the look-ups
    first_template = refine.first_template(lead.id) if refine is not None else None
    plan = plan_for(lead, session, config, now=now, new=new, first_template=first_template)
    owner = lead.next_action.owner_queue if lead.next_action else config.settings.channel(lead.channel).owner_queue
    changes = repo.replace_plan(session, lead.id, plan, owner_queue=owner, now=now, new=new)
    repo.enqueue(session, destinations=destinations, kind="upsert_lead", key=lead.id, lead_id=lead.id, now=now, new=new)
    for kind, keys in (("cancel_task", changes.cancel), ("upsert_task", changes.resend)):
        for step_key in keys:
            key = f"{lead.id}:{step_key}"
            repo.enqueue(session, destinations=destinations, kind=kind, key=key, lead_id=lead.id, now=now)
    request_due_tasks(session, lead.id, destinations=destinations, now=now, new=new, rows=changes.rows)
    repo.audit(
        session,
        actor=actor,
        action=action,
        subject_type="lead",
        subject_id=lead.id,
        now=now,
        detail={
            "version": new_version,
            "stage": lead.stage.value,
            "intent": lead.intent.value if lead.intent else None,
            "next_action": lead.next_action.kind.value if lead.next_action else None,
            "score": lead.score.value if lead.score else None,
        },
    )
    log.info(
        "lead %s %s: stage=%s next_action=%s score=%s steps=%d",
        lead.id,
        action,
        lead.stage,
        lead.next_action.kind if lead.next_action else None,
        lead.score,
        len(plan.steps),
    )
    return CommitResult(lead=lead, version=new_version, plan=plan)


def request_due_tasks(
    session: Session,
    lead_id: str,
    *,
    destinations: Sequence[str],
    now: datetime,
    new: bool = False,
    rows: Sequence[FollowUpRow] | None = None,
) -> int:
    """Queue CRM tasks for planned contact follow-ups due within :data:`TASK_HORIZON`, and always for
    the lead's next contact step: an inquiry that arrives on Friday evening shows its Day-0 call in
    the CRM at once, due at Monday's opening, not only once the cadence job reaches it."""
    count = 0
    if not destinations:
        return 0  # nowhere to create tasks yet; the cadence job picks them up once a CRM is connected
    if rows is None:
        rows = repo.follow_ups(session, lead_id)
    upcoming = [r for r in rows if r.channel is not None and r.status in ("planned", "task_requested", "task_created")]
    following = min(upcoming, key=lambda r: (r.due_at, r.step_key)) if upcoming else None
    for row in rows:
        if row.status != "planned" or row.channel is None:
            continue
        if row.due_at > now + TASK_HORIZON and row is not following:
            continue
        repo.enqueue(
            session,
            destinations=destinations,
            kind="upsert_task",
            key=f"{lead_id}:{row.step_key}",
            lead_id=lead_id,
            now=now,
            new=new,
        )
        row.status, row.updated_at = "task_requested", now
        count += 1
    return count
