"""One external id, one write per request: a lead booked before its first push has an "upsert task"
and a "cancel task" queued for the same Day-0 call. Both CRMs (real SDKs on the sandboxes) must end
with that task withdrawn, never open, and every outbox item settled — Salesforce refuses two writes
for one external id in one sObject Collections request (DUPLICATE_EXTERNAL_ID)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from itertools import count

from sqlalchemy import select

from connectors.hubspot import HubSpotConnector
from connectors.salesforce import SalesforceConnector
from hub.inbound.intake import Intake
from hub.lifecycle.leads import commit_lead
from hub.settings.config import HubConfig
from hub.store import Store, repo
from hub.store.models import OutboxRow
from hub.sync import Destination, SyncEngine
from hub.sync.tasks import _after_task
from nurture.inquiry import Inquiry
from nurture.vocab import Channel, Stage
from sandboxes.hubspot import HubSpotSandbox
from tests.fixtures.clock import ManualClock
from tests.fixtures.salesforce_sandbox import SalesforceOrg

NAMES = ("salesforce", "hubspot")


def test_a_lead_booked_before_its_first_push_has_no_open_call_task_in_either_crm(
    store: Store,
    config: HubConfig,
    make_sf_connector: Callable[..., tuple[SalesforceConnector, SalesforceOrg]],
    hubspot_connector: HubSpotConnector,
    hubspot_sandbox: HubSpotSandbox,
) -> None:
    connector, org = make_sf_connector()
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    ids = count(1)
    intake = Intake(store, config, destinations=NAMES, id_factory=lambda _: f"nh_col{next(ids):04d}")
    destinations = {
        "salesforce": Destination.default("salesforce", connector),
        "hubspot": Destination.default("hubspot", hubspot_connector),
    }
    engine = SyncEngine(store, config, destinations)
    made = intake.submit(
        Inquiry(
            channel=Channel.APPOINTMENT_REQUEST, received_at=clock.now, first_name="Ana", last_name="Ruiz",
            phone="(512) 555-0142", email="ana.ruiz@example.org", text="I'd like an appointment",
        ),
        actor="test",
    )  # fmt: skip
    assert made.lead is not None and made.version is not None
    lead_id = made.lead.id
    with store.tx() as session:  # booked within seconds, before any push
        booked = commit_lead(
            session, before=made.lead, version=made.version,
            proposed=_after_task(made.lead, "booked", at=clock.now, now=clock.now),
            config=config, now=clock.now, actor="test", action="booked", destinations=NAMES,
        )  # fmt: skip
    assert booked.lead is not None and booked.lead.stage is Stage.SCHEDULED
    with store.tx() as session:
        queued = session.execute(
            select(OutboxRow.destination, OutboxRow.kind).where(OutboxRow.key == f"{lead_id}:day0_call")
        ).all()
    assert sorted(queued) == sorted([(d, k) for d in NAMES for k in ("upsert_task", "cancel_task")])

    for name in NAMES:
        report = engine.push(name, now=clock.now)
        assert (report.failed, report.dead, report.retrying) == (0, 0, 0), name

    with store.tx() as session:
        unsettled = session.execute(select(OutboxRow.kind, OutboxRow.status).where(OutboxRow.status != "done")).all()
        external = repo.load_lead(session, lead_id)
    assert unsettled == []
    assert external is not None
    sf_tasks = org.sf.query(
        f"SELECT Status FROM Task WHERE Nurture_Task_Key__c = '{lead_id}:day0_call'"  # noqa: S608
    )["records"]
    assert [t["Status"] for t in sf_tasks] == ["Deferred"]
    hs_tasks = [
        t.properties for t in hubspot_sandbox.store.records("tasks")
        if t.properties.get("nurturehub_task_key") == f"{lead_id}:day0_call"
    ]  # fmt: skip
    assert len(hs_tasks) == 1
    assert hs_tasks[0].get("hs_task_status") != "NOT_STARTED"
