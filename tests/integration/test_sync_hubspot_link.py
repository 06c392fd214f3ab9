"""A patient staff already typed into HubSpot, then inquiring through a form: HubSpot refuses a
second contact with that email (409), and the hub links its lead to the contact instead of failing
or duplicating — through the real SDK on the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from connectors.hubspot import HubSpotConnector
from hub.inbound.intake import Intake
from hub.settings.config import HubConfig
from hub.store import Store, repo
from hub.store.models import AuditRow, OutboxRow
from hub.sync import Destination, SyncEngine
from nurture.inquiry import Inquiry
from nurture.vocab import Channel
from sandboxes.hubspot import HubSpotSandbox
from tests.fixtures.clock import ManualClock


def test_a_contact_staff_made_with_the_same_email_is_linked_not_a_sync_error(
    store: Store, config: HubConfig, hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox
) -> None:
    (existing,) = hubspot_sandbox.seed(
        "contacts", [{"firstname": "Ana", "lastname": "Ruiz", "email": "ana.ruiz@example.org"}]
    )
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    intake = Intake(store, config, destinations=("hubspot",), id_factory=lambda _: "nh_link0001")
    engine = SyncEngine(
        store,
        config,
        {
            "hubspot": Destination.default("hubspot", hubspot_connector)
        },
    )  # fmt: skip
    result = intake.submit(
        Inquiry(
            channel=Channel.WEBSITE_FORM, received_at=clock.now, first_name="Ana", last_name="Ruiz",
            phone="(512) 555-0142", email="ana.ruiz@example.org", text="I'd like an appointment",
        ),
        actor="test",
    )  # fmt: skip
    assert result.lead is not None
    lead_id = result.lead.id

    first = engine.push("hubspot", now=clock.now)  # the upsert meets HubSpot's 409: linked, retried
    assert first.failed == 0
    second = engine.push("hubspot", now=clock.now)  # the hub's id onto the contact, then the upsert
    assert second.failed == 0

    contacts = hubspot_sandbox.store.records("contacts")
    assert [str(c.id) for c in contacts] == [existing]
    assert contacts[0].properties["nurturehub_id"] == lead_id
    assert contacts[0].properties["nurturehub_intent"] == "ready_to_schedule"
    tasks = hubspot_sandbox.store.records("tasks")
    assert len(tasks) == 1  # the Day-0 call, on the contact staff made
    with store.tx() as s:
        found = repo.load_lead(s, lead_id)
        assert found is not None
        assert found[0].external_ids["hubspot"] == existing
        assert s.scalars(select(OutboxRow.status)).all() == ["done"] * len(s.scalars(select(OutboxRow.id)).all())
        assert s.scalar(select(AuditRow.action).where(AuditRow.action == "crm_record_linked")) == "crm_record_linked"
