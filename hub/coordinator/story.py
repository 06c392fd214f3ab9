"""A lead's story: what happened to it, in time order, read from the store for the lead page.

Each :class:`Event` is plain data with codes (the page puts them in words through
:mod:`hub.coordinator.words`): inquiries by channel (the first, each later inbound event, each inbound
touch), the triage decision and the rules that fired, consent changes, writes to each CRM (with
the record's id there), staff outcomes (touches), bookings, and what staff recorded (audit).
Views of the page itself are not events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.settings.config import HubConfig
from hub.store.models import (
    AppointmentRow,
    AuditRow,
    ConnectionRow,
    ConsentRow,
    ExternalIdRow,
    InboxRow,
    LeadRow,
    OutboxRow,
    TouchRow,
)
from nurture.vocab import TouchOutcome

__all__ = ["Appointment", "CrmRecord", "Event", "Story", "lead_story", "record_url"]

#: Audit actions that are views, not things that happened to the lead.
_VIEWS = frozenset({"lead.view", "lead.search", "inbox.view", "lead.message"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One thing in a lead's story.

    Attributes:
        at: when (UTC).
        kind: ``inquiry``, ``triage``, ``consent``, ``crm``, ``touch``, ``booking``, ``staff``.
        what: the code of what happened (a channel, a consent state, an outbox kind, an outcome …);
            None for an inquiry whose channel is not known (one added from the CLI or by a merge).
        detail: codes and ids that say more (never PHI beyond what the lead page shows anyway).
    """

    at: datetime
    kind: str
    what: str | None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class CrmRecord:
    """The lead's record in another system.

    Attributes:
        system: ``salesforce``, ``hubspot``, a form or booking tool.
        record_id: its id there.
        url: a link to it, when the hub knows how to make one.
    """

    system: str
    record_id: str
    url: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Appointment:
    """An appointment of the lead in a scheduling system."""

    system: str
    service: str
    location: str
    start_at: datetime
    end_at: datetime
    status: str
    telehealth: bool
    provider: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Story:
    """Everything the lead page shows beyond the lead itself.

    Attributes:
        events: oldest first.
        records: the lead in other systems.
        appointments: soonest first (the next one is the one in force).
    """

    events: tuple[Event, ...]
    records: tuple[CrmRecord, ...]
    appointments: tuple[Appointment, ...]

    @property
    def appointment(self) -> Appointment | None:
        """The appointment in force (booked), if any."""
        booked = [a for a in self.appointments if a.status in ("booked", "rescheduled")]
        return booked[-1] if booked else None


def record_url(system: str, record_id: str, *, instance_url: str | None, options: Mapping[str, Any]) -> str | None:
    """A link to a CRM record: ``record_url`` from the CRM's settings (``{id}`` in it) when set,
    else Salesforce's ``<instance>/<id>`` (which opens any record); None when unknown."""
    pattern = options.get("record_url")
    if isinstance(pattern, str) and "{id}" in pattern:
        return pattern.replace("{id}", record_id)
    if system == "salesforce" and instance_url:
        return f"{instance_url.rstrip('/')}/{record_id}"
    return None


