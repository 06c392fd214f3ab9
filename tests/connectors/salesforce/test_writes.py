"""Lead upserts on the sandbox: batching, faults and Retry-After, Lead or Contact, queue owners,
and one record's failure staying that record's."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from connectors.base import RecordWrite
from connectors.salesforce import SalesforceConnector
from nurture.errors import ConfigError
from sandboxes.common import Faults
from tests.canary import CANARY_EMAIL, CANARY_FIRST
from tests.fixtures.salesforce_connector import RecordingSession, lead_fields
from tests.fixtures.salesforce_sandbox import SalesforceOrg

Make = Callable[..., tuple[SalesforceConnector, SalesforceOrg]]
LEAD_UPSERT = "/services/data/v59.0/composite/sobjects/Lead/Nurture_Id__c"


def leads(n: int, prefix: str = "nh_load") -> list[RecordWrite]:
    return [RecordWrite(external_id=f"{prefix}{i:05d}", fields=lead_fields(i)) for i in range(n)]


def count_leads(org: SalesforceOrg) -> int:
    """Leads in the org, counted through simple-salesforce (with the faults switched off)."""
    org.sandbox.faults.share_429 = org.sandbox.faults.share_5xx = 0.0
    return int(org.sf.query("SELECT COUNT() FROM Lead")["totalSize"])


def test_a_thousand_new_leads_take_exactly_five_calls(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector()
    outcomes = crm.upsert(leads(1000))
    assert all(o.ok and o.created for o in outcomes)
    assert [o.key for o in outcomes] == [f"nh_load{i:05d}" for i in range(1000)]
    assert org.sandbox.log.count("PATCH", LEAD_UPSERT) == 5
    assert len(org.sandbox.log.entries()) == 5
    assert count_leads(org) == 1000


@pytest.mark.slow
def test_under_429s_and_503s_every_lead_lands_and_retry_after_is_honoured(
    make_sf_org: Callable[..., SalesforceOrg], make_sf_connector: Make
) -> None:
    org = make_sf_org(faults=Faults(share_429=0.2, share_5xx=0.05, retry_after_s=1, seed=32))
    recording = RecordingSession(org)
    crm, _ = make_sf_connector(org=org, session=recording, backoff_s=0.2)

    outcomes = crm.upsert(leads(1000))

    assert all(o.ok for o in outcomes)
    statuses = [status for _, _, status in recording.exchanges]
    assert statuses.count(429) >= 1, "seed 32 injects 429, 503, …, 429"
    assert statuses.count(503) >= 1
    assert statuses.count(200) == 5
    assert count_leads(org) == 1000
    # Client side: after each 429, the next request left at least Retry-After after it arrived.
    for (_, received, status), (sent, _, _) in itertools.pairwise(recording.exchanges):
        if status == 429:
            assert sent - received >= 1.0
    # Server side (a weaker check: the log stamps when a response was ready).
    log = org.sandbox.log.entries()
    for before, after in itertools.pairwise(log):
        if before.status == 429:
            assert after.at - before.at >= 1.0


def test_one_bad_value_fails_its_record_alone_without_echoing_the_value(make_sf_connector: Make) -> None:
    crm, _ = make_sf_connector()
    batch = leads(3, "nh_bad")
    batch[1] = RecordWrite(external_id="nh_bad00001", fields={**lead_fields(1), "Score__c": CANARY_FIRST})
    batch[2] = RecordWrite(
        external_id="nh_bad00002", fields={**lead_fields(2), "Email": "not-an-email " + CANARY_EMAIL}
    )
    outcomes = crm.upsert(batch)
    assert [o.ok for o in outcomes] == [True, False, False]
    assert (outcomes[1].code, outcomes[1].field) == ("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "Score__c")
    assert outcomes[2].code == "INVALID_EMAIL_ADDRESS"
    for failed in outcomes[1:]:
        assert CANARY_FIRST not in failed.message
        assert CANARY_EMAIL not in failed.message
        assert failed.message
        assert not failed.retriable


def test_a_value_of_the_wrong_type_splits_the_batch_until_its_record_fails_alone(
    make_sf_connector: Make,
) -> None:
    crm, org = make_sf_connector()
    batch = leads(8, "nh_json")
    batch[5] = RecordWrite(external_id="nh_json00005", fields={**lead_fields(5), "Urgent__c": CANARY_FIRST})
    outcomes = crm.upsert(batch)
    assert [o.ok for o in outcomes] == [True] * 5 + [False] + [True] * 2
    assert outcomes[5].code == "JSON_PARSER_ERROR"
    assert CANARY_FIRST not in outcomes[5].message
    # Refused: 0-7, 4-7, 4-5, 5. Written: 0-3, 6-7, 4 (each good record once).
    assert org.sandbox.log.count("PATCH", LEAD_UPSERT, status=400) == 4
    assert org.sandbox.log.count("PATCH", LEAD_UPSERT, status=200) == 3
    assert count_leads(org) == 7


def test_a_field_the_org_lacks_is_a_configuration_error_naming_it(make_sf_connector: Make) -> None:
    crm, _ = make_sf_connector()
    with pytest.raises(ConfigError, match="Favourite_Colour__c"):
        crm.upsert([RecordWrite(external_id="nh_x", fields={**lead_fields(1), "Favourite_Colour__c": "teal"})])


def test_contacts_need_no_company(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector(lead_object="Contact")
    outcomes = crm.upsert([RecordWrite(external_id="nh_c1", fields={"LastName": "Contact1", "Score__c": "B"})])
    assert outcomes[0].ok
    assert outcomes[0].crm_id is not None
    assert outcomes[0].crm_id.startswith("003")
    assert org.sandbox.log.count("PATCH", "/services/data/v59.0/composite/sobjects/Contact/Nurture_Id__c") == 1
    changes = list(crm.read_changes(None, ["LastName", "Score__c"]))
    assert [(c.external_id, c.fields["Score__c"]) for c in changes] == [("nh_c1", "B")]
    assert crm.describe("Contact")["Nurture_Id__c"].unique


def test_a_lead_named_for_a_hub_queue_is_owned_by_that_salesforce_queue(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector(lead_queue_owners={"Front Desk": "Front_Desk", "Clinical Triage": "Clinical Triage"})
    outcomes = crm.upsert(
        [
            RecordWrite(external_id="nh_q1", fields={**lead_fields(1), "Owner_Queue__c": "Front Desk"}),
            RecordWrite(external_id="nh_q2", fields={**lead_fields(2), "Owner_Queue__c": "Clinical Triage"}),
            RecordWrite(external_id="nh_q3", fields={**lead_fields(3), "Owner_Queue__c": "Unmapped Team"}),
        ]
    )
    crm.upsert([RecordWrite(external_id="nh_q4", fields={**lead_fields(4), "Owner_Queue__c": "Front Desk"})])
    groups = {g["Name"]: g["Id"] for g in org.sf.query("SELECT Id, Name FROM Group")["records"]}
    owners = [org.sf.Lead.get(o.crm_id)["OwnerId"] for o in outcomes]
    assert owners == [groups["Front Desk"], groups["Clinical Triage"], org.sandbox.user_id]
    assert org.sandbox.log.count("GET", "/services/data/v59.0/query") == 2  # ours once, and the test's


def test_an_unknown_salesforce_queue_is_a_configuration_error(make_sf_connector: Make) -> None:
    crm, _ = make_sf_connector(lead_queue_owners={"Front Desk": "No_Such_Queue"})
    with pytest.raises(ConfigError, match="No_Such_Queue"):
        crm.upsert(leads(1))


def test_the_duplicate_rule_header_is_sent_when_allowed(
    make_sf_org: Callable[..., SalesforceOrg], make_sf_connector: Make
) -> None:
    org = make_sf_org(duplicate_rule=True)
    same_email = {"Email": "twin@example.org"}
    strict, _ = make_sf_connector(org=org)
    first = strict.upsert([RecordWrite(external_id="nh_d1", fields={**lead_fields(1), **same_email})])
    blocked = strict.upsert([RecordWrite(external_id="nh_d2", fields={**lead_fields(2), **same_email})])
    lenient, _ = make_sf_connector(org=org, allow_duplicate_save=True)
    allowed = lenient.upsert([RecordWrite(external_id="nh_d2", fields={**lead_fields(2), **same_email})])
    assert first[0].ok
    assert (blocked[0].ok, blocked[0].code) == (False, "DUPLICATES_DETECTED")
    assert allowed[0].ok


@pytest.mark.slow
def test_threads_sharing_one_connector_all_land_under_429s(
    make_sf_org: Callable[..., SalesforceOrg], make_sf_connector: Make
) -> None:
    org = make_sf_org(faults=Faults(share_429=0.3, retry_after_s=1, seed=2))
    crm, _ = make_sf_connector(org=org)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda n: crm.upsert(leads(200, f"nh_thread{n}_")), range(4)))
    assert all(o.ok for outcomes in results for o in outcomes)
    assert org.sandbox.log.count(status=429) >= 1
    assert count_leads(org) == 800
