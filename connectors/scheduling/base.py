"""The scheduling connector protocol: what the hub needs from a scheduling system (an EHR's FHIR
API, Cal.com), the values that cross it, and an in-memory fake that implements it.

Three methods — check, find free slots, read the bookings changed since a cursor. The hub reads
bookings; it never books for a patient (patients and staff book in the scheduling system itself).
Values are plain and carry the hub's ids (service, location, provider, language); each connector
maps its system's ids and codes to them. The fake and every real connector pass one contract suite
(``tests/scheduling/test_contract.py``).

Errors follow the CRM connectors (``connectors.base``): vendor exceptions never leave a connector;

- transient faults that outlast the connector's retries raise :class:`~nurture.errors.RetryLater`;
- refused credentials or scopes raise :class:`~nurture.errors.ConfigError`;
- a request the server could not understand raises :class:`~nurture.errors.FatalError` (our bug).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from connectors.base import ConnectionStatus
from nurture.capacity import LanguageSupport, Opening, language_support
from nurture.clock import require_aware
from nurture.prep import Appointment, AppointmentStatus

__all__ = [
    "MAX_QUERY_SPAN",
    "AvailabilityQuery",
    "Booking",
    "InMemoryScheduling",
    "SchedulingConnector",
    "Slot",
]

#: The longest date range one availability query may span.
MAX_QUERY_SPAN = timedelta(days=62)


@dataclass(frozen=True, slots=True, kw_only=True)
class Slot:
    """A bookable slot in a scheduling system.

    Attributes:
        id: the system's id for it (FHIR ``Slot`` logical id; Cal.com ``<eventTypeId>@<start>``).
        system: "fhir", "calcom", "fake" ….
        start, end: aware; ``end`` after ``start``.
        service: the hub's service id.
        location: the hub's location id (``telehealth`` for virtual visits).
        provider: the system's provider id (FHIR ``Practitioner`` id), if any.
        languages: languages the provider speaks (primary subtags: ``en``, ``es``).
        interpreter_languages: languages an interpreter is booked for in this slot.
        telehealth: a virtual visit.
        free: still bookable when it was read.
    """

    id: str
    system: str
    start: datetime
    end: datetime
    service: str
    location: str
    provider: str | None = None
    languages: frozenset[str] = frozenset()
    interpreter_languages: frozenset[str] = frozenset()
    telehealth: bool = False
    free: bool = True

    def __post_init__(self) -> None:
        require_aware(self.start, "Slot.start")
        require_aware(self.end, "Slot.end")
        if self.end <= self.start:
            raise ValueError(f"slot {self.id}: end must be after start")
        if not self.id or not self.system:
            raise ValueError("a slot needs an id and a system")
        object.__setattr__(self, "languages", frozenset(self.languages))
        object.__setattr__(self, "interpreter_languages", frozenset(self.interpreter_languages))

    @property
    def ref(self) -> str:
        """``<system>:<id>``: unique across systems."""
        return f"{self.system}:{self.id}"

    def opening(self) -> Opening:
        """The slot as the domain's :class:`~nurture.capacity.Opening`."""
        return Opening(
            ref=self.ref,
            start=self.start,
            end=self.end,
            service=self.service,
            location=self.location,
            provider=self.provider,
            languages=self.languages,
            interpreter_languages=self.interpreter_languages,
            telehealth=self.telehealth,
        )

    def serves(self, language: str) -> LanguageSupport | None:
        """How the slot serves ``language`` (provider speaks it, interpreter booked, or not)."""
        return language_support(self.opening(), language)


