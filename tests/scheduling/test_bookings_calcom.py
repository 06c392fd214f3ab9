"""Bookings read from the Cal.com API (on the Cal.com sandbox, through the connector) move their
leads: a no-show the host marks in Cal.com — which no webhook carries in full — reaches the lead."""

from __future__ import annotations

from datetime import timedelta

from connectors.scheduling import AvailabilityQuery
from connectors.scheduling.calcom import CalcomScheduling
from hub.bookings.scheduling import pull_bookings
from hub.inbound.intake import Intake
from hub.settings.config import HubConfig
from hub.store import Store, repo
from nurture.inquiry import Inquiry
from nurture.vocab import Channel, Intent, Stage
from sandboxes.calcom import CalcomSandbox
from tests.fixtures.clock import ManualClock
from tests.scheduling.conftest import CalcomDesk


def test_a_no_show_marked_in_calcom_is_read_and_starts_rebooking(
    store: Store,
    config: HubConfig,
    calcom_connector: CalcomScheduling,
    calcom_sandbox: CalcomSandbox,
    fhir_clock: ManualClock,
    calcom_desk: CalcomDesk,
) -> None:
    inquiry = Inquiry(
        channel=Channel.APPOINTMENT_REQUEST, received_at=fhir_clock(), first_name="Ana", email="ana.ruiz@example.org",
        service="primary_care", location="downtown", intent_hint=Intent.READY_TO_SCHEDULE,
    )  # fmt: skip
    result = Intake(store, config, destinations=("crm",)).submit(inquiry, actor="test")
    assert result.lead is not None
    lead_id = result.lead.id
    start = fhir_clock() + timedelta(days=1)
    slot = next(iter(calcom_connector.find_slots(AvailabilityQuery(start=start, end=start + timedelta(days=6)))))
    booking = calcom_desk.book(slot, lead_id, name="Ana Ruiz", email="ana.ruiz@example.org")

    booked = pull_bookings(store, config, calcom_connector, destinations=("crm",), now=fhir_clock())
    fhir_clock.advance(days=3)
    calcom_sandbox.mark_absent(booking.id)
    missed = pull_bookings(store, config, calcom_connector, destinations=("crm",), now=fhir_clock())

    assert (booked.applied, missed.applied) == (1, 1)
    with store.read() as s:
        found = repo.load_lead(s, lead_id)
    assert found is not None
    assert found[0].stage is Stage.NO_SHOW
