"""The sync engine on the Salesforce sandbox, through the real simple-salesforce: what issue 4 must
show, end to end (the same scenarios run against the in-memory CRM in tests/hub/sync/test_sync.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from itertools import count
from typing import Any

import pytest

from connectors.salesforce import SalesforceConnector
from hub.inbound.intake import Intake
from hub.settings.config import HubConfig
from hub.store import Store, repo
from hub.sync import Destination, SyncEngine
from mapping.defaults import default_crm_mapping
from nurture.consent import ConsentEntry
from nurture.inquiry import Inquiry
from nurture.vocab import Channel, ConsentState, ContactChannel, Stage
from sandboxes.common import Faults
from tests.fixtures.clock import ManualClock
from tests.fixtures.salesforce_connector import SalesforceStaff
from tests.fixtures.salesforce_sandbox import SalesforceOrg

#: A Tuesday, 10:00 in Austin: the clinic is open and a missed call's text falls inside the day.
TUESDAY_MORNING = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)


class SfWorld:
    def __init__(
        self,
        store: Store,
        config: HubConfig,
        connector: SalesforceConnector,
        org: SalesforceOrg,
        clock: ManualClock | None = None,
    ) -> None:
        # What the cadence plans depends on the time of day: tests that look at it pass a fixed
        # clock (which the org's SystemModstamp follows too); the others may run on the real one.
        self.clock = clock or ManualClock(datetime.now(UTC).replace(microsecond=0))
        self.store, self.org, self.connector = store, org, connector
        self.staff = SalesforceStaff(org.sf)
        ids = count(1)
        self.intake = Intake(store, config, destinations=("salesforce",), id_factory=lambda _: f"nh_sf{next(ids):05d}")
        self.engine = SyncEngine(
            store,
            config,
            {
                "salesforce": Destination(
                    name="salesforce",
                    connector=connector,
                    mapping=default_crm_mapping("salesforce", "Lead"),
                    next_action_field="Next_Action__c",
                )
            },
        )

    def inquiry(self, **kw: Any) -> str:
        values: dict[str, Any] = {
            "channel": Channel.WEBSITE_FORM,
            "received_at": self.clock.now,
            "first_name": "Ana",
            "last_name": "Ruiz",
            "phone": "(512) 555-0142",
            "email": "ana.ruiz@example.org",
            "text": "I'd like to book an appointment",
        }
        values.update(kw)
        result = self.intake.submit(Inquiry(**values), actor="test")
        assert result.lead is not None
        return result.lead.id

    def sync(self) -> None:
        self.engine.push("salesforce", now=self.clock.now)
        self.engine.pull("salesforce", now=self.clock.now)
        self.engine.push("salesforce", now=self.clock.now)

    def record(self, lead_id: str) -> dict[str, Any]:
        result = self.org.sf.query(
            f"SELECT Id, LastName, Status, Intent__c, Next_Action__c, Score__c, SMS_Consent__c FROM Lead "  # noqa: S608
            f"WHERE Nurture_Id__c = '{lead_id}'"
        )
        assert result["totalSize"] == 1, result["totalSize"]
        return dict(result["records"][0])

    def tasks(self, lead_id: str) -> dict[str, dict[str, Any]]:
        rows = self.org.sf.query_all(
            f"SELECT Id, Subject, Status, TaskSubtype, Nurture_Task_Key__c FROM Task "  # noqa: S608
            f"WHERE Nurture_Task_Key__c LIKE '{lead_id}:%'"
        )["records"]
        return {r["Nurture_Task_Key__c"].split(":", 1)[1]: r for r in rows}

    def lead(self, lead_id: str) -> Any:
        with self.store.tx() as s:
            found = repo.load_lead(s, lead_id)
        assert found is not None
        return found[0]


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


def test_a_new_lead_becomes_a_salesforce_lead_and_a_day0_call_task(world: SfWorld) -> None:
    lead_id = world.inquiry()
    world.sync()
    record = world.record(lead_id)
    assert (record["LastName"], record["Status"], record["Intent__c"], record["Score__c"]) == (
        "Ruiz", "Open - Not Contacted", "ready_to_schedule", "A",
    )  # fmt: skip
    tasks = world.tasks(lead_id)
    assert list(tasks) == ["day0_call"]
    assert tasks["day0_call"]["Subject"] == f"Day 0 call — lead {lead_id}"
    assert tasks["day0_call"]["TaskSubtype"] == "Call"


def test_a_crash_after_salesforce_accepted_the_write_duplicates_nothing(
    world: SfWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead_id = world.inquiry()

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed between the write and its acknowledgement")

    monkeypatch.setattr(world.engine, "_done", crash)
    with pytest.raises(RuntimeError):
        world.engine.push("salesforce", now=world.clock.now)
    monkeypatch.undo()
    for _ in range(3):
        world.clock.advance(minutes=6)
        world.engine.push("salesforce", now=world.clock.now)
    world.record(lead_id)  # exactly one
    assert list(world.tasks(lead_id)) == ["day0_call"]


def test_contacted_without_a_next_action_gets_a_repair_task(world: SfWorld) -> None:
    lead_id = world.inquiry()
    world.sync()
    world.staff.edit(world.record(lead_id)["Id"], {"Status": "Working - Contacted", "Next_Action__c": None})
    world.clock.advance(minutes=1)
    world.sync()
    tasks = world.tasks(lead_id)
    assert tasks["set_next_action"]["Subject"] == f"Set the next action — lead {lead_id}"
    assert world.record(lead_id)["Next_Action__c"] == "book_appointment"
    assert world.lead(lead_id).stage is Stage.ATTEMPTING


def test_a_no_answer_disposition_plans_the_next_step(world: SfWorld) -> None:
    consent = ConsentEntry(
        channel=ContactChannel.SMS,
        state=ConsentState.GRANTED,
        at=world.clock.now,
        source="form:sms",
        wording="Text me.",
    )
    lead_id = world.inquiry(consents=(consent,))
    world.sync()
    world.staff.complete_task(world.tasks(lead_id)["day0_call"]["Id"], "no_answer")
    world.clock.advance(minutes=5)
    world.sync()
    tasks = world.tasks(lead_id)
    assert tasks["day0_call"]["Status"] == "Completed"
    assert tasks["day0_text"]["Status"] == "Not Started"
    assert world.lead(lead_id).stage is Stage.ATTEMPTING


def test_everything_lands_through_429s_and_5xx(
    store: Store, config: HubConfig, make_sf_connector: Callable[..., tuple[SalesforceConnector, SalesforceOrg]]
) -> None:
    connector, org = make_sf_connector(faults=Faults(share_429=0.2, share_5xx=0.05, retry_after_s=1, seed=43))
    world = SfWorld(store, config, connector, org)
    ids = [world.inquiry(phone=f"512-555-{n:04d}", email=f"p{n}@example.org") for n in range(100, 160)]
    for _ in range(10):
        report = world.engine.push("salesforce", now=world.clock.now, limit=10_000)
        if report.written == 0 and report.retrying == 0:
            break
        world.clock.advance(minutes=10)
    org.sandbox.faults.share_429 = org.sandbox.faults.share_5xx = 0.0
    total = org.sf.query("SELECT COUNT() FROM Lead WHERE Nurture_Id__c LIKE 'nh_sf%'")["totalSize"]
    tasks = org.sf.query("SELECT COUNT() FROM Task WHERE Nurture_Task_Key__c LIKE 'nh_sf%'")["totalSize"]
    assert (total, tasks) == (len(ids), len(ids))
    assert org.sandbox.log.count(status=429) + org.sandbox.log.count(status=503) > 0
