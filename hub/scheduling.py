"""Bookings close the loop: a booking (a Cal.com webhook, or a pull from a scheduling system)
matched to a lead moves it to "scheduled", cancels its pending cadence tasks in the CRM and starts
the preparation sequence; a kept or no-show appointment updates the stage (a no-show starts a short
re-booking sequence); a cancellation reopens the lead with a next action.

The rules are pure (``nurture.prep``); this module stores appointments and runs the change through
the same commit path as every other lead change.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.calcom_api import CalcomEventType, CalcomSettings
from connectors.scheduling import Booking
from hub.config import HubConfig, flatten_errors
from hub.leads import CommitResult, commit_lead
from hub.store.models import AppointmentRow
from nurture.cadence import CadencePlan
from nurture.capacity import Clearance, ServiceInfo
from nurture.errors import ConfigError, SkipRecord
from nurture.lead import Lead
from nurture.prep import Appointment, AppointmentStatus, lead_after_appointment, plan_appointment_follow_ups
from nurture.touches import Touch

log = logging.getLogger(__name__)

__all__ = ["apply_booking", "appointment_plan", "load_calcom_settings"]


class _EventTypeSchema(Schema):
    id = fields.Integer(required=True, validate=validate.Range(min=1))
    service = fields.String(required=True)
    location = fields.String(required=True)
    provider = fields.String(load_default=None, allow_none=True)
    languages = fields.List(fields.String(), load_default=lambda: ["en"])
    interpreter_languages = fields.List(fields.String(), load_default=list)
    telehealth = fields.Boolean(load_default=False)
    length_minutes = fields.Integer(load_default=30, validate=validate.Range(min=5, max=1440))


class _CalcomSchema(Schema):
    enabled = fields.Boolean(load_default=False)
    api_host = fields.Url(load_default="https://api.cal.com", require_tld=False)
    api_key_env = fields.String(load_default="NURTUREHUB_CALCOM_API_KEY")
    event_types = fields.List(fields.Nested(_EventTypeSchema), load_default=list)


def load_calcom_settings(config: HubConfig) -> CalcomSettings:
    """The ``[scheduling.calcom]`` section: which Cal.com event type stands for which service and
    location (bookings name event types, the hub thinks in services)."""
    raw = dict(config.raw.get("scheduling", {}).get("calcom", {}))
    try:
        data = _CalcomSchema().load(raw)
    except ValidationError as exc:
        raise ConfigError([f"scheduling.calcom.{p}" for p in flatten_errors(exc.messages)]) from None
    problems = []
    for i, et in enumerate(data["event_types"]):
        if et["service"] not in config.services:
            problems.append(f"scheduling.calcom.event_types[{i}].service: unknown service {et['service']!r}")
        if et["location"] not in config.locations:
            problems.append(f"scheduling.calcom.event_types[{i}].location: unknown location {et['location']!r}")
    if problems:
        raise ConfigError(problems)
    return CalcomSettings(
        api_host=data["api_host"],
        event_types=tuple(
            CalcomEventType(
                id=et["id"],
                service=et["service"],
                location=et["location"],
                provider=et["provider"],
                languages=frozenset(et["languages"]),
                interpreter_languages=frozenset(et["interpreter_languages"]),
                telehealth=et["telehealth"],
                length_minutes=et["length_minutes"],
            )
            for et in data["event_types"]
        ),
    )


def _store(session: Session, lead_id: str, booking: Booking, appointment: Appointment, now: datetime) -> None:
    row = session.scalars(
        select(AppointmentRow).where(AppointmentRow.system == booking.system, AppointmentRow.ref == booking.ref)
    ).one_or_none()
    values: dict[str, Any] = {
        "lead_id": lead_id,
        "service": appointment.service,
        "location": appointment.location,
        "start_at": appointment.start,
        "end_at": appointment.end,
        "booked_at": appointment.booked_at,
        "status": appointment.status.value,
        "telehealth": appointment.telehealth,
        "provider": appointment.provider,
        "updated_at": now,
    }
    if row is None:
        session.add(AppointmentRow(system=booking.system, ref=booking.ref, **values))
    else:
        for key, value in values.items():
            setattr(row, key, value)
    session.flush()


def apply_booking(
    session: Session,
    *,
    lead: Lead,
    version: int,
    booking: Booking,
    config: HubConfig,
    now: datetime,
    actor: str,
    destinations: Sequence[str],
    default_location: str | None = None,
) -> CommitResult:
    """Record ``booking`` for ``lead`` and move the lead accordingly, in the caller's transaction."""
    try:
        appointment = booking.appointment(service=lead.service, location=lead.location or default_location)
    except ValueError:
        raise SkipRecord(
            f"booking {booking.ref}: its event type is not mapped to a service and location "
            "([[scheduling.calcom.event_types]])",
            field="eventTypeId",
            code="unmapped_event_type",
        ) from None
    _store(session, lead.id, booking, appointment, now)
    proposed = lead_after_appointment(lead, appointment, config.settings, now=now)
    result = commit_lead(
        session,
        before=lead,
        version=version,
        proposed=proposed,
        config=config,
        now=now,
        actor=actor,
        action=f"appointment_{appointment.status.value}",
        destinations=destinations,
    )
    log.info("lead %s: appointment %s %s", lead.id, booking.ref, appointment.status.value)
    return result


def appointment_plan(
    session: Session, lead: Lead, touches: Sequence[Touch], config: HubConfig, *, now: datetime
) -> CadencePlan | None:
    """The preparation (or no-show) follow-ups of a booked lead, or None when it has no appointment."""
    row = session.scalars(
        select(AppointmentRow)
        .where(AppointmentRow.lead_id == lead.id)
        .order_by(AppointmentRow.updated_at.desc(), AppointmentRow.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    appointment = Appointment(
        ref=row.ref,
        service=row.service,
        location=row.location,
        start=row.start_at,
        end=row.end_at,
        booked_at=row.booked_at,
        status=AppointmentStatus(row.status),
        telehealth=row.telehealth,
        provider=row.provider,
    )
    service = config.services.get(row.service)
    info = (
        ServiceInfo(
            id=service.id,
            requires_referral=service.requires_referral,
            requires_authorization=service.requires_authorization,
        )
        if service
        else None
    )
    return plan_appointment_follow_ups(
        lead, touches, appointment, service=info, clearance=Clearance(), settings=config.settings, now=now
    )
