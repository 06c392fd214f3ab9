"""Staff convert a lead in Salesforce (the sandbox converts as Salesforce does; the hub talks to it
through the real simple-salesforce): the hub stops writing to the converted lead, follows it to the
Contact and Account, moves its open tasks there and records the conversion on the lead — whether it
learns of the conversion from a pull or from a write Salesforce refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from connectors.salesforce import SalesforceConnector
from hub.settings.config import HubConfig
from hub.store import Store
from hub.store.models import AuditRow, CrmConversionRow, OutboxRow
from nurture.inquiry import Inquiry
from nurture.vocab import Channel, Stage
from tests.fixtures.clock import ManualClock
from tests.fixtures.salesforce_sandbox import SalesforceOrg
from tests.integration.test_sync_salesforce import TUESDAY_MORNING, SfWorld


@pytest.fixture
def world(
    store: Store,
    config: HubConfig,
    make_sf_org: Callable[..., SalesforceOrg],
    make_sf_connector: Callable[..., tuple[SalesforceConnector, SalesforceOrg]],
) -> SfWorld:
    clock = ManualClock(TUESDAY_MORNING)
    connector, org = make_sf_connector(org=make_sf_org(clock=clock))
    return SfWorld(store, config, connector, org, clock)


def tasks_of(world: SfWorld, lead_id: str) -> dict[str, dict[str, Any]]:
    rows = world.org.sf.query_all(
        f"SELECT Id, WhoId, WhatId, Status, Nurture_Task_Key__c FROM Task "  # noqa: S608
        f"WHERE Nurture_Task_Key__c LIKE '{lead_id}:%'"
    )["records"]
    return {r["Nurture_Task_Key__c"].split(":", 1)[1]: r for r in rows}


def outbox_problems(world: SfWorld) -> list[tuple[str, str | None]]:
    with world.store.tx() as s:
        rows = s.scalars(select(OutboxRow).where(OutboxRow.status.in_(("failed", "dead")))).all()
        return [(r.key, r.last_error) for r in rows]


def conversion_of(world: SfWorld, lead_id: str) -> tuple[str, str | None, int]:
    with world.store.tx() as s:
        row = s.get(CrmConversionRow, (lead_id, "salesforce"))
        assert row is not None
        audits = s.scalars(
            select(AuditRow).where(AuditRow.subject_id == lead_id, AuditRow.action == "crm_lead_converted")
        ).all()
        return row.contact_id, row.account_id, len(audits)


def test_a_lead_converted_in_salesforce_is_followed_to_its_contact_after_a_pull(world: SfWorld) -> None:
    lead_id = world.inquiry()
    world.sync()
    record = world.record(lead_id)
    contact, account = world.org.sandbox.convert_lead(record["Id"])
    world.clock.advance(minutes=2)
    # Staff then log the Day-0 call (on the contact, where Salesforce moved the task): no answer.
    world.staff.complete_task(tasks_of(world, lead_id)["day0_call"]["Id"], "no_answer")
    world.clock.advance(minutes=3)
    world.sync()

    assert conversion_of(world, lead_id) == (contact, account, 1)
    assert world.lead(lead_id).stage is Stage.ATTEMPTING  # the hub's lead goes on
    tasks = tasks_of(world, lead_id)
    assert tasks["day0_call"]["Status"] == "Completed"
    later = [t for step, t in tasks.items() if step != "day0_call"]
    assert later, "the cadence's next step is in the CRM"
    assert {t["WhoId"] for t in later} == {contact}  # new tasks go to the contact
    assert outbox_problems(world) == []  # nothing refused, nothing dead: the lead is not written to
    assert world.record(lead_id)["Status"] == "Closed - Converted"  # left as conversion set it


def test_a_conversion_first_seen_as_a_refused_write_is_followed_too(world: SfWorld) -> None:
    lead_id = world.inquiry()
    world.sync()
    record = world.record(lead_id)
    contact, _ = world.org.sandbox.convert_lead(record["Id"])
    world.clock.advance(minutes=2)
    # A second inquiry from the same person changes the lead before any pull saw the conversion.
    again = world.intake.submit(
        Inquiry(
            channel=Channel.WEBSITE_FORM, received_at=world.clock.now, first_name="Ana", last_name="Ruiz",
            phone="(512) 555-0142", email="ana.ruiz@example.org", text="Any news about my appointment?",
        ),
        actor="test",
    )  # fmt: skip
    assert again.lead is not None and again.lead.id == lead_id
    report = world.engine.push("salesforce", now=world.clock.now)

    assert report.skipped >= 1  # the lead write Salesforce refused: not failed, followed
    assert report.failed == 0
    assert conversion_of(world, lead_id)[0] == contact
    assert outbox_problems(world) == []
    world.clock.advance(minutes=1)
    world.engine.push("salesforce", now=world.clock.now)  # nothing left to send to the lead
    assert outbox_problems(world) == []
    assert all(t["WhoId"] == contact for t in tasks_of(world, lead_id).values())
