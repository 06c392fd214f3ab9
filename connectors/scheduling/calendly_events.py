"""Calendly's booking webhooks as bookings: ``invitee.created`` and ``invitee.canceled``.

Calendly (webhooks API v2) posts ``{"event", "created_at", "payload"}``, the payload being the
Invitee resource with its ``scheduled_event`` embedded (``uri``, ``start_time``, ``end_time``,
``event_type``, ``status``). A reschedule is two deliveries: the old invitee canceled with
``rescheduled: true`` (and ``new_invitee``), and a new ``invitee.created`` (with ``old_invitee``).
Calendly knows event types, not services: ``[[scheduling.calendly.event_types]]`` says what each
event type URI stands for. Routing-form submissions carry no booking and are inquiries only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.scheduling.base import Booking
from nurture.errors import SkipRecord
from nurture.prep import AppointmentStatus

__all__ = ["SYSTEM", "CalendlyBookingEvent", "CalendlyEventType", "CalendlySettings", "booking_event"]

SYSTEM = "calendly"
BOOKING_EVENTS = frozenset({"invitee.created", "invitee.canceled"})


@dataclass(frozen=True, slots=True, kw_only=True)
class CalendlyEventType:
    """What one Calendly event type stands for: its URI, the hub's service and location."""

    uri: str
    service: str
    location: str
    telehealth: bool = False

    def __post_init__(self) -> None:
        if not self.uri.startswith("https://") or not self.service or not self.location:
            raise ValueError("a Calendly event type needs its https URI, a service and a location")


@dataclass(frozen=True, slots=True)
class CalendlySettings:
    """The ``[scheduling.calendly]`` table: the event types the clinic's booking pages use."""

    event_types: tuple[CalendlyEventType, ...] = ()
    _by_uri: Mapping[str, CalendlyEventType] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_uri", {e.uri.rstrip("/"): e for e in self.event_types})

    def event_type(self, uri: str) -> CalendlyEventType | None:
        return self._by_uri.get(uri.rstrip("/"))


@dataclass(frozen=True, slots=True, kw_only=True)
class CalendlyBookingEvent:
    """What a Calendly booking webhook says.

    Attributes:
        event: ``invitee.created`` or ``invitee.canceled``.
        booking: the scheduled event as a booking (cancelled for ``invitee.canceled``).
        rescheduled: a cancellation that is one half of a reschedule (the new booking follows).
    """

    event: str
    booking: Booking
    rescheduled: bool = False


def _time(value: Any, what: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise SkipRecord(f"calendly: {what} is missing", field=what, code="calendly_payload")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SkipRecord(f"calendly: {what} is not a date-time", field=what, code="calendly_payload") from None
    if parsed.tzinfo is None:
        raise SkipRecord(f"calendly: {what} has no UTC offset", field=what, code="calendly_payload")
    return parsed


def booking_event(envelope: Mapping[str, Any], settings: CalendlySettings) -> CalendlyBookingEvent | None:
    """Read a verified Calendly webhook; None for events that are not bookings.

    Raises:
        SkipRecord: a booking event whose payload lacks the scheduled event or its times (the
            field is named; no values are quoted).
    """
    event = str(envelope.get("event", ""))
    if event not in BOOKING_EVENTS:
        return None
    payload = envelope.get("payload")
    scheduled = payload.get("scheduled_event") if isinstance(payload, Mapping) else None
    if not isinstance(payload, Mapping) or not isinstance(scheduled, Mapping):
        raise SkipRecord(
            f"calendly {event}: no scheduled_event in the payload",
            field="payload.scheduled_event",
            code="calendly_payload",
        )
    uri = str(scheduled.get("uri") or "")
    if not uri:
        raise SkipRecord(
            f"calendly {event}: the scheduled event has no uri", field="payload.scheduled_event.uri",
            code="calendly_payload",
        )  # fmt: skip
    start = _time(scheduled.get("start_time"), "payload.scheduled_event.start_time")
    end = _time(scheduled.get("end_time"), "payload.scheduled_event.end_time")
    updated = payload.get("updated_at") or envelope.get("created_at")
    created = payload.get("created_at")
    kind = settings.event_type(str(scheduled.get("event_type") or ""))
    cancelled = event == "invitee.canceled" or payload.get("status") == "canceled"
    booking = Booking(
        id=uri.rstrip("/").rsplit("/", 1)[-1],
        system=SYSTEM,
        status=AppointmentStatus.CANCELLED if cancelled else AppointmentStatus.BOOKED,
        start=start,
        end=end,
        updated_at=_time(updated, "payload.updated_at") if updated else start,
        created_at=_time(created, "payload.created_at") if created else None,
        service=kind.service if kind else None,
        location=kind.location if kind else None,
        telehealth=kind.telehealth if kind else False,
    )
    return CalendlyBookingEvent(
        event=event, booking=booking, rescheduled=cancelled and bool(payload.get("rescheduled"))
    )
