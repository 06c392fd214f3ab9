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
from hub.bootstrap import Hub
from hub.cadence import advance_cadence
from hub.store import repo
from hub.store.models import AppointmentRow
from hub.sync import Destination, SyncEngine
from mapping.defaults import default_crm_mapping
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
    engine = SyncEngine(
        hub.store,
        hub.config,
        {
            "salesforce": Destination(
                name="salesforce", connector=connector, mapping=default_crm_mapping("salesforce", "Lead"),
                next_action_field="Next_Action__c",
            )
        },
    )  # fmt: skip
    hub._sync = engine
    hub.intake.destinations = ("salesforce",)
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