def lead_story(
    session: Session, lead_id: str, *, config: HubConfig, crm_options: Mapping[str, Mapping[str, Any]]
) -> Story | None:
    """The story of ``lead_id`` (None when there is no such lead).

    Args:
        session: a read transaction.
        lead_id: the lead.
        config: channels of the sources (which channel each inbound event came by).
        crm_options: per CRM, its settings' options (``record_url``).
    """
    lead = session.get(LeadRow, lead_id)
    if lead is None:
        return None
    events: list[Event] = [
        Event(at=lead.created_at, kind="inquiry", what=lead.channel, detail={"first": True, "campaign": lead.campaign}),
        Event(
            at=lead.created_at,
            kind="triage",
            what=lead.intent or "",
            detail={"urgent": lead.urgent, "needs": list(lead.needs or ()), "rules": list(lead.triage_keywords or ())},
        ),
    ]
    channel_of = {name: s.channel.value for name, s in config.sources.items()}
    first_event = True
    for row in session.execute(
        select(InboxRow.source, InboxRow.event_type, InboxRow.received_at, InboxRow.status)
        .where(InboxRow.lead_id == lead_id)
        .order_by(InboxRow.received_at, InboxRow.id)
    ):
        if first_event and abs((row.received_at - lead.created_at).total_seconds()) < 120:
            first_event = False  # the event that made the lead: already told as the first inquiry
            continue
        first_event = False
        events.append(
            Event(
                at=row.received_at,
                kind="inquiry",
                what=channel_of.get(row.source, row.source),
                detail={"source": row.source, "event_type": row.event_type, "status": row.status},
            )
        )
    for consent in session.scalars(select(ConsentRow).where(ConsentRow.lead_id == lead_id).order_by(ConsentRow.id)):
        events.append(
            Event(
                at=consent.at,
                kind="consent",
                what=consent.state,
                detail={"channel": consent.channel, "source": consent.source, "wording": consent.wording},
            )
        )
    untold = [e for e in events if e.kind == "inquiry"]  # the inquiries told, each matching one touch
    for touch in session.scalars(
        select(TouchRow).where(TouchRow.lead_id == lead_id).order_by(TouchRow.at, TouchRow.id)
    ):
        if touch.outcome == TouchOutcome.INQUIRED.value:
            # The inquiry itself: told above when it came as the first inquiry or an inbound event
            # (the nearest told one of its channel within two minutes); one that came otherwise
            # (the CLI, a merge) is told here, by its own channel.
            near = [
                e for e in untold
                if e.what == touch.inquiry_channel and abs((touch.at - e.at).total_seconds()) < 120
            ]  # fmt: skip
            if near:
                untold.remove(min(near, key=lambda e: abs((touch.at - e.at).total_seconds())))
            else:
                events.append(Event(at=touch.at, kind="inquiry", what=touch.inquiry_channel, detail={"first": False}))
            continue
        events.append(
            Event(
                at=touch.at,
                kind="touch" if touch.outbound else "reply",
                what=touch.outcome,
                detail={"channel": touch.channel, "step": touch.step, "outbound": touch.outbound},
            )
        )
    ids = {
        r.system: r.external_id for r in session.scalars(select(ExternalIdRow).where(ExternalIdRow.lead_id == lead_id))
    }
    instances = {r.name: r.instance_url for r in session.scalars(select(ConnectionRow))}
    records = tuple(
        CrmRecord(
            system=system,
            record_id=record_id,
            url=record_url(system, record_id, instance_url=instances.get(system), options=crm_options.get(system, {})),
        )
        for system, record_id in sorted(ids.items())
    )
    for item in session.scalars(
        select(OutboxRow).where(OutboxRow.lead_id == lead_id).order_by(OutboxRow.created_at, OutboxRow.id)
    ):
        step = item.key.split(":", 1)[1] if ":" in item.key else None
        events.append(
            Event(
                at=item.done_at or item.created_at,
                kind="crm",
                what=item.kind,
                detail={"system": item.destination, "status": item.status, "step": step},
            )
        )
    appointments = tuple(
        Appointment(
            system=a.system, service=a.service, location=a.location, start_at=a.start_at, end_at=a.end_at,
            status=a.status, telehealth=a.telehealth, provider=a.provider,
        )
        for a in session.scalars(
            select(AppointmentRow).where(AppointmentRow.lead_id == lead_id).order_by(AppointmentRow.start_at)
        )
    )  # fmt: skip
    for a in session.scalars(select(AppointmentRow).where(AppointmentRow.lead_id == lead_id)):
        events.append(
            Event(
                at=a.booked_at,
                kind="booking",
                what=a.status,
                detail={"system": a.system, "start_at": a.start_at, "service": a.service, "location": a.location},
            )
        )
    for audit in session.scalars(
        select(AuditRow)
        .where(AuditRow.subject_type == "lead", AuditRow.subject_id == lead_id, AuditRow.action.not_in(_VIEWS))
        .order_by(AuditRow.at, AuditRow.id)
    ):
        events.append(
            Event(at=audit.at, kind="staff", what=audit.action, detail={"actor": audit.actor, **audit.detail})
        )
    events.sort(key=lambda e: (e.at, _ORDER.get(e.kind, 9)))
    return Story(events=tuple(events), records=records, appointments=appointments)


_ORDER = {"inquiry": 0, "triage": 1, "consent": 2, "staff": 3, "crm": 4, "touch": 5, "reply": 6, "booking": 7}
