"""Bookings close the loop: a booking (a Cal.com webhook, or a pull from a scheduling system)
matched to a lead moves it to "scheduled", cancels its pending cadence tasks in the CRM and starts
the preparation sequence; a kept or no-show appointment updates the stage (a no-show starts a short
re-booking sequence); a cancellation reopens the lead with a next action.

The rules are pure (``nurture.prep``); this module stores appointments and runs the change through
the same commit path as every other lead change.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.scheduling import Booking, SchedulingConnector
from connectors.scheduling.calcom import CalcomEventType, CalcomScheduling, CalcomSettings
from connectors.scheduling.calendly_events import CalendlyEventType, CalendlySettings
from hub.lifecycle.leads import CommitResult, commit_lead
from hub.settings.config import HubConfig, flatten_errors
from hub.store import Store, repo
from hub.store.models import AppointmentRow
from nurture.cadence import CadencePlan
from nurture.errors import ConfigError, SkipRecord
from nurture.lead import Lead
from nurture.prep import Appointment, AppointmentStatus, lead_after_appointment, plan_appointment_follow_ups
from nurture.touches import Touch

log = logging.getLogger(__name__)

__all__ = [
    "BookingsPull",
    "apply_booking",
    "appointment_plan",
    "build_calcom",
    "calcom_bookings_interval",
    "load_calcom_settings",
    "load_calendly_settings",
    "pull_bookings",
]


class _EventTypeSchema(Schema):
    id = fields.Integer(required=True, validate=validate.Range(min=1))
    service = fields.String(required=True)
    location = fields.String(required=True)
    provider = fields.String(load_default=None, allow_none=True)
    languages = fields.List(fields.String(), load_default=lambda: ["en"])
    interpreter_languages = fields.List(fields.String(), load_default=list)
    telehealth = fields.Boolean(load_default=False)
    length_minutes = fields.Integer(load_default=30, validate=validate.Range(min=5, max=1440))


class _CalendlyEventTypeSchema(Schema):
    uri = fields.Url(required=True, schemes={"https"})
    service = fields.String(required=True)
    location = fields.String(required=True)
    telehealth = fields.Boolean(load_default=False)


class _CalendlySchema(Schema):
    event_types = fields.List(fields.Nested(_CalendlyEventTypeSchema), load_default=list)
    # Reading visits back (kept, no-show) from Calendly's API on a schedule:
    pull = fields.Boolean(load_default=False)
    organization = fields.Url(load_default=None, allow_none=True, schemes={"https"})
    api_host = fields.Url(load_default="https://api.calendly.com", require_tld=False)
    api_token_env = fields.String(load_default="NURTUREHUB_CALENDLY_TOKEN")
    pull_minutes = fields.Integer(load_default=15, validate=validate.Range(min=1, max=1440))
    no_show_grace_hours = fields.Integer(load_default=24, validate=validate.Range(min=0, max=24 * 14))


def _load_booking_tool(config: HubConfig, name: str, schema: Schema) -> dict[str, Any]:
    """``[scheduling.<name>]`` validated, its event types' services and locations known ones.

    Raises:
        ConfigError: every problem, each with its key.
    """
    raw = dict(config.raw.get("scheduling", {}).get(name, {}))
    try:
        data: dict[str, Any] = schema.load(raw)
    except ValidationError as exc:
        raise ConfigError([f"scheduling.{name}.{p}" for p in flatten_errors(exc.messages)]) from None
    problems = []
    for i, et in enumerate(data["event_types"]):
        if et["service"] not in config.services:
            problems.append(f"scheduling.{name}.event_types[{i}].service: unknown service {et['service']!r}")
        if et["location"] not in config.locations:
            problems.append(f"scheduling.{name}.event_types[{i}].location: unknown location {et['location']!r}")
    if problems:
        raise ConfigError(problems)
    return data


def load_calendly_settings(config: HubConfig) -> CalendlySettings:
    """The ``[scheduling.calendly]`` section: which Calendly event type (by URI) stands for which
    service and location, so a Calendly booking can move its lead and start the preparation."""
    data = _load_booking_tool(config, "calendly", _CalendlySchema())
    return CalendlySettings(
        event_types=tuple(
            CalendlyEventType(
                uri=et["uri"], service=et["service"], location=et["location"], telehealth=et["telehealth"]
            )
            for et in data["event_types"]
        )
    )


class _CalcomSchema(Schema):
    enabled = fields.Boolean(load_default=False)
    api_host = fields.Url(load_default="https://api.cal.com", require_tld=False)
    api_key_env = fields.String(load_default="NURTUREHUB_CALCOM_API_KEY")
    event_types = fields.List(fields.Nested(_EventTypeSchema), load_default=list)
    bookings_minutes = fields.Integer(load_default=5, validate=validate.Range(min=1, max=1440))


def load_calcom_settings(config: HubConfig) -> CalcomSettings:
    """The ``[scheduling.calcom]`` section: which Cal.com event type stands for which service and
    location (bookings name event types, the hub thinks in services)."""
    data = _load_booking_tool(config, "calcom", _CalcomSchema())
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
    rescheduled: bool = False,
) -> CommitResult:
    """Record ``booking`` for ``lead`` and move the lead accordingly, in the caller's transaction.

    ``rescheduled``: a cancellation the system says is half of a reschedule (Calendly): it is
    recorded, and the lead waits for the new booking instead of reopening."""
    try:
        appointment = booking.appointment(service=lead.service, location=lead.location or default_location)
    except ValueError:
        raise SkipRecord(
            f"booking {booking.ref}: its event type is not mapped to a service and location "
            f"([[scheduling.{booking.system}.event_types]])",
            field="eventTypeId",
            code="unmapped_event_type",
        ) from None
    if appointment.status is AppointmentStatus.CANCELLED and (
        rescheduled or _booked_elsewhere(session, lead.id, booking)
    ):
        # A rescheduled visit: the old booking's cancellation must not reopen a lead that holds a
        # newer one (the two may arrive in either order).
        _store(session, lead.id, booking, appointment, now)
        log.info("lead %s: appointment %s cancelled; another stays booked", lead.id, booking.ref)
        return CommitResult(lead=lead, version=version, plan=None)
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


def _booked_elsewhere(session: Session, lead_id: str, booking: Booking) -> bool:
    return (
        session.scalar(
            select(AppointmentRow.id).where(
                AppointmentRow.lead_id == lead_id,
                AppointmentRow.ref != booking.ref,
                AppointmentRow.status == AppointmentStatus.BOOKED.value,
            )
        )
        is not None
    )


def appointment_plan(
    session: Session, lead: Lead, touches: Sequence[Touch], config: HubConfig, *, now: datetime
) -> CadencePlan | None:
    """The preparation (or no-show) follow-ups of a booked lead, or None when it has no appointment."""
    rows = session.scalars(
        select(AppointmentRow)
        .where(AppointmentRow.lead_id == lead.id)
        .order_by(AppointmentRow.updated_at.desc(), AppointmentRow.id.desc())
    ).all()
    if not rows:
        return None
    # The booked visit, if any (a rescheduled one's cancelled predecessor may be newer news);
    # else the latest news (a cancellation, a no-show, a kept visit).
    booked = [r for r in rows if r.status == AppointmentStatus.BOOKED.value]
    row = booked[0] if booked else rows[0]
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
    info = service.info if service else None
    return plan_appointment_follow_ups(
        lead,
        touches,
        appointment,
        service=info,
        clearance=repo.load_clearance(session, lead.id),
        settings=config.settings,
        now=now,
    )


# --- reading bookings from the scheduling system --------------------------------------------------

#: How far before the saved cursor each bookings read starts again (stamps written out of order).
BOOKINGS_OVERLAP = timedelta(minutes=10)


@dataclass(slots=True)
class BookingsPull:
    """What one read of a scheduling system's changed bookings did.

    Attributes:
        read: bookings read.
        applied: bookings that moved their lead (or were recorded for it).
        unchanged: already known as they are (an overlap re-read, or the webhook told us first).
        unmatched: bookings of people the hub has no lead for (made in the EHR, not through an inquiry).
        refused: bookings the hub could not apply (event type not mapped, policy refusal), logged by ref.
    """

    read: int = 0
    applied: int = 0
    unchanged: int = 0
    unmatched: int = 0
    refused: int = 0


def pull_bookings(
    store: Store,
    config: HubConfig,
    connector: SchedulingConnector,
    *,
    destinations: Sequence[str],
    now: datetime,
    overlap: timedelta = BOOKINGS_OVERLAP,
) -> BookingsPull:
    """Read the bookings changed since the last read and apply each to its lead: booked, cancelled,
    no-show and kept visits move the lead as a booking webhook would. A booking is matched by the
    hub's lead id it carries (booked through the hub) or by the appointment already recorded (a
    Cal.com webhook told us of it); others are counted, not imported. Each booking is its own
    transaction, with the cursor, so a failure halfway loses nothing and repeats nothing."""
    cursor_name = f"bookings:{connector.system}"
    with store.read() as session:
        saved = repo.get_cursor(session, cursor_name)
    since = datetime.fromisoformat(saved) - overlap if saved else None
    report = BookingsPull()
    for booking in connector.read_bookings(since):
        report.read += 1
        with store.tx() as session:
            outcome = _apply_pulled(session, booking, config, destinations=destinations, now=now)
            setattr(report, outcome, getattr(report, outcome) + 1)
            if saved is None or booking.updated_at > datetime.fromisoformat(saved):
                saved = booking.updated_at.isoformat()
                repo.set_cursor(session, cursor_name, saved, now=now)
    log.info(
        "bookings from %s: read=%d applied=%d unchanged=%d unmatched=%d refused=%d",
        connector.system, report.read, report.applied, report.unchanged, report.unmatched, report.refused,
    )  # fmt: skip
    return report


def _apply_pulled(
    session: Session, booking: Booking, config: HubConfig, *, destinations: Sequence[str], now: datetime
) -> str:
    known = session.scalars(
        select(AppointmentRow).where(AppointmentRow.system == booking.system, AppointmentRow.ref == booking.ref)
    ).one_or_none()
    if (
        known is not None
        and known.status == booking.status.value
        and known.start_at == booking.start
        and known.end_at == booking.end
    ):
        return "unchanged"
    lead_id = known.lead_id if known is not None else booking.lead_id
    found = repo.load_lead(session, lead_id, for_update=True) if lead_id else None
    if found is None:
        return "unmatched"
    lead, version = found
    try:  # a SkipRecord comes before anything is written
        result = apply_booking(
            session, lead=lead, version=version, booking=booking, config=config, now=now,
            actor=f"scheduling:{booking.system}", destinations=destinations,
        )  # fmt: skip
    except SkipRecord as exc:
        log.warning("bookings: %s not applied (%s)", booking.ref, exc.code)
        return "refused"
    if not result.ok:  # recorded (appointment row, audit event of the refusal), not retried
        log.warning("bookings: %s refused by policy (%s)", booking.ref, ", ".join(v.rule for v in result.violations))
        return "refused"
    return "applied"


def calcom_bookings_interval(config: HubConfig) -> timedelta | None:
    """How often the bookings job reads Cal.com, or None when the Cal.com API is not enabled."""
    raw = config.raw.get("scheduling", {}).get("calcom", {})
    if not raw.get("enabled"):
        return None
    try:
        data = _CalcomSchema().load(dict(raw))
    except ValidationError as exc:
        raise ConfigError([f"scheduling.calcom.{p}" for p in flatten_errors(exc.messages)]) from None
    return timedelta(minutes=data["bookings_minutes"])


def build_calcom(config: HubConfig, environ: Mapping[str, str]) -> CalcomScheduling | None:
    """The Cal.com API connector (``[scheduling.calcom]`` with ``enabled = true``), or None."""
    raw = config.raw.get("scheduling", {}).get("calcom", {})
    if not raw.get("enabled"):
        return None
    settings = load_calcom_settings(config)
    env = str(raw.get("api_key_env") or "NURTUREHUB_CALCOM_API_KEY")
    key = environ.get(env, "")
    if not key:
        raise ConfigError([f"scheduling.calcom.api_key_env: {env} is not set"])
    return CalcomScheduling(settings, key)
