"""A value longer than a Salesforce field (a first name over 40 characters) is shortened for
Salesforce with a note, never blocking the lead: the Lead is written and its Day-0 task is made
(before, the lead failed in Salesforce and its Day-0 task stayed pending)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from connectors.salesforce import SalesforceConnector
from hub.settings.config import HubConfig
from hub.store import Store
from hub.store.models import AuditRow, FollowUpRow, OutboxRow
from tests.fixtures.clock import ManualClock
from tests.fixtures.salesforce_sandbox import SalesforceOrg
from tests.integration.test_sync_salesforce import TUESDAY_MORNING, SfWorld

LONG_FIRST = "Maria-Guadalupe-de-los-Angeles-Fernandez-Castillo"  # 49 characters; Lead.FirstName takes 40


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


def test_a_first_name_over_forty_characters_is_shortened_and_the_lead_goes_on(world: SfWorld) -> None:
    lead_id = world.inquiry(first_name=LONG_FIRST)
    world.sync()
    record = world.org.sf.query(
        f"SELECT FirstName FROM Lead WHERE Nurture_Id__c = '{lead_id}'"  # noqa: S608
    )["records"][0]
    assert record["FirstName"] == LONG_FIRST[:40]
    assert list(world.tasks(lead_id)) == ["day0_call"]
    with world.store.tx() as s:
        assert s.scalars(select(OutboxRow).where(OutboxRow.status != "done")).all() == []
        day0 = s.scalars(
            select(FollowUpRow).where(FollowUpRow.lead_id == lead_id, FollowUpRow.step_key == "day0_call")
        ).one()
        assert day0.status == "task_created"
        notes = [a.detail for a in s.scalars(select(AuditRow).where(AuditRow.action == "crm_value_shortened"))]
    assert notes == [{"notes": ["FirstName shortened to 40 characters"]}]
    assert world.lead(lead_id).first_name == LONG_FIRST  # the hub keeps the whole name
