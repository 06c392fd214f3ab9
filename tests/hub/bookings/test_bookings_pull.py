"""Bookings read from the EHR (FHIR R4, on the sandbox through the connector) move their leads the
way a booking webhook does: booked → scheduled with the preparation sequence, no-show → re-booking,
a rescheduled visit's cancellation leaves the lead scheduled; re-reads change nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from connectors.scheduling import AvailabilityQuery, Booking
from connectors.scheduling.fhir import FhirScheduling
from hub.bookings.scheduling import appointment_plan, pull_bookings
from hub.inbound.intake import Intake
from hub.settings.config import HubConfig
from hub.store import Store, repo
from hub.store.models import AppointmentRow, FollowUpRow, OutboxRow
from nurture.inquiry import Inquiry
from nurture.vocab import Channel, Intent, Stage
from tests.fixtures.clock import ManualClock
from tests.fixtures.fhir_sandbox import FhirDesk

DEST = ("crm",)


def new_lead(store: Store, config: HubConfig, clock: ManualClock, lead_id: str = "nh_book0001") -> str:
    inquiry = Inquiry(
        channel=Channel.WEBSITE_FORM, received_at=clock(), first_name="Ana", phone="(512) 555-0142",
        service="primary_care", location="downtown", intent_hint=Intent.READY_TO_SCHEDULE,
    )  # fmt: skip
    result = Intake(store, config, destinations=DEST, id_factory=lambda _: lead_id).submit(inquiry, actor="test")
    assert result.lead is not None
    return result.lead.id


def book(desk: FhirDesk, connector: FhirScheduling, clock: ManualClock, lead_id: str, *, skip: int = 0) -> Booking:
    """The front desk books the lead's patient into the EHR (the hub only reads bookings)."""
    query = AvailabilityQuery(
        start=clock() + timedelta(days=1), end=clock() + timedelta(days=8), service="primary_care"
    )
    slots = iter(connector.find_slots(query))
    for _ in range(skip):
        next(slots)
    return desk.book(next(slots), lead_id)


def stage(store: Store, lead_id: str) -> Stage:
    with store.read() as s:
        found = repo.load_lead(s, lead_id)
    assert found is not None
    return found[0].stage


def test_a_booking_made_in_the_ehr_schedules_its_lead_and_plans_the_preparation(
    store: Store, config: HubConfig, fhir_connector: FhirScheduling, fhir_clock: ManualClock, fhir_desk: FhirDesk
) -> None:
    lead_id = new_lead(store, config, fhir_clock)
    booking = book(fhir_desk, fhir_connector, fhir_clock, lead_id)
    fhir_clock.advance(minutes=2)

    got = pull_bookings(store, config, fhir_connector, destinations=DEST, now=fhir_clock())

    assert (got.read, got.applied, got.unmatched) == (1, 1, 0)
    assert stage(store, lead_id) is Stage.SCHEDULED
    with store.read() as s:
        row = s.scalars(select(AppointmentRow)).one()
        assert (row.ref, row.status, row.start_at) == (booking.ref, "booked", booking.start)
        steps = set(
            s.scalars(
                select(FollowUpRow.step_key).where(FollowUpRow.lead_id == lead_id, FollowUpRow.status != "cancelled")
            )
        )
        cancels = set(s.scalars(select(OutboxRow.key).where(OutboxRow.kind == "cancel_task")))
    assert f"{lead_id}:day0_call" in cancels  # the cadence's CRM task is withdrawn
    assert steps and not any(step.startswith("day") for step in steps)  # preparation steps only

    # A re-read (the overlap window) changes nothing.
    fhir_clock.advance(minutes=5)
    again = pull_bookings(store, config, fhir_connector, destinations=DEST, now=fhir_clock())
    assert (again.read, again.applied, again.unchanged) == (1, 0, 1)


def test_a_no_show_marked_in_the_ehr_starts_the_rebooking_sequence(
    store: Store, config: HubConfig, fhir_connector: FhirScheduling, fhir_clock: ManualClock, fhir_desk: FhirDesk
) -> None:
    lead_id = new_lead(store, config, fhir_clock)
    booking = book(fhir_desk, fhir_connector, fhir_clock, lead_id)
    pull_bookings(store, config, fhir_connector, destinations=DEST, now=fhir_clock())
    fhir_clock.advance(days=3)
    fhir_desk.no_show(booking.id)

    got = pull_bookings(store, config, fhir_connector, destinations=DEST, now=fhir_clock())

    assert got.applied == 1
    assert stage(store, lead_id) is Stage.NO_SHOW


def test_a_rescheduled_visit_keeps_the_lead_scheduled_on_the_new_time(
    store: Store, config: HubConfig, fhir_connector: FhirScheduling, fhir_clock: ManualClock, fhir_desk: FhirDesk
) -> None:
    lead_id = new_lead(store, config, fhir_clock)
    first = book(fhir_desk, fhir_connector, fhir_clock, lead_id)
    pull_bookings(store, config, fhir_connector, destinations=DEST, now=fhir_clock())
    fhir_clock.advance(hours=1)
    second = book(fhir_desk, fhir_connector, fhir_clock, lead_id, skip=3)
    fhir_clock.advance(minutes=1)
    fhir_desk.cancel(first.id)  # the cancellation is the newer change

    got = pull_bookings(store, config, fhir_connector, destinations=DEST, now=fhir_clock())

    assert got.applied == 2
    assert stage(store, lead_id) is Stage.SCHEDULED
    with store.read() as s:
        statuses = dict(s.execute(select(AppointmentRow.ref, AppointmentRow.status)).all())
        found = repo.load_lead(s, lead_id)
        assert found is not None
        plan = appointment_plan(s, found[0], [], config, now=fhir_clock())
    assert statuses == {first.ref: "cancelled", second.ref: "booked"}
    assert plan is not None and plan.steps
    assert all(step.due_at <= second.start for step in plan.steps)  # timed from the new visit


def test_a_booking_for_someone_the_hub_does_not_know_is_counted_not_imported(
    store: Store, config: HubConfig, fhir_connector: FhirScheduling, fhir_clock: ManualClock, fhir_desk: FhirDesk
) -> None:
    book(fhir_desk, fhir_connector, fhir_clock, "nh_elsewhere")

    got = pull_bookings(store, config, fhir_connector, destinations=DEST, now=fhir_clock())

    assert (got.read, got.unmatched, got.applied) == (1, 1, 0)
    with store.read() as s:
        assert s.scalars(select(AppointmentRow)).all() == []
