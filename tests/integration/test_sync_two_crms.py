"""Both CRMs at once, through the real SDKs on the sandboxes: an opt-out made in HubSpot is revoked
in the hub and, on the next push, in Salesforce too; pending text tasks are withdrawn everywhere."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count

from connectors.hubspot import HubSpotConnector
from connectors.salesforce import SalesforceConnector
from hub.inbound.intake import Intake
from hub.settings.config import HubConfig
from hub.store import Store, repo
from hub.sync import Destination, SyncEngine
from nurture.consent import ConsentEntry
from nurture.inquiry import Inquiry
from nurture.lead import Lead
from nurture.vocab import Channel, ConsentState, ContactChannel
from sandboxes.hubspot import HubSpotSandbox
from tests.fixtures.clock import ManualClock
from tests.fixtures.hubspot_connector import HubSpotStaff
from tests.fixtures.salesforce_sandbox import SalesforceOrg

NAMES = ("salesforce", "hubspot")


@dataclass
class TwoCrms:
    store: Store
    engine: SyncEngine
    org: SalesforceOrg
    clock: ManualClock
    lead_id: str

    def sync(self) -> None:
        for step in ("push", "pull", "push"):
            for name in NAMES:
                getattr(self.engine, step)(name, now=self.clock.now)

    def lead(self) -> Lead:
        with self.store.tx() as s:
            found = repo.load_lead(s, self.lead_id)
        assert found is not None
        return found[0]

    def salesforce_lead(self, fields: str) -> dict[str, object]:
        query = f"SELECT Id, {fields} FROM Lead WHERE Nurture_Id__c = '{self.lead_id}'"  # noqa: S608
        return dict(self.org.sf.query(query)["records"][0])


def two_crms(
    store: Store,
    config: HubConfig,
    sf: tuple[SalesforceConnector, SalesforceOrg],
    hubspot: HubSpotConnector,
    *consents: ContactChannel,
) -> TwoCrms:
    """A lead with consent on ``consents``, synced to both CRMs."""
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    ids = count(1)
    intake = Intake(store, config, destinations=NAMES, id_factory=lambda _: f"nh_two{next(ids):04d}")
    engine = SyncEngine(
        store, config,
        {"salesforce": Destination.default("salesforce", sf[0]), "hubspot": Destination.default("hubspot", hubspot)},
    )  # fmt: skip
    granted = tuple(
        ConsentEntry(channel=c, state=ConsentState.GRANTED, at=clock.now, source=f"form:{c}", wording="Yes.")
        for c in consents
    )
    result = intake.submit(
        Inquiry(
            channel=Channel.WEBSITE_FORM, received_at=clock.now, first_name="Ana", last_name="Ruiz",
            phone="(512) 555-0142", email="ana.ruiz@example.org", text="I'd like an appointment", consents=granted,
        ),
        actor="test",
    )  # fmt: skip
    assert result.lead is not None
    world = TwoCrms(store=store, engine=engine, org=sf[1], clock=clock, lead_id=result.lead.id)
    world.sync()
    return world


def test_an_opt_out_in_hubspot_is_revoked_in_salesforce_too(
    store: Store,
    config: HubConfig,
    make_sf_connector: Callable[..., tuple[SalesforceConnector, SalesforceOrg]],
    hubspot_connector: HubSpotConnector,
    hubspot_staff: HubSpotStaff,
) -> None:
    world = two_crms(store, config, make_sf_connector(), hubspot_connector, ContactChannel.SMS)
    assert world.salesforce_lead("SMS_Consent__c")["SMS_Consent__c"] == "granted"

    hubspot_staff.edit(world.lead().external_ids["hubspot"], {"nurturehub_sms_consent": "denied"})
    world.clock.advance(minutes=2)
    world.sync()

    lead = world.lead()
    assert lead.consent.state(ContactChannel.SMS) is ConsentState.DENIED
    entry = lead.consent.latest(ContactChannel.SMS)
    assert entry is not None
    assert entry.source == "crm:hubspot"
    assert world.salesforce_lead("SMS_Consent__c")["SMS_Consent__c"] == "denied"


def test_unsubscribing_from_all_email_in_hubspot_revokes_email_everywhere(
    store: Store,
    config: HubConfig,
    make_sf_connector: Callable[..., tuple[SalesforceConnector, SalesforceOrg]],
    hubspot_connector: HubSpotConnector,
    hubspot_sandbox: HubSpotSandbox,
) -> None:
    world = two_crms(store, config, make_sf_connector(), hubspot_connector, ContactChannel.EMAIL)
    assert world.salesforce_lead("HasOptedOutOfEmail")["HasOptedOutOfEmail"] is False

    hubspot_sandbox.unsubscribe_all(world.lead().external_ids["hubspot"])  # what HubSpot does; no API can
    world.clock.advance(minutes=2)
    world.sync()

    assert world.lead().consent.state(ContactChannel.EMAIL) is ConsentState.DENIED
    record = world.salesforce_lead("HasOptedOutOfEmail, Email_Consent__c")
    assert (record["HasOptedOutOfEmail"], record["Email_Consent__c"]) == (True, "denied")
    world.sync()  # and nothing writes the read-only property back to HubSpot
    assert world.lead().consent.state(ContactChannel.EMAIL) is ConsentState.DENIED
