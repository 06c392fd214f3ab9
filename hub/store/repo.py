"""Rows ↔ domain values, and the few queries the application needs. Every function takes the
session of the caller's transaction: the caller decides what commits together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.orm import Session

from hub.store.models import (
    AuditRow,
    ClearanceRow,
    ConsentRow,
    ExternalIdRow,
    FollowUpRow,
    LeadRow,
    OutboxRow,
    SyncCursorRow,
    TouchRow,
    ViolationRow,
)
from nurture.cadence import CadencePlan
from nurture.capacity import Clearance
from nurture.consent import ConsentEntry, ConsentLedger
from nurture.errors import RetryLater
from nurture.lead import Lead, NextAction
from nurture.touches import Touch
from nurture.vocab import (
    Channel,
    ConsentState,
    ContactChannel,
    ContactWindow,
    Intent,
    Need,
    NextActionKind,
    Score,
    Stage,
    TouchOutcome,
)

__all__ = [
    "add_touch",
    "audit",
    "count_leads",
    "enqueue",
    "find_lead_id",
    "follow_ups",
    "get_cursor",
    "load_clearance",
    "load_lead",
    "load_leads",
    "load_touches",
    "open_violations",
    "remove_touch",
    "renumber_all_touches",
    "renumber_touches",
    "replace_plan",
    "save_lead",
    "set_cursor",
    "versions",
]


# --- leads --------------------------------------------------------------------------------------


def load_lead(session: Session, lead_id: str, *, for_update: bool = False) -> tuple[Lead, int] | None:
    """The lead and its version, or None."""
    query = select(LeadRow).where(LeadRow.id == lead_id)
    if for_update:
        query = query.with_for_update()
    row = session.scalars(query).one_or_none()
    if row is None:
        return None
    consents = session.scalars(select(ConsentRow).where(ConsentRow.lead_id == lead_id).order_by(ConsentRow.id)).all()
    ids = session.scalars(select(ExternalIdRow).where(ExternalIdRow.lead_id == lead_id)).all()
    return _to_lead(row, consents, ids), row.version


def load_leads(session: Session, lead_ids: Iterable[str]) -> dict[str, tuple[Lead, int]]:
    """Many leads and their versions by id, in three queries whatever their number (a push's batch);
    ids with no lead are absent."""
    wanted = list(dict.fromkeys(lead_ids))
    if not wanted:
        return {}
    rows = session.scalars(select(LeadRow).where(LeadRow.id.in_(wanted))).all()
    consents: dict[str, list[ConsentRow]] = {}
    for c in session.scalars(select(ConsentRow).where(ConsentRow.lead_id.in_(wanted)).order_by(ConsentRow.id)):
        consents.setdefault(c.lead_id, []).append(c)
    ids: dict[str, list[ExternalIdRow]] = {}
    for i in session.scalars(select(ExternalIdRow).where(ExternalIdRow.lead_id.in_(wanted))):
        ids.setdefault(i.lead_id, []).append(i)
    return {r.id: (_to_lead(r, consents.get(r.id, ()), ids.get(r.id, ())), r.version) for r in rows}


def versions(session: Session, lead_ids: Iterable[str]) -> dict[str, int]:
    """The leads' versions now, by id (one query)."""
    wanted = list(dict.fromkeys(lead_ids))
    if not wanted:
        return {}
    return {r.id: r.version for r in session.execute(select(LeadRow.id, LeadRow.version).where(LeadRow.id.in_(wanted)))}


def _to_lead(row: LeadRow, consents: Sequence[ConsentRow], ids: Sequence[ExternalIdRow]) -> Lead:
    action = None
    if row.next_action_kind and row.next_action_due_at and row.next_action_queue:
        action = NextAction(
            kind=NextActionKind(row.next_action_kind),
            due_at=row.next_action_due_at,
            owner_queue=row.next_action_queue,
            reason=row.next_action_reason or "",
        )
    return Lead(
        id=row.id,
        first_name=row.first_name,
        last_name=row.last_name,
        phone=row.phone,
        email=row.email,
        preferred_language=row.preferred_language,
        contact_window=ContactWindow(row.contact_window) if row.contact_window else None,
        requested_callback_at=row.requested_callback_at,
        timezone=row.timezone,
        region=row.region,
        location=row.location,
        service=row.service,
        channel=Channel(row.channel),
        campaign=row.campaign,
        referral_source=row.referral_source,
        inquiry_text=row.inquiry_text,
        created_at=row.created_at,
        updated_at=row.updated_at,
        stage=Stage(row.stage),
        intent=Intent(row.intent) if row.intent else None,
        needs=frozenset(Need(n) for n in row.needs),
        urgent=row.urgent,
        triage_keywords=tuple(row.triage_keywords),
        next_action=action,
        score=Score(row.score) if row.score else None,
        close_reason=row.close_reason,
        consent=ConsentLedger(
            tuple(
                ConsentEntry(
                    channel=ContactChannel(c.channel),
                    state=ConsentState(c.state),
                    at=c.at,
                    source=c.source,
                    wording=c.wording,
                )
                for c in consents
            )
        ),
        external_ids={i.system: i.external_id for i in ids},
    )


def _columns(lead: Lead) -> dict[str, Any]:
    action = lead.next_action
    return {
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "phone": lead.phone,
        "email": lead.email,
        "preferred_language": lead.preferred_language,
        "contact_window": lead.contact_window.value if lead.contact_window else None,
        "requested_callback_at": lead.requested_callback_at,
        "timezone": lead.timezone,
        "region": lead.region,
        "location": lead.location,
        "service": lead.service,
        "channel": lead.channel.value,
        "campaign": lead.campaign,
        "referral_source": lead.referral_source,
        "inquiry_text": lead.inquiry_text,
        "created_at": lead.created_at,
        "updated_at": lead.updated_at,
        "stage": lead.stage.value,
        "intent": lead.intent.value if lead.intent else None,
        "needs": sorted(n.value for n in lead.needs),
        "urgent": lead.urgent,
        "triage_keywords": list(lead.triage_keywords),
        "next_action_kind": action.kind.value if action else None,
        "next_action_due_at": action.due_at if action else None,
        "next_action_queue": action.owner_queue if action else None,
        "next_action_reason": action.reason if action else None,
        "score": lead.score.value if lead.score else None,
        "close_reason": lead.close_reason,
    }


def save_lead(session: Session, lead: Lead, *, expected_version: int | None) -> int:
    """Insert (``expected_version`` None) or update the lead, its new consent entries and ids.

    Returns the new version. Raises RetryLater if someone else changed the lead meanwhile.
    """
    columns = _columns(lead)
    if expected_version is None:
        session.add(LeadRow(id=lead.id, version=1, **columns))
        version = 1
    else:
        result = session.execute(
            update(LeadRow)
            .where(LeadRow.id == lead.id, LeadRow.version == expected_version)
            .values(version=expected_version + 1, **columns)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise RetryLater(f"lead {lead.id} changed concurrently; retry")
        version = expected_version + 1
    session.flush()  # the lead row first: consent and id rows refer to it
    new = expected_version is None  # nothing hangs off a new lead yet: no need to look
    stored = (
        set()
        if new
        else {
            (c.channel, c.state, c.at, c.source)
            for c in session.scalars(select(ConsentRow).where(ConsentRow.lead_id == lead.id)).all()
        }
    )
    for entry in lead.consent.entries:
        if (entry.channel.value, entry.state.value, entry.at, entry.source) not in stored:
            session.add(
                ConsentRow(
                    lead_id=lead.id,
                    channel=entry.channel.value,
                    state=entry.state.value,
                    at=entry.at,
                    source=entry.source,
                    wording=entry.wording,
                )
            )
    known = (
        {}
        if new
        else {i.system: i for i in session.scalars(select(ExternalIdRow).where(ExternalIdRow.lead_id == lead.id))}
    )
    for system, external_id in lead.external_ids.items():
        row = known.get(system)
        if row is None:
            session.add(ExternalIdRow(lead_id=lead.id, system=system, external_id=external_id))
        elif row.external_id != external_id:
            row.external_id = external_id
    session.flush()
    return version


def count_leads(session: Session) -> int:
    """How many leads the store holds (open or closed)."""
    return int(session.scalar(select(func.count()).select_from(LeadRow)) or 0)


def find_lead_id(
    session: Session, *, external_ids: Mapping[str, str], phone: str | None, email: str | None
) -> str | None:
    """Match an inquiry to a lead: ids in other systems first, then E.164 phone, then email.

    Among several leads with the same phone or email, the most recently created open one wins
    (then the most recent of all).
    """
    if external_ids:
        pairs = [(ExternalIdRow.system == s) & (ExternalIdRow.external_id == e) for s, e in external_ids.items()]
        linked = session.execute(select(ExternalIdRow.system, ExternalIdRow.lead_id).where(or_(*pairs))).all()
        by_system = {r.system: r.lead_id for r in linked}
        for system in external_ids:  # in the inquiry's order of preference
            if system in by_system:
                return str(by_system[system])
    contacts = [c == v for c, v in ((LeadRow.phone, phone), (LeadRow.email, email)) if v]
    if not contacts:
        return None
    rows = session.execute(
        select(LeadRow.id, LeadRow.stage, LeadRow.phone)
        .where(or_(*contacts))
        .order_by(LeadRow.created_at.desc())
        .limit(40)
    ).all()
    for match in (
        [r for r in rows if phone and r.phone == phone],
        [r for r in rows if not (phone and r.phone == phone)],
    ):
        if match:
            open_rows = [r for r in match if not Stage(r.stage).is_closed]
            return str((open_rows or match)[0].id)
    return None


# --- touches and follow-ups ---------------------------------------------------------------------


def load_clearance(session: Session, lead_id: str) -> Clearance:
    """What the lead has provided so far (nothing, until a coordinator records it: hub.clearance)."""
    row = session.get(ClearanceRow, lead_id)
    if row is None:
        return Clearance()
    return Clearance(
        referral_documents_received=row.referral_documents_at is not None,
        insurance_collected=row.insurance_collected_at is not None,
        authorization_approved=row.authorization_approved_at is not None,
    )


def load_touches(session: Session, lead_id: str) -> list[Touch]:
    rows = session.scalars(select(TouchRow).where(TouchRow.lead_id == lead_id).order_by(TouchRow.at, TouchRow.id))
    return [
        Touch(
            channel=ContactChannel(r.channel) if r.channel else None,
            outcome=TouchOutcome(r.outcome),
            at=r.at,
            step=r.step,
            outbound=r.outbound,
            inquiry_channel=Channel(r.inquiry_channel) if r.inquiry_channel else None,
        )
        for r in rows
    ]


def add_touch(session: Session, lead_id: str, touch: Touch, *, source_ref: str | None = None) -> int:
    """Record a touch; with ``source_ref``, only once (a re-read of the same CRM task is a no-op).
    Returns the new touch's row id (truthy), or 0 when it was recorded before."""
    if source_ref is not None:
        exists = session.scalar(
            select(TouchRow.id).where(TouchRow.lead_id == lead_id, TouchRow.source_ref == source_ref)
        )
        if exists is not None:
            return 0
    row = TouchRow(
        lead_id=lead_id,
        channel=touch.channel.value if touch.channel else None,
        inquiry_channel=touch.inquiry_channel.value if touch.inquiry_channel else None,
        outcome=touch.outcome.value,
        at=touch.at,
        step=touch.step,
        outbound=touch.outbound,
        source_ref=source_ref,
    )
    session.add(row)
    session.flush()
    if touch.outcome is not TouchOutcome.INQUIRED:  # an inquiry is out of the sequence (renumber_touches)
        renumber_touches(session, lead_id)
    return row.id


def remove_touch(session: Session, touch_id: int) -> None:
    """Forget a touch recorded in this transaction for a change that was then refused."""
    row = session.get(TouchRow, touch_id)
    if row is not None:
        lead_id = row.lead_id
        session.delete(row)
        session.flush()
        renumber_touches(session, lead_id)


_RENUMBER_ALL = """
UPDATE touches SET attempt = seq.attempt, answered = seq.answered, replied_next = seq.replied_next
FROM (
    SELECT id,
        CASE WHEN outbound THEN SUM(CASE WHEN outbound THEN 1 ELSE 0 END)
            OVER (PARTITION BY lead_id ORDER BY at, id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) END AS attempt,
        COALESCE(NOT LEAD(outbound) OVER (PARTITION BY lead_id ORDER BY at, id), FALSE) AS answered,
        COALESCE(NOT LEAD(outbound) OVER (PARTITION BY lead_id ORDER BY at, id)
            AND LEAD(outcome) OVER (PARTITION BY lead_id ORDER BY at, id) = 'replied', FALSE) AS replied_next
    FROM touches
    WHERE outcome <> 'inquired'
) AS seq
WHERE touches.id = seq.id
"""


def renumber_all_touches(session: Session) -> None:
    """:func:`renumber_touches` for every lead at once, in SQL (after a bulk load of touches)."""
    session.execute(text(_RENUMBER_ALL))


def renumber_touches(session: Session, lead_id: str) -> None:
    """Keep each touch's place in its lead's sequence (what the review counts by): the outbound
    attempt number, and whether the patient answered right after it (the next touch is theirs)
    and with a reply. A touch may arrive late (a CRM pull), so the lead's few touches are looked
    at again in time order and the rows that changed are updated."""
    rows = session.scalars(select(TouchRow).where(TouchRow.lead_id == lead_id).order_by(TouchRow.at, TouchRow.id)).all()
    # An inquiry touch (the patient writing in again) is not an answer to an attempt: out of the sequence.
    rows = [r for r in rows if r.outcome != TouchOutcome.INQUIRED.value]
    attempt = 0
    for i, row in enumerate(rows):
        following = rows[i + 1] if i + 1 < len(rows) else None
        if row.outbound:
            attempt += 1
        number = attempt if row.outbound else None
        answered = following is not None and not following.outbound
        replied = answered and following is not None and following.outcome == TouchOutcome.REPLIED.value
        if (row.attempt, row.answered, row.replied_next) != (number, answered, replied):
            row.attempt, row.answered, row.replied_next = number, answered, replied


def open_violations(session: Session, lead_id: str) -> list[ViolationRow]:
    """The lead's policy violations not resolved yet (the lead page lists them)."""
    return list(
        session.scalars(
            select(ViolationRow)
            .where(ViolationRow.lead_id == lead_id, ViolationRow.resolved_at.is_(None))
            .order_by(ViolationRow.at)
        )
    )


def follow_ups(session: Session, lead_id: str) -> list[FollowUpRow]:
    return list(session.scalars(select(FollowUpRow).where(FollowUpRow.lead_id == lead_id).order_by(FollowUpRow.due_at)))


#: Follow-up states in which a CRM task exists (or is on its way).
WITH_TASK = ("task_requested", "task_created")


@dataclass(frozen=True, slots=True)
class PlanChanges:
    """What a re-plan means for tasks already in the CRM: steps to cancel, and steps whose task
    must be sent again because their time, channel or queue changed."""

    cancel: tuple[str, ...] = ()
    resend: tuple[str, ...] = ()
    #: The lead's follow-ups as they are now (what queueing the due tasks looks at, unread again).
    rows: tuple[FollowUpRow, ...] = field(default=(), compare=False)


def replace_plan(
    session: Session, lead_id: str, plan: CadencePlan, *, owner_queue: str, now: datetime, new: bool = False
) -> PlanChanges:
    """Make the stored follow-ups match ``plan``.

    Planned rows not in the plan any more are cancelled; rows still in it are moved; new steps are
    added. Rows whose CRM task exists are reported: cancelled ones to cancel in the CRM, changed
    ones to send again (the same task key, so the CRM updates the task in place).
    """
    existing = {} if new else {r.step_key: r for r in follow_ups(session, lead_id)}
    added: list[FollowUpRow] = []
    wanted = {s.key: s for s in plan.steps}
    cancel: list[str] = []
    resend: list[str] = []
    for key, row in existing.items():
        if key in wanted or row.status in ("done", "cancelled"):
            continue
        if row.status in WITH_TASK:
            cancel.append(key)
        row.status, row.updated_at = "cancelled", now
    for key, step in wanted.items():
        channel = step.channel.value if step.channel else None
        kind = step.template_kind.value if step.template_kind else None
        queue = step.owner_queue or owner_queue  # an escalation step names its own queue
        current = existing.get(key)
        if current is None:
            added.append(
                FollowUpRow(
                    lead_id=lead_id,
                    step_key=key,
                    label=step.label,
                    channel=channel,
                    template=step.template,
                    template_kind=kind,
                    due_at=step.due_at,
                    owner_queue=queue,
                    status="planned",
                    updated_at=now,
                )
            )
            continue
        if current.status == "done":
            continue
        changed = (current.due_at, current.channel, current.owner_queue, current.template) != (
            step.due_at,
            channel,
            queue,
            step.template,
        )
        if current.status in WITH_TASK and changed:
            resend.append(key)
        if current.status == "cancelled":
            current.status = "planned"
        if changed or current.status == "planned":
            current.due_at, current.owner_queue, current.updated_at = step.due_at, queue, now
            current.channel, current.template, current.template_kind = channel, step.template, kind
    session.add_all(added)
    if not new:  # a new lead's rows are inserted with whatever else its transaction adds
        session.flush()
    rows = sorted((*existing.values(), *added), key=lambda r: r.due_at)
    return PlanChanges(cancel=tuple(cancel), resend=tuple(resend), rows=tuple(rows))


# --- outbox -------------------------------------------------------------------------------------


def enqueue(
    session: Session,
    *,
    destinations: Iterable[str],
    kind: str,
    key: str,
    lead_id: str,
    now: datetime,
    new: bool = False,
) -> int:
    """Queue one external write per destination. A write already pending for the same destination,
    kind and key is not queued twice (its payload is built at send time, so it will carry the
    newest state anyway). ``new``: the caller knows nothing is queued for this key yet. Returns the
    number of rows added."""
    wanted = list(destinations)
    if not wanted:
        return 0
    pending: set[str] = set()
    if not new:
        pending = set(
            session.scalars(
                select(OutboxRow.destination).where(
                    OutboxRow.destination.in_(wanted),
                    OutboxRow.kind == kind,
                    OutboxRow.key == key,
                    OutboxRow.status == "pending",
                )
            )
        )
    added = 0
    for destination in wanted:
        if destination in pending:
            continue
        session.add(
            OutboxRow(
                destination=destination,
                kind=kind,
                key=key,
                lead_id=lead_id,
                created_at=now,
                status="pending",
                attempts=0,
                next_attempt_at=now,
            )
        )
        added += 1
    return added


def outbox_depth(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(OutboxRow.destination, func.count()).where(OutboxRow.status == "pending").group_by(OutboxRow.destination)
    ).all()
    return {str(d): int(n) for d, n in rows}


# --- cursors and audit --------------------------------------------------------------------------


def get_cursor(session: Session, name: str) -> str | None:
    return session.scalar(select(SyncCursorRow.value).where(SyncCursorRow.name == name))


def set_cursor(session: Session, name: str, value: str, *, now: datetime) -> None:
    row = session.get(SyncCursorRow, name)
    if row is None:
        session.add(SyncCursorRow(name=name, value=value, updated_at=now))
    else:
        row.value, row.updated_at = value, now


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    now: datetime,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Record who did what. ``detail`` holds ids and codes only."""
    session.add(
        AuditRow(
            at=now,
            actor=actor,
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            detail=dict(detail or {}),
        )
    )


# --- speed to lead --------------------------------------------------------------------------------


def mark_speed_to_lead(session: Session, lead_id: str, touch: Touch) -> tuple[str, float] | None:
    """Record the first attempt and first contact times (kept once set).

    Returns:
        (channel, seconds from receipt) when this touch is the lead's first attempt, else None.
    """
    if not touch.outbound:
        return None
    first = session.execute(
        update(LeadRow)
        .where(LeadRow.id == lead_id, LeadRow.first_attempt_at.is_(None))
        .values(first_attempt_at=touch.at)
        .returning(LeadRow.channel, LeadRow.created_at)
    ).first()
    if touch.made_contact:
        session.execute(
            update(LeadRow)
            .where(LeadRow.id == lead_id, LeadRow.first_contact_at.is_(None))
            .values(first_contact_at=touch.at)
        )
    if first is None:
        return None
    channel, received = first
    return str(channel), max(0.0, (touch.at - received).total_seconds())


def mark_booked(session: Session, lead_id: str, at: datetime) -> None:
    session.execute(update(LeadRow).where(LeadRow.id == lead_id, LeadRow.booked_at.is_(None)).values(booked_at=at))
