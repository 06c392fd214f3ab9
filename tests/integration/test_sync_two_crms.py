"""Both CRMs at once, through the real SDKs on the sandboxes: an opt-out made in HubSpot is revoked
in the hub and, on the next push, in Salesforce too; pending text tasks are withdrawn everywhere."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from itertools import count

from connectors.hubspot import HubSpotConnector
from connectors.salesforce import SalesforceConnector
from hub.config import HubConfig
from hub.intake import Intake
from hub.store import Store, repo
from hub.sync import Destination, SyncEngine
from nurture.consent import ConsentEntry
from nurture.inquiry import Inquiry
from nurture.vocab import Channel, ConsentState, ContactChannel
from tests.conftest import Clock
from tests.fixtures.hubspot_connector import HubSpotStaff
from tests.fixtures.salesforce_sandbox import SalesforceOrg


def test_an_opt_out_in_hubspot_is_revoked_in_salesforce_too(
    store: Store,
    config: HubConfig,
    make_sf_connector: Callable[..., tuple[SalesforceConnector, SalesforceOrg]],
    hubspot_connector: HubSpotConnector,
    hubspot_staff: HubSpotStaff,
) -> None:
    sf, org = make_sf_connector()
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    ids = count(1)
    names = ("salesforce", "hubspot")
    intake = Intake(store, config, destinations=names, id_factory=lambda _: f"nh_two{next(ids):04d}")
    engine = SyncEngine(
        store,
        config,
        {
            "salesforce": Destination.default("salesforce", sf),
            "hubspot": Destination.default("hubspot", hubspot_connector),
        },
    )  # fmt: skip

    def sync() -> None:
        for name in names:
            engine.push(name, now=clock.now)
        for name in names:
            engine.pull(name, now=clock.now)
        for name in names:
            engine.push(name, now=clock.now)

    consent = ConsentEntry(
        channel=ContactChannel.SMS, state=ConsentState.GRANTED, at=clock.now, source="form:sms", wording="Text me."
    )
    result = intake.submit(
        Inquiry(
            channel=Channel.WEBSITE_FORM, received_at=clock.now, first_name="Ana", last_name="Ruiz",
            phone="(512) 555-0142", email="ana.ruiz@example.org", text="I'd like an appointment", consents=(consent,),
        ),
        actor="test",
    )  # fmt: skip
    assert result.lead is not None
    lead_id = result.lead.id
    sync()
    sf_lead = org.sf.query(f"SELECT Id, SMS_Consent__c FROM Lead WHERE Nurture_Id__c = '{lead_id}'")["records"][0]  # noqa: S608
    assert sf_lead["SMS_Consent__c"] == "granted"
    with store.tx() as s:
        found = repo.load_lead(s, lead_id)
    assert found is not None
    hubspot_id = found[0].external_ids["hubspot"]
    hubspot_staff.edit(hubspot_id, {"nurturehub_sms_consent": "denied"})
    clock.advance(minutes=2)
    sync()
    with store.tx() as s:
        found = repo.load_lead(s, lead_id)
    assert found is not None
    lead = found[0]
    assert lead.consent.state(ContactChannel.SMS) is ConsentState.DENIED
    entry = lead.consent.latest(ContactChannel.SMS)
    assert entry is not None
    assert entry.source == "crm:hubspot"
    sf_lead = org.sf.query(f"SELECT Id, SMS_Consent__c FROM Lead WHERE Nurture_Id__c = '{lead_id}'")["records"][0]  # noqa: S608
    assert sf_lead["SMS_Consent__c"] == "denied"
