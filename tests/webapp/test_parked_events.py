"""An inbound event is done only when it changed something or is a known no-op; anything else is
parked with a reason code, counted in /metrics and shown on Sync errors with the payload's shape
(values masked) and the mapping that should have matched — to replay after a fix, or to dismiss
with a reason (audited). Findings 2 and 5 of issue 14."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from hub.app.bootstrap import Hub
from hub.settings import settings_store
from hub.store.models import AuditRow, InboxRow, LeadRow, OutboxRow
from mapping.defaults import default_source_mapping
from mapping.schemas import dump_mapping
from tests.canary import CANARY_FIRST, CANARY_PHONE
from tests.fixtures.clock import ManualClock
from tests.webapp.admin_support import post, signed_in, text_of
from tests.webapp.conftest import signed


def statuses(hub: Hub) -> dict[str, str]:
    with hub.store.tx() as s:
        return {r.event_id: f"{r.status}:{(r.error or '').split(':')[0]}" for r in s.scalars(select(InboxRow))}


def count(hub: Hub, model: type) -> int:
    with hub.store.tx() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def typeform_with_renamed_refs() -> dict[str, Any]:
    sample = json.loads(resources.files("mapping").joinpath("samples", "typeform_appointment_en.json").read_text())
    renamed = copy.deepcopy(sample)
    for answer in renamed["form_response"]["answers"]:
        answer["field"]["ref"] = "q_" + answer["field"]["ref"]
    return renamed


def test_events_that_map_to_nothing_are_parked_with_a_reason_not_marked_done(
    client: FlaskClient, hub: Hub, clock: ManualClock
) -> None:
    deliveries = {
        "camel": {"firstName": CANARY_FIRST, "phoneNumber": CANARY_PHONE},
        "empty": {},
        "array": [],
        "number": 42,
    }
    for event_id, payload in deliveries.items():
        assert signed(client, "landing_page", payload, now=clock.now, event_id=event_id).status_code == 202
    signed(client, "website_form", typeform_with_renamed_refs(), now=clock.now)
    report = hub.inbox.process(now=clock.now)
    assert (report.done, report.parked) == (0, 5)
    found = statuses(hub)
    assert {found[k] for k in deliveries} == {
        "parked:unmapped_fields", "parked:empty_object", "parked:not_an_object",
    }  # fmt: skip
    assert found["camel"] == "parked:unmapped_fields"
    with hub.store.tx() as s:
        camel = s.scalar(select(InboxRow.error).where(InboxRow.event_id == "camel"))
        renamed = s.scalar(select(InboxRow.error).where(InboxRow.source == "website_form"))
    assert camel == "unmapped_fields: firstName, phoneNumber"
    with hub.store.tx() as s:  # the code and the field at fault as data, beside the message
        parked = s.execute(select(InboxRow.error_code, InboxRow.error_field).where(InboxRow.event_id == "camel")).one()
    assert tuple(parked) == ("unmapped_fields", "firstName")
    assert (renamed or "").startswith("no_contact_fields:")
    # No lead without a way to reach the patient, and nothing sent to a CRM.
    assert count(hub, LeadRow) == 0
    assert count(hub, OutboxRow) == 0
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'nurturehub_inbox_parked_total{reason="unmapped_fields",source="landing_page"} 1.0' in metrics
    assert 'nurturehub_inbox_parked_now{reason="not_an_object"} 2.0' in metrics
    assert 'nurturehub_inbox_parked_now{reason="no_contact_fields"} 1.0' in metrics


def test_a_hubspot_change_notice_is_a_known_no_op_and_done(client: FlaskClient, hub: Hub, clock: ManualClock) -> None:
    signed(client, "crm_events", [{"eventId": 1, "subscriptionType": "contact.propertyChange"}], now=clock.now)
    assert hub.inbox.process(now=clock.now).done == 1


def test_sync_errors_show_the_shape_and_the_mapping_without_values(
    app: Flask, client: FlaskClient, hub: Hub, clock: ManualClock
) -> None:
    signed(client, "landing_page", {"firstName": CANARY_FIRST, "phoneNumber": CANARY_PHONE}, now=clock.now)
    signed(client, "website_form", typeform_with_renamed_refs(), now=clock.now)
    hub.inbox.process(now=clock.now)
    page = signed_in(app, hub, "viewer").get("/sync-errors").text
    text = text_of(page)
    assert "Inbound from landing_page unmapped_fields firstName 1 (1 parked)" in text
    assert '"firstName": "string"' in text and '"phoneNumber": "string"' in text  # shape, values masked
    assert "standard_webhook_default" in page and "typeform_default" in page  # the mapping that should match
    assert "form_response.answers[ref=q_phone_number]" in page  # the renamed field, named
    assert "form_response.answers[ref=phone_number].phone_number" in page  # where the mapping looks
    assert "no phone or email to call the patient back" in text
    for phi in (CANARY_FIRST, CANARY_PHONE, "Maya", "maya.thompson@example.org"):
        assert phi not in page


def test_replay_after_a_mapping_fix_makes_the_lead(
    app: Flask, client: FlaskClient, hub: Hub, clock: ManualClock
) -> None:
    signed(client, "landing_page", {"firstName": "Ana", "phoneNumber": "(512) 555-0142"}, now=clock.now)
    hub.inbox.process(now=clock.now)
    document = dump_mapping(default_source_mapping("standard_webhook"))
    for rule in document["rules"]:
        if rule["target"] in ("first_name", "phone"):
            rule["sources"] = [rule["target"], {"first_name": "firstName", "phone": "phoneNumber"}[rule["target"]]]
    with hub.store.tx() as s:
        assert settings_store.save_mapping(s, document, actor="user:admin", now=clock.now).ok
    hub.reload_settings()
    coordinator = signed_in(app, hub, "coordinator")
    post(coordinator, "/sync-errors/retry", {"group": "inbox|landing_page|unmapped_fields|firstName"})
    assert hub.inbox.process(now=clock.now).done == 1
    with hub.store.tx() as s:
        lead = s.scalars(select(LeadRow)).one()
    assert (lead.first_name, lead.phone) == ("Ana", "+15125550142")


def test_a_replay_that_fails_again_says_so(app: Flask, client: FlaskClient, hub: Hub, clock: ManualClock) -> None:
    signed(client, "landing_page", {"firstName": "Ana"}, now=clock.now)
    hub.inbox.process(now=clock.now)
    coordinator = signed_in(app, hub, "coordinator")
    post(coordinator, "/sync-errors/retry", {"group": "all"})
    assert hub.inbox.process(now=clock.now).parked == 1
    assert "1 failed again after being sent again" in text_of(coordinator.get("/sync-errors").text)


def test_a_coordinator_dismisses_with_a_reason_and_it_is_audited(
    app: Flask, client: FlaskClient, hub: Hub, clock: ManualClock
) -> None:
    signed(client, "landing_page", 42, now=clock.now)
    hub.inbox.process(now=clock.now)
    coordinator = signed_in(app, hub, "coordinator")
    key = "inbox|landing_page|not_an_object|"
    assert f'value="{key}"' in coordinator.get("/sync-errors").text
    refused = post(coordinator, "/sync-errors/dismiss", {"group": key})
    assert refused.status_code == 303  # type: ignore[attr-defined]
    assert statuses(hub) != {} and set(statuses(hub).values()) == {"parked:not_an_object"}  # no reason: kept
    post(coordinator, "/sync-errors/dismiss", {"group": key, "reason": "test_or_spam"})
    assert set(statuses(hub).values()) == {"dismissed:not_an_object"}
    assert "Nothing has failed." in text_of(coordinator.get("/sync-errors").text)
    with hub.store.tx() as s:
        audit = s.scalars(select(AuditRow).where(AuditRow.action == "inbox_event_dismissed")).one()
    assert (audit.actor.startswith("user:"), audit.detail["reason"], audit.detail["was"]) == (
        True, "test_or_spam", "not_an_object",
    )  # fmt: skip


def test_the_suggested_fix_names_the_real_cause(app: Flask, hub: Hub, clock: ManualClock) -> None:
    from hub.inbound.intake import Intake
    from nurture.inquiry import Inquiry
    from nurture.vocab import Channel

    made = Intake(hub.store, hub.config).submit(
        Inquiry(channel=Channel.WEBSITE_FORM, received_at=clock.now, phone="(512) 555-0142"), actor="t"
    )
    assert made.lead is not None
    with hub.store.tx() as s:
        s.add(OutboxRow(destination="salesforce", kind="upsert_task", key=f"{made.lead.id}:day0_call",
                        lead_id=made.lead.id, created_at=clock.now, status="failed", attempts=1,
                        next_attempt_at=clock.now,
                        last_error="DUPLICATE_EXTERNAL_ID: Nurture_Task_Key__c duplicated in the request "
                                   f"[field Nurture_Task_Key__c] (lead {made.lead.id})",
                        error_code="DUPLICATE_EXTERNAL_ID", error_field="Nurture_Task_Key__c"))  # fmt: skip
    page = signed_in(app, hub, "viewer").get("/sync-errors").text
    text = text_of(page)
    assert "Two writes for one record were sent in one request" in text
    assert "Open the mapping" not in text
