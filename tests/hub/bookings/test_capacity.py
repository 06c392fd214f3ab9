"""Availability read from the FHIR sandbox shapes new leads' next actions, and the summary shows it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy import select

from connectors.scheduling.fhir import FhirScheduling
from hub.bookings.capacity import capacity_summary, refresh_openings
from hub.inbound.intake import Intake
from hub.lifecycle.clearance import record_clearance
from hub.settings.config import HubConfig
from hub.store import Store, repo
from hub.store.models import AuditRow
from nurture.inquiry import Inquiry
from nurture.vocab import Channel, Intent, NextActionKind
from tests.fixtures.clock import ManualClock


@pytest.fixture
def openings(store: Store, make_fhir_connector: Callable[..., FhirScheduling], fhir_clock: ManualClock) -> datetime:
    """The sandbox calendar's openings read into the store, at the sandbox's own (pinned) time: the
    calendar starts on its clock's day, so reading it at today's date would find nothing one day."""
    now = fhir_clock()
    assert refresh_openings(store, make_fhir_connector(), now=now) > 0
    return now


def inquiry(now: datetime, service: str, **kw: object) -> Inquiry:
    values: dict[str, object] = {
        "channel": Channel.WEBSITE_FORM, "received_at": now, "first_name": "Ana", "phone": "(512) 555-0142",
        "service": service, "intent_hint": Intent.READY_TO_SCHEDULE,
    }  # fmt: skip
    values.update(kw)
    return Inquiry(**values)  # type: ignore[arg-type]


def test_a_service_booked_out_for_two_weeks_is_not_offered_times(
    store: Store, config: HubConfig, openings: datetime
) -> None:
    result = Intake(store, config).submit(inquiry(openings, "sleep_study"), actor="test")
    assert result.lead is not None
    action = result.lead.next_action
    assert action is not None
    # Sleep studies need a referral and a prior authorization first: never slots before that.
    assert action.kind in (NextActionKind.REQUEST_REFERRAL_DOCUMENTS, NextActionKind.VERIFY_INSURANCE)
    # ... and the Day-0 call follows the script for that, not the channel's generic first response.
    assert result.plan is not None
    assert result.plan.steps[0].template in ("referral_documents", "insurance_authorization")


def test_a_service_with_openings_keeps_booking(store: Store, config: HubConfig, openings: datetime) -> None:
    result = Intake(store, config).submit(inquiry(openings, "primary_care"), actor="test")
    assert result.lead is not None
    assert result.lead.next_action is not None
    assert result.lead.next_action.kind is NextActionKind.BOOK_APPOINTMENT
    assert result.lead.next_action.reason.startswith("capacity_")
    assert result.plan is not None
    assert result.plan.steps[0].template == "scheduling_ready"  # the call offers the openings


def test_without_availability_data_the_day0_call_follows_the_channels_script(
    store: Store, config: HubConfig, clock: ManualClock
) -> None:
    result = Intake(store, config).submit(inquiry(clock(), "primary_care"), actor="test")
    assert result.plan is not None
    assert result.plan.steps[0].template == config.settings.channel(Channel.WEBSITE_FORM).first_response_template


def test_the_summary_lists_every_service_and_location_with_next_availability(
    store: Store, config: HubConfig, openings: datetime
) -> None:
    with store.read() as session:
        rows = capacity_summary(session, config, now=openings)
    keys = {(r.service, r.location) for r in rows}
    assert {(s, loc) for s in config.services for loc in config.locations} <= keys
    primary = [r for r in rows if r.service == "primary_care" and r.language is None and r.next_available]
    assert primary
    sleep = [r for r in rows if r.service == "sleep_study" and r.language is None]
    assert all(r.booked_out for r in sleep)  # booked out for the first two weeks in the sandbox calendar


def test_recorded_clearance_turns_waiting_for_documents_into_booking(
    store: Store, config: HubConfig, openings: datetime
) -> None:
    result = Intake(store, config).submit(inquiry(openings, "physical_therapy"), actor="test")
    assert result.lead is not None and result.lead.next_action is not None
    assert result.lead.next_action.kind is NextActionKind.REQUEST_REFERRAL_DOCUMENTS  # no slots before documents
    lead_id = result.lead.id

    with store.tx() as session:
        recorded = record_clearance(
            session, lead_id, referral_documents=True, config=config, now=openings, actor="user:coordinator",
            destinations=(),
        )  # fmt: skip
        assert repo.load_clearance(session, lead_id).referral_documents_received
        audit = session.scalars(select(AuditRow.action).where(AuditRow.subject_id == lead_id)).all()

    assert recorded is not None and recorded.ok and recorded.lead is not None
    assert recorded.lead.next_action is not None
    assert recorded.lead.next_action.kind is NextActionKind.BOOK_APPOINTMENT
    assert {"lead.clearance", "clearance_recorded"} <= set(audit)


def test_an_approved_authorization_means_insurance_is_on_file(
    store: Store, config: HubConfig, openings: datetime
) -> None:
    result = Intake(store, config).submit(inquiry(openings, "sleep_study"), actor="test")
    assert result.lead is not None
    with store.tx() as session:
        record_clearance(session, result.lead.id, authorization=True, config=config, now=openings, actor="test",
                         destinations=())  # fmt: skip
        clearance = repo.load_clearance(session, result.lead.id)
    assert clearance.authorization_approved and clearance.insurance_collected
    assert not clearance.referral_documents_received