@dataclass(frozen=True, slots=True, kw_only=True)
class AvailabilityQuery:
    """Which free slots to find.

    Attributes:
        start, end: the range slot starts fall in, ``[start, end)``, aware; at most
            :data:`MAX_QUERY_SPAN` long.
        service: only this service (hub id), or any.
        location: only this location (hub id), or any.
        provider: only this provider (system id), or any.
        language: only slots whose provider speaks it or that have an interpreter for it.
    """

    start: datetime
    end: datetime
    service: str | None = None
    location: str | None = None
    provider: str | None = None
    language: str | None = None

    def __post_init__(self) -> None:
        require_aware(self.start, "AvailabilityQuery.start")
        require_aware(self.end, "AvailabilityQuery.end")
        if self.end <= self.start:
            raise ValueError("AvailabilityQuery.end must be after start")
        if self.end - self.start > MAX_QUERY_SPAN:
            raise ValueError(f"an availability query spans at most {MAX_QUERY_SPAN.days} days")

    def matches(self, slot: Slot) -> bool:
        """Whether ``slot`` answers this query (free, in range, and every filter)."""
        return (
            slot.free
            and self.start <= slot.start < self.end
            and (self.service is None or slot.service == self.service)
            and (self.location is None or slot.location == self.location)
            and (self.provider is None or slot.provider == self.provider)
            and (self.language is None or slot.serves(self.language) is not None)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Booking:
    """A booking as the scheduling system has it now.

    Attributes:
        id: the system's id (FHIR ``Appointment`` id, Cal.com booking uid).
        system: "fhir", "calcom", "fake" ….
        status: held, booked, cancelled, no-show or kept.
        start, end: aware.
        service, location: hub ids, when the system says.
        provider: the system's provider id, if any.
        slot_id: the slot it occupies, if the system has slots.
        lead_id: the hub's lead id the booking carries (an EHR appointment's lead identifier,
            Cal.com booking metadata), if it carries one.
        telehealth: a virtual visit.
        interpreter_language: the language an interpreter was asked for, if any.
        created_at: when it was booked, if known.
        updated_at: the system's last-modified stamp (the read cursor), aware.
    """

    id: str
    system: str
    status: AppointmentStatus
    start: datetime
    end: datetime
    updated_at: datetime
    service: str | None = None
    location: str | None = None
    provider: str | None = None
    slot_id: str | None = None
    lead_id: str | None = None
    telehealth: bool = False
    interpreter_language: str | None = None
    created_at: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end", "updated_at"):
            require_aware(getattr(self, name), f"Booking.{name}")
        if self.created_at is not None:
            require_aware(self.created_at, "Booking.created_at")
        if self.end <= self.start:
            raise ValueError(f"booking {self.id}: end must be after start")

    @property
    def ref(self) -> str:
        return f"{self.system}:{self.id}"

    def appointment(self, *, service: str | None = None, location: str | None = None) -> Appointment:
        """The booking as the domain's :class:`~nurture.prep.Appointment`.

        Args:
            service, location: hub ids to use when the system did not say (Cal.com event types
                configured without them, bookings made elsewhere).
        """
        svc, loc = self.service or service, self.location or location
        if not svc or not loc:
            raise ValueError(f"booking {self.ref}: service and location are needed for an appointment")
        support = None
        if self.interpreter_language:
            support = LanguageSupport.INTERPRETER
        return Appointment(
            ref=self.ref,
            service=svc,
            location=loc,
            start=self.start,
            end=self.end,
            booked_at=min(self.created_at or self.updated_at, self.start),
            status=self.status,
            telehealth=self.telehealth,
            provider=self.provider,
            language_support=support,
        )


@runtime_checkable
class SchedulingConnector(Protocol):
    """What the hub needs from a scheduling system."""

    #: "fhir", "calcom" …: the prefix of slot and booking refs.
    system: str

    def check(self) -> ConnectionStatus:
        """Whether the connection works (credentials included)."""
        ...

    def find_slots(self, query: AvailabilityQuery) -> Iterator[Slot]:
        """Free slots answering ``query``, earliest first, across every page the system returns."""
        ...

    def read_bookings(self, since: datetime | None) -> Iterator[Booking]:
        """Every booking modified at or after ``since`` (all when None), oldest first; the caller
        applies its overlap window and keeps the cursor (``Booking.updated_at``)."""
        ...


# --- the fake -----------------------------------------------------------------------------------


def _utc_now() -> datetime:
    return datetime.now(UTC)


class InMemoryScheduling:
    """A :class:`SchedulingConnector` in memory, for tests.

    Args:
        slots: the calendar (all free unless ``free=False``).
        clock: stamps ``updated_at``/``created_at`` (default: real UTC).
        system: the system name it reports.

    What patients and staff do in a real system — book a slot, cancel, record a no-show or a kept
    visit — is :meth:`add_booking` and :meth:`set_status`: the hub itself never books.
    """

    def __init__(
        self,
        slots: Iterable[Slot] = (),
        *,
        clock: Callable[[], datetime] = _utc_now,
        system: str = "fake",
    ) -> None:
        items = list(slots)
        self.system = system
        self._clock = clock
        self._lock = threading.Lock()
        self._slots: dict[str, Slot] = {s.id: replace(s, system=system) for s in items}
        self._bookings: dict[str, Booking] = {}
        self._ids = itertools.count(1)
        self._last_stamp: datetime | None = None

    def _stamp(self) -> datetime:
        # Strictly increasing stamps, so "modified since" reads are exact even on a frozen clock.
        now = self._clock()
        if self._last_stamp is not None and now <= self._last_stamp:
            now = self._last_stamp + timedelta(microseconds=1)
        self._last_stamp = now
        return now

    def check(self) -> ConnectionStatus:
        return ConnectionStatus(ok=True, detail=f"in-memory calendar with {len(self._slots)} slots")

    def find_slots(self, query: AvailabilityQuery) -> Iterator[Slot]:
        with self._lock:
            found = sorted((s for s in self._slots.values() if query.matches(s)), key=lambda s: (s.start, s.id))
        return iter(found)

    def add_booking(self, slot_id: str, *, lead_id: str | None = None, hold: bool = False) -> Booking:
        """Someone books (or holds) a free slot in the calendar; it is no longer free.

        Raises:
            ValueError: the slot is not free (or not in the calendar).
        """
        with self._lock:
            slot = self._slots.get(slot_id)
            if slot is None or not slot.free:
                raise ValueError(f"slot {slot_id} is not free")
            now = self._stamp()
            booking = Booking(
                id=f"bk-{next(self._ids)}",
                system=self.system,
                status=AppointmentStatus.HELD if hold else AppointmentStatus.BOOKED,
                start=slot.start,
                end=slot.end,
                service=slot.service,
                location=slot.location,
                provider=slot.provider,
                slot_id=slot.id,
                lead_id=lead_id,
                telehealth=slot.telehealth,
                created_at=now,
                updated_at=now,
            )
            self._slots[slot.id] = replace(slot, free=False)
            self._bookings[booking.id] = booking
            return booking

    def set_status(self, booking_id: str, status: AppointmentStatus) -> Booking:
        """Staff change a booking (cancel it, record a no-show or a kept visit); a cancellation
        frees its slot. Setting the status it has changes nothing.

        Raises:
            KeyError: no such booking.
        """
        with self._lock:
            booking = self._bookings[booking_id]
            if booking.status is status:
                return booking
            updated = replace(booking, status=status, updated_at=self._stamp())
            self._bookings[booking_id] = updated
            if status is AppointmentStatus.CANCELLED and booking.slot_id in self._slots:
                self._slots[booking.slot_id] = replace(self._slots[booking.slot_id], free=True)
            return updated

    def read_bookings(self, since: datetime | None) -> Iterator[Booking]:
        with self._lock:
            found = [b for b in self._bookings.values() if since is None or b.updated_at >= since]
        return iter(sorted(found, key=lambda b: (b.updated_at, b.id)))
