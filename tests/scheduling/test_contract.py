"""The scheduling contract: every connector (the fake, FHIR, Cal.com) behaves the same way."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connectors.base import ConnectionStatus
from connectors.scheduling import (
    Attendee,
    Booking,
    BookingNotFound,
    BookingRequest,
    SchedulingConnector,
    Slot,
    SlotUnavailable,
)
from nurture.prep import AppointmentStatus
from tests.fixtures.fhir_sandbox import ManualClock
from tests.scheduling.conftest import UnderTest


def attendee(lead_id: str = "nh_contract01") -> Attendee:
    return Attendee(
        lead_id=lead_id, timezone="America/Chicago", name="Ana Ruiz", email="ana.ruiz@example.org", language="es"
    )


def free(under: UnderTest) -> list[Slot]:
    return list(under.connector.find_slots(under.query))


def book_first(under: UnderTest, lead_id: str = "nh_contract01") -> tuple[Slot, Booking]:
    slot = free(under)[0]
    return slot, under.connector.book(BookingRequest(slot=slot, attendee=attendee(lead_id)))


def test_the_connector_implements_the_protocol(scheduling: UnderTest) -> None:
    assert isinstance(scheduling.connector, SchedulingConnector)
    status = scheduling.connector.check()
    assert isinstance(status, ConnectionStatus)
    assert status.ok, status.detail


def test_free_slots_answer_the_query_earliest_first(scheduling: UnderTest) -> None:
    slots = free(scheduling)
    query = scheduling.query

    assert slots, f"{scheduling.name}: no free slots in the week"
    assert [s.start for s in slots] == sorted(s.start for s in slots)
    assert all(query.start <= s.start < query.end and s.free for s in slots)
    assert {s.service for s in slots} == {"primary_care"}
    assert all(s.system == scheduling.connector.system for s in slots)
    assert len({s.id for s in slots}) == len(slots)


def test_booking_takes_the_slot_out_of_the_free_slots(scheduling: UnderTest) -> None:
    slot, booking = book_first(scheduling)

    assert booking.status is AppointmentStatus.BOOKED
    assert (booking.start, booking.end) == (slot.start, slot.end)
    assert booking.lead_id == "nh_contract01"
    assert booking.service == "primary_care"
    assert slot.id not in {s.id for s in free(scheduling)}


def test_booking_a_taken_slot_is_refused_with_a_clear_error(scheduling: UnderTest) -> None:
    slot, _ = book_first(scheduling)

    with pytest.raises(SlotUnavailable) as refused:
        scheduling.connector.book(BookingRequest(slot=slot, attendee=attendee("nh_contract02")))

    assert refused.value.code == "slot_unavailable"
    assert refused.value.field == "slot"
    assert "not free" in str(refused.value)


def test_cancelling_frees_the_slot_again(scheduling: UnderTest) -> None:
    slot, booking = book_first(scheduling)

    cancelled = scheduling.connector.cancel(booking.id)

    assert cancelled.status is AppointmentStatus.CANCELLED
    assert slot.id in {s.id for s in free(scheduling)}
    assert scheduling.connector.cancel(booking.id).status is AppointmentStatus.CANCELLED  # a second time: no-op
    again = scheduling.connector.book(BookingRequest(slot=slot, attendee=attendee("nh_contract02")))
    assert again.status is AppointmentStatus.BOOKED


def test_a_booking_can_be_read_back(scheduling: UnderTest) -> None:
    _, booking = book_first(scheduling)

    read = scheduling.connector.get_booking(booking.id)

    assert (read.id, read.status, read.start, read.lead_id) == (
        booking.id,
        booking.status,
        booking.start,
        "nh_contract01",
    )
    with pytest.raises(BookingNotFound):
        scheduling.connector.get_booking("does-not-exist")


def test_changed_bookings_are_read_oldest_first_since_a_cursor(scheduling: UnderTest, fhir_clock: ManualClock) -> None:
    _, first = book_first(scheduling, "nh_contract01")
    fhir_clock.advance(minutes=5)
    _, second = book_first(scheduling, "nh_contract02")
    fhir_clock.advance(minutes=5)
    scheduling.connector.cancel(first.id)

    everything = list(scheduling.connector.read_bookings(None))
    since_second = list(scheduling.connector.read_bookings(second.updated_at))

    assert [b.updated_at for b in everything] == sorted(b.updated_at for b in everything)
    assert {b.id for b in everything} >= {first.id, second.id}
    assert [b.id for b in since_second][-2:] == [second.id, first.id]
    assert since_second[-1].status is AppointmentStatus.CANCELLED
    assert all(b.updated_at >= second.updated_at - timedelta(milliseconds=1) for b in since_second)
