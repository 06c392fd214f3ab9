"""The Cal.com API v2 connector against the Cal.com sandbox (where patients book, through the
sandbox's own API: the hub only reads), and Cal.com's booking webhooks."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from importlib import resources

import pytest
import requests

from connectors.scheduling import AvailabilityQuery, Booking, Slot
from connectors.scheduling.calcom import CalcomScheduling, CalcomSettings, booking_event
from nurture.errors import ConfigError, SkipRecord
from nurture.prep import AppointmentStatus
from sandboxes.calcom import CalcomSandbox
from tests.fixtures.clock import ManualClock
from tests.fixtures.fhir_sandbox import FHIR_T0
from tests.scheduling.conftest import CalcomDesk

WEEK = AvailabilityQuery(start=FHIR_T0 + timedelta(hours=2), end=FHIR_T0 + timedelta(days=7))


def ana(desk: CalcomDesk, slot: Slot, lead_id: str = "nh_cal0001") -> Booking:
    """Ana books ``slot`` on Cal.com."""
    return desk.book(slot, lead_id, name="Ana Ruiz", email="ana.ruiz@example.org", phone="+15125550142", language="es")


def first(connector: CalcomScheduling, location: str | None = None) -> Slot:
    return next(iter(connector.find_slots(replace(WEEK, location=location))))


def test_slots_come_from_each_configured_event_type_with_its_meaning(
    calcom_connector: CalcomScheduling, calcom_sandbox: CalcomSandbox
) -> None:
    slots = list(calcom_connector.find_slots(WEEK))

    assert {(s.location, s.telehealth) for s in slots} == {("downtown", False), ("telehealth", True)}
    in_person = [s for s in slots if s.location == "downtown"]
    assert all(s.end - s.start == timedelta(hours=1) for s in in_person)
    assert all(s.id.startswith("482113@") for s in in_person)
    assert calcom_sandbox.log.count("GET", "/v2/slots", status=200) == 2  # one call per event type


def test_a_language_query_keeps_the_event_types_that_serve_it(calcom_connector: CalcomScheduling) -> None:
    spanish = list(calcom_connector.find_slots(replace(WEEK, language="es")))

    assert spanish and {s.location for s in spanish} == {"telehealth"}


def test_booking_reads_page_through_take_and_skip(
    calcom_settings: CalcomSettings, calcom_sandbox: CalcomSandbox, fhir_clock: ManualClock, calcom_desk: CalcomDesk
) -> None:
    connector = CalcomScheduling(replace(calcom_settings, page_size=2), "cal_test_sandbox", session=requests.Session())
    slots = list(connector.find_slots(WEEK))[:5]
    for n, slot in enumerate(slots):
        fhir_clock.advance(minutes=1)
        ana(calcom_desk, slot, f"nh_cal{n:04d}")

    read = list(connector.read_bookings(FHIR_T0))

    assert [b.lead_id for b in read] == [f"nh_cal{n:04d}" for n in range(5)]
    assert calcom_sandbox.log.count("GET", "/v2/bookings", status=200) == 3
    connector.close()


def test_a_refused_api_key_is_a_configuration_error(calcom_settings: CalcomSettings) -> None:
    connector = CalcomScheduling(calcom_settings, "cal_live_wrong", session=requests.Session())

    with pytest.raises(ConfigError, match="check the API key"):
        list(connector.find_slots(WEEK))
    assert not connector.check().ok
    connector.close()


# --- webhooks -------------------------------------------------------------------------------------


def test_a_booking_webhook_reads_as_a_booking(
    calcom_connector: CalcomScheduling,
    calcom_sandbox: CalcomSandbox,
    calcom_settings: CalcomSettings,
    calcom_desk: CalcomDesk,
) -> None:
    booked = ana(calcom_desk, first(calcom_connector))

    event = booking_event(calcom_sandbox.webhook(booked.id), calcom_settings)

    assert event is not None and event.booking is not None
    assert (event.trigger, event.uid) == ("BOOKING_CREATED", booked.id)
    assert event.booking.status is AppointmentStatus.BOOKED
    assert (event.booking.start, event.booking.lead_id) == (booked.start, "nh_cal0001")


def test_a_cancellation_webhook_reads_as_a_cancelled_booking(
    calcom_connector: CalcomScheduling,
    calcom_sandbox: CalcomSandbox,
    calcom_settings: CalcomSettings,
    calcom_desk: CalcomDesk,
) -> None:
    booked = ana(calcom_desk, first(calcom_connector))
    calcom_desk.cancel(booked.id)

    event = booking_event(calcom_sandbox.webhook(booked.id, "BOOKING_CANCELLED"), calcom_settings)

    assert event is not None and event.booking is not None
    assert event.booking.status is AppointmentStatus.CANCELLED


def test_the_sample_booking_webhook_reads(calcom_settings: CalcomSettings) -> None:
    envelope = json.loads(resources.files("mapping").joinpath("samples", "calcom_booking_created.json").read_text())

    event = booking_event(envelope, calcom_settings)

    assert event is not None and event.booking is not None
    booking = event.booking
    assert (booking.id, booking.status, booking.service, booking.location) == (
        "bkg_7Hq2kXy9PqZ3mN4r",
        AppointmentStatus.BOOKED,
        "primary_care",
        "downtown",
    )
    assert booking.lead_id is None  # booked on Cal.com's page, not through the hub: matched by email/phone
    assert booking.updated_at.isoformat().startswith("2026-12-01T17:20:41")


def test_no_show_and_reschedule_webhooks(calcom_settings: CalcomSettings) -> None:
    no_show = booking_event(
        {
            "triggerEvent": "BOOKING_NO_SHOW_UPDATED",
            "createdAt": "2026-12-04T17:00:00Z",
            "payload": {"bookingUid": "bkg_1", "attendees": [{"email": "x@example.org", "noShow": True}]},
        },
        calcom_settings,
    )
    moved = booking_event(
        {
            "triggerEvent": "BOOKING_RESCHEDULED",
            "createdAt": "2026-12-02T17:00:00Z",
            "payload": {
                "uid": "bkg_2",
                "rescheduleUid": "bkg_1",
                "eventTypeId": 482114,
                "startTime": "2026-12-08T19:00:00Z",
                "endTime": "2026-12-08T19:30:00Z",
                "status": "ACCEPTED",
            },
        },
        calcom_settings,
    )

    assert no_show is not None and (no_show.uid, no_show.booking) == ("bkg_1", None)
    assert moved is not None and moved.replaces == "bkg_1"
    assert moved.booking is not None and moved.booking.telehealth
    assert booking_event({"triggerEvent": "FORM_SUBMITTED", "payload": {}}, calcom_settings) is None
    with pytest.raises(SkipRecord):
        booking_event({"triggerEvent": "BOOKING_CREATED", "payload": {"uid": "bkg_3"}}, calcom_settings)
