"""Reads on the sandbox: incremental changes by SystemModstamp, paging, describe, check, existing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from connectors.base import RecordWrite
from connectors.salesforce import SalesforceConnector
from nurture.errors import ConfigError
from tests.fixtures.clock import ManualClock
from tests.fixtures.salesforce_connector import lead_fields
from tests.fixtures.salesforce_sandbox import SalesforceOrg

Make = Callable[..., tuple[SalesforceConnector, SalesforceOrg]]
QUERY = "/services/data/v59.0/query"


def write(n: int) -> RecordWrite:
    return RecordWrite(external_id=f"nh_read{n:05d}", fields=lead_fields(n))


@pytest.fixture
def clocked(
    make_sf_org: Callable[..., SalesforceOrg], make_sf_connector: Make, sf_clock: ManualClock
) -> tuple[SalesforceConnector, SalesforceOrg, ManualClock]:
    org = make_sf_org(clock=sf_clock)
    crm, _ = make_sf_connector(org=org)
    return crm, org, sf_clock


def test_records_changed_within_one_second_are_all_returned_oldest_first(
    clocked: tuple[SalesforceConnector, SalesforceOrg, ManualClock],
) -> None:
    crm, _, clock = clocked
    clock.advance(seconds=0.25)
    crm.upsert([write(1), write(2)])  # one call: one shared stamp, ties broken by Id
    crm.upsert([write(3)])  # 1 ms later, in the same second
    crm.upsert([write(4)])
    changes = list(crm.read_changes(None, ["FirstName"]))
    ours = [c for c in changes if c.external_id]
    assert [c.external_id for c in ours] == ["nh_read00001", "nh_read00002", "nh_read00003", "nh_read00004"]
    assert len({c.modified_at.replace(microsecond=0) for c in ours}) == 1
    assert ours[0].modified_at == ours[1].modified_at
    assert [c.crm_id for c in ours[:2]] == sorted(c.crm_id for c in ours[:2])
    assert ours[0].modified_at.tzinfo is not None
    # A cursor at the third record's stamp returns it and the fourth, not the earlier ones in its second.
    since = ours[2].modified_at
    assert [c.external_id for c in crm.read_changes(since, ["FirstName"])] == ["nh_read00003", "nh_read00004"]
    # A cursor floored to the second returns everything written in that second.
    floor = since.replace(microsecond=0)
    assert len([c for c in crm.read_changes(floor, []) if c.external_id]) == 4


def test_a_cursor_in_the_future_returns_nothing(
    clocked: tuple[SalesforceConnector, SalesforceOrg, ManualClock],
) -> None:
    crm, _, clock = clocked
    crm.upsert([write(1)])
    assert list(crm.read_changes(clock.now + timedelta(seconds=1), ["FirstName"])) == []


def test_a_cursor_in_another_time_zone_means_the_same_instant(
    clocked: tuple[SalesforceConnector, SalesforceOrg, ManualClock],
) -> None:
    crm, _, _ = clocked
    crm.upsert([write(1)])
    stamp = next(iter(crm.read_changes(None, []))).modified_at
    chicago = ZoneInfo("America/Chicago")
    assert [c.external_id for c in crm.read_changes(stamp.astimezone(chicago), [])] == ["nh_read00001"]
    later = (stamp + timedelta(milliseconds=1)).astimezone(chicago)
    assert list(crm.read_changes(later, [])) == []


@pytest.mark.slow
def test_more_than_one_page_of_changes_follows_next_records_url(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector()
    crm.upsert([write(n) for n in range(2500)])
    org.sandbox.log.clear()
    changes = list(crm.read_changes(None, ["LastName"]))
    ours = [c for c in changes if c.external_id]
    assert len(ours) == 2500
    assert len({c.crm_id for c in ours}) == 2500
    assert [(c.modified_at, c.crm_id) for c in changes] == sorted((c.modified_at, c.crm_id) for c in changes)
    assert org.sandbox.log.count("GET", QUERY) == 2  # the query, then one nextRecordsUrl page
    assert org.sandbox.log.count("GET", QUERY + "/01g") == 1


def test_asking_for_a_field_the_org_lacks_is_a_configuration_error(make_sf_connector: Make) -> None:
    crm, _ = make_sf_connector()
    with pytest.raises(ConfigError, match="Shoe_Size__c"):
        list(crm.read_changes(None, ["Shoe_Size__c"]))
    with pytest.raises(ConfigError, match="not a Salesforce API name"):
        crm.read_changes(None, ["Name) FROM User --"])


def test_describe_reports_picklists_required_and_unique_fields(make_sf_connector: Make) -> None:
    crm, _ = make_sf_connector()
    fields = crm.describe("Lead")
    assert fields["Score__c"].picklist == ("A", "B", "C", "D", "E")
    assert fields["Score__c"].restricted
    assert (fields["LastName"].required, fields["Company"].required) == (True, True)
    assert not fields["Status"].required  # defaulted on create
    assert not fields["Name"].writable
    assert fields["Nurture_Id__c"].unique
    assert fields["Nurture_Id__c"].writable


def test_describing_an_object_the_org_lacks_is_a_configuration_error(make_sf_connector: Make) -> None:
    crm, _ = make_sf_connector()
    with pytest.raises(ConfigError, match="404"):
        crm.describe("Opportunity")


def test_check_reports_the_orgs_api_usage(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector()
    status = crm.check()
    assert status.ok, status.detail
    assert "127.0.0.1" in status.detail
    assert (status.api_used, status.api_limit) == (org.sandbox.api_usage, org.sandbox.daily_budget)
    assert len(org.sandbox.log.entries()) == 1


def test_existing_accepts_15_and_18_character_ids(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector()
    ids = [str(o.crm_id) for o in crm.upsert([write(1), write(2), write(3)])]
    org.sf.Lead.delete(ids[2])
    asked = [ids[0], ids[1][:15], ids[2], "not-an-id"]
    assert crm.existing(asked) == {ids[0], ids[1][:15]}
