"""The scheduling contract: every connector (the fake, FHIR, Cal.com) behaves the same way."""

from __future__ import annotations

from datetime import timedelta

from connectors.base import ConnectionStatus
from connectors.scheduling import Booking, SchedulingConnector, Slot
from nurture.prep import AppointmentStatus
from tests.fixtures.clock import ManualClock
from tests.scheduling.conftest import UnderTest


def free(under: UnderTest) -> list[Slot]:
    return list(under.connector.find_slots(under.query))


def book_first(under: UnderTest, lead_id: str = "nh_contract01") -> tuple[Slot, Booking]:
    """The first free slot, booked in the system itself (the hub only reads bookings)."""
    slot = free(under)[0]
    return slot, under.desk.book(slot, lead_id)


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


def test_changed_bookings_are_read_oldest_first_since_a_cursor(scheduling: UnderTest, fhir_clock: ManualClock) -> None:
    _, first = book_first(scheduling, "nh_contract01")
    fhir_clock.advance(minutes=5)
    _, second = book_first(scheduling, "nh_contract02")
    fhir_clock.advance(minutes=5)
    scheduling.desk.cancel(first.id)

    everything = list(scheduling.connector.read_bookings(None))
    since_second = list(scheduling.connector.read_bookings(second.updated_at))

    assert [b.updated_at for b in everything] == sorted(b.updated_at for b in everything)
    assert {b.id for b in everything} >= {first.id, second.id}
    assert [b.id for b in since_second][-2:] == [second.id, first.id]
    assert since_second[-1].status is AppointmentStatus.CANCELLED
    assert all(b.updated_at >= second.updated_at - timedelta(milliseconds=1) for b in since_second)
