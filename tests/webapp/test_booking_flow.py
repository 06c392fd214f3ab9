"""Booking closes the loop, end to end through the real webhook path and the Salesforce sandbox:
a Cal.com booking webhook stops the cadence (its CRM tasks are withdrawn) and starts the preparation
sequence as CRM tasks at the right times — none in quiet hours, none on channels without consent."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient
from sqlalchemy import select

from connectors.salesforce import SalesforceConnector
from hub.app.bootstrap import Hub
from hub.lifecycle.cadence import advance_cadence
from hub.lifecycle.clearance import record_clearance
from hub.store import repo
from hub.store.models import AppointmentRow
from nurture.vocab import ContactChannel, NextActionKind, Stage
from tests.fixtures.salesforce_sandbox import SalesforceOrg
from tests.webapp.conftest import signed

SAMPLES = Path(__file__).resolve().parents[2] / "mapping" / "samples"
CHICAGO = ZoneInfo("America/Chicago")


def booking(email: str, phone: str, start: datetime, *, trigger: str = "BOOKING_CREATED") -> dict[str, Any]:
    envelope = json.loads((SAMPLES / "calcom_booking_created.json").read_text(encoding="utf-8"))
    payload = copy.deepcopy(envelope)
    payload["triggerEvent"] = trigger
    body = payload["payload"]
    body["startTime"] = start.isoformat().replace("+00:00", "Z")
    body["endTime"] = (start + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    body["attendees"][0].update(email=email, phoneNumber=phone)
    body["responses"]["email"]["value"] = email
    body["responses"]["attendeePhoneNumber"]["value"] = phone
    body["responses"]["smsConsent"]["value"] = False  # no consent to texts: none may be planned
    if trigger == "BOOKING_CANCELLED":
        body["status"] = "CANCELLED"
    return payload


def test_a_calcom_booking_stops_the_cadence_and_starts_preparation_in_salesforce(
    client: FlaskClient, hub: Hub, make_sf_connector: Callable[..., tuple[SalesforceConnector, SalesforceOrg]]
) -> None:
    connector, org = make_sf_connector()
    hub.connectors = {"salesforce": connector}
    hub.reset_sync()
    hub.intake.destinations = ("salesforce",)
    engine = hub.sync_engine()
    assert engine is not None
    clock = hub.clock  # a controllable clock: Tuesday 1 December 2026, 10:00 in Austin
    now = clock()

    # An inquiry arrives by Typeform and reaches Salesforce with its Day 0 call task.
    typeform = json.loads((SAMPLES / "typeform_appointment_en.json").read_text(encoding="utf-8"))
    assert signed(client, "website_form", typeform, now=now).status_code == 202
    lead_id = hub.inbox.process(now=now).lead_ids[0]
    engine.push("salesforce", now=now)
    tasks = {t["Nurture_Task_Key__c"].split(":")[1]: t for t in _tasks(org, lead_id)}
    assert tasks["day0_call"]["Status"] == "Not Started"

    # She books a visit five days later through Cal.com.
    with hub.store.tx() as s:
        lead, _ = repo.load_lead(s, lead_id) or (None, 0)
    assert lead is not None
    start = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # Monday 09:00 in Austin
    assert signed(client, "booking", booking(lead.email or "", lead.phone or "", start), now=now).status_code == 202
    report = hub.inbox.process(now=now)
    assert (report.done, report.parked) == (1, 0)
    with hub.store.tx() as s:
        lead, _ = repo.load_lead(s, lead_id) or (None, 0)
        follow_ups = {f.step_key: f for f in repo.follow_ups(s, lead_id)}
        appointment = s.scalars(select(AppointmentRow)).one()
    assert lead is not None
    assert lead.stage is Stage.SCHEDULED
    assert lead.next_action is not None
    assert lead.next_action.kind is NextActionKind.SEND_PREP_INFO
    assert appointment.lead_id == lead_id
    assert follow_ups["day0_call"].status == "cancelled"
    prep = {k: f for k, f in follow_ups.items() if k.startswith("prep_") and f.status != "cancelled"}
    assert "prep_confirmation" in prep
    assert "prep_documents" in prep

    # Over the days before the visit the cadence job brings each preparation step to the CRM.
    moment = now
    while moment < start:
        advance_cadence(hub.store, hub.config, destinations=("salesforce",), now=moment)
        engine.push("salesforce", now=moment)
        moment += timedelta(hours=6)
    tasks = {t["Nurture_Task_Key__c"].split(":")[1]: t for t in _tasks(org, lead_id)}
    assert tasks["day0_call"]["Status"] == "Deferred"  # the cadence's call, withdrawn
    assert {"prep_confirmation", "prep_documents"} <= set(tasks)
    with hub.store.tx() as s:
        planned = [f for f in repo.follow_ups(s, lead_id) if f.step_key.startswith("prep_") and f.status != "cancelled"]
    for f in planned:
        assert f.channel != ContactChannel.SMS.value, f.step_key  # no consent to texts
        if f.channel in (ContactChannel.CALL.value, ContactChannel.SMS.value):
            local = f.due_at.astimezone(CHICAGO)
            assert 8 <= local.hour < 21, (f.step_key, local)
        assert f.due_at <= start, f.step_key

    # A cancellation reopens the lead with a next action.
    cancelled = booking(lead.email or "", lead.phone or "", start, trigger="BOOKING_CANCELLED")
    assert signed(client, "booking", cancelled, now=moment).status_code == 202
    hub.inbox.process(now=start - timedelta(days=1))
    with hub.store.tx() as s:
        lead, _ = repo.load_lead(s, lead_id) or (None, 0)
    assert lead is not None
    assert lead.stage is Stage.REACHED
    assert lead.next_action is not None


def _tasks(org: SalesforceOrg, lead_id: str) -> list[dict[str, Any]]:
    return list(
        org.sf.query_all(
            f"SELECT Nurture_Task_Key__c, Status FROM Task WHERE Nurture_Task_Key__c LIKE '{lead_id}:%'"  # noqa: S608
        )["records"]
    )


def calendly(event: str, start: datetime, *, event_uuid: str, rescheduled: bool = False) -> dict[str, Any]:
    envelope = json.loads((SAMPLES / "calendly_invitee_created.json").read_text(encoding="utf-8"))
    envelope["event"] = event
    body = envelope["payload"]
    body["scheduled_event"]["uri"] = f"https://api.calendly.com/scheduled_events/{event_uuid}"
    body["uri"] = f"https://api.calendly.com/scheduled_events/{event_uuid}/invitees/inv-{event_uuid}"
    body["scheduled_event"]["start_time"] = start.isoformat().replace("+00:00", "Z")
    body["scheduled_event"]["end_time"] = (start + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    if event == "invitee.canceled":
        body["status"], body["rescheduled"] = "canceled", rescheduled
        body["cancellation"] = {"canceled_by": "Rosa Delgado", "reason": "", "canceler_type": "invitee"}
    return envelope


def test_calendly_bookings_stop_the_cadence_and_a_reschedule_does_not_reopen_the_lead(
    client: FlaskClient, hub: Hub
) -> None:
    now = hub.clock()
    first, second = datetime(2026, 12, 8, 16, 0, tzinfo=UTC), datetime(2026, 12, 9, 16, 0, tzinfo=UTC)

    def deliver(envelope: dict[str, Any], n: int) -> None:
        assert signed(client, "intro_call", envelope, now=now, event_id=f"cal_{n}").status_code == 202
        report = hub.inbox.process(now=now)
        assert (report.done, report.parked) == (1, 0)

    def state() -> tuple[Stage, dict[str, str], dict[str, str]]:
        with hub.store.tx() as s:
            (lead_id,) = s.scalars(select(AppointmentRow.lead_id).distinct()).all()
            lead, _ = repo.load_lead(s, lead_id) or (None, 0)
            assert lead is not None
            steps = {f.step_key: f.status for f in repo.follow_ups(s, lead_id)}
            visits = {a.ref: a.status for a in s.scalars(select(AppointmentRow))}
        return lead.stage, steps, visits

    deliver(calendly("invitee.created", first, event_uuid="ev-1"), 1)
    stage, steps, visits = state()
    assert stage is Stage.SCHEDULED
    assert steps["day0_call"] == "cancelled"  # she booked: nobody calls her to book
    assert "prep_confirmation" in steps
    assert steps["prep_referral_reminder"] == "planned"  # physical therapy needs a referral
    assert visits == {"calendly:ev-1": "booked"}

    # The front desk records the referral documents: the reminder is withdrawn.
    with hub.store.tx() as s:
        (lead_id,) = s.scalars(select(AppointmentRow.lead_id).distinct()).all()
        recorded = record_clearance(s, lead_id, referral_documents=True, config=hub.config, now=now, actor="test",
                                    destinations=())  # fmt: skip
    assert recorded is not None and recorded.ok
    assert state()[1]["prep_referral_reminder"] == "cancelled"

    # She moves the visit: Calendly cancels the old invitee (rescheduled) and creates a new one.
    deliver(calendly("invitee.canceled", first, event_uuid="ev-1", rescheduled=True), 2)
    assert state()[0] is Stage.SCHEDULED
    deliver(calendly("invitee.created", second, event_uuid="ev-2"), 3)
    stage, _, visits = state()
    assert stage is Stage.SCHEDULED
    assert visits == {"calendly:ev-1": "cancelled", "calendly:ev-2": "booked"}

    # A real cancellation reopens the lead with a next action.
    deliver(calendly("invitee.canceled", second, event_uuid="ev-2"), 4)
    stage, _, visits = state()
    assert stage is Stage.REACHED
    assert visits["calendly:ev-2"] == "cancelled"
