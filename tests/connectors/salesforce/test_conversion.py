"""What real orgs do that a fresh sandbox does not: leads converted by staff (the connector follows
them to the Contact and Account instead of failing on them), values longer than a field (shortened
with a note, never blocking the lead), and lead statuses that only conversion may set."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from connectors.base import RecordWrite, TaskKind, TaskWrite
from connectors.salesforce import SalesforceConnector
from tests.canary import CANARY_FIRST
from tests.fixtures.salesforce_connector import lead_fields
from tests.fixtures.salesforce_sandbox import SalesforceOrg

Make = Callable[..., tuple[SalesforceConnector, SalesforceOrg]]
LEAD_UPSERT = "/services/data/v59.0/composite/sobjects/Lead/Nurture_Id__c"
COMPOSITE = "/services/data/v59.0/composite"


def record(n: int, **fields: object) -> RecordWrite:
    return RecordWrite(external_id=f"nh_c{n:04d}", fields={**lead_fields(n), **fields})


def test_lead_describe_and_lead_statuses_come_in_one_composite_call(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector()
    fields = crm.describe("Lead")
    assert org.sandbox.log.count() == 1
    assert org.sandbox.log.count("POST", COMPOSITE) == 1
    status = fields["Status"]
    assert status.reserved == ("Closed - Converted",)  # LeadStatus.IsConverted: only conversion sets it
    assert status.default == "Open - Not Contacted"  # LeadStatus.IsDefault
    assert fields["FirstName"].length == 40
    crm.describe("Lead")
    assert org.sandbox.log.count() == 1  # reused within describe_ttl_s


def test_a_first_name_over_forty_characters_is_shortened_with_a_note_not_refused(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector()
    long_name = (CANARY_FIRST + "-Maria-Guadalupe-de-los-Angeles-Fernandez")[:60]
    assert len(long_name) > 40
    [outcome] = crm.upsert([record(1, FirstName=long_name)])
    assert outcome.ok
    assert outcome.notes == ("FirstName shortened to 40 characters",)
    assert CANARY_FIRST not in " ".join(outcome.notes)
    # refused once (STRING_TOO_LONG), the describe read, the one record sent again
    assert [e.path for e in org.sandbox.log.entries()] == [LEAD_UPSERT, COMPOSITE, LEAD_UPSERT]
    stored = org.client().Lead.get(str(outcome.crm_id))
    assert stored["FirstName"] == long_name[:40]
    org.sandbox.log.clear()
    [again] = crm.upsert([record(2, FirstName=long_name)])  # the describe is known now: fitted up front
    assert again.ok
    assert again.notes == ("FirstName shortened to 40 characters",)
    assert org.sandbox.log.count() == 1


def test_an_email_too_long_for_the_field_is_left_out_rather_than_cut(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector()
    crm.describe("Lead")
    email = "a" * 75 + "@example.org"
    [outcome] = crm.upsert([record(1, Email=email)])
    assert outcome.ok
    assert outcome.notes == ("Email left out: longer than the field's 80 characters",)
    assert org.client().Lead.get(str(outcome.crm_id))["Email"] is None


def test_an_upsert_to_a_converted_lead_says_where_it_went(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector()
    [made] = crm.upsert([record(1)])
    contact, account = org.sandbox.convert_lead(str(made.crm_id))
    outcomes = crm.upsert([record(1, FirstName="Anna"), record(2)])
    converted = outcomes[0]
    assert (converted.ok, converted.code, converted.retriable) == (False, "CANNOT_UPDATE_CONVERTED_LEAD", False)
    assert converted.converted is not None
    assert (converted.converted.contact_id, converted.converted.account_id) == (contact, account)
    assert converted.converted.person_account is False
    assert converted.crm_id == made.crm_id
    assert outcomes[1].ok


def test_a_change_read_from_a_converted_lead_carries_its_conversion(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector()
    [made] = crm.upsert([record(1)])
    [plain] = crm.upsert([record(2)])
    contact, account = org.sandbox.convert_lead(str(made.crm_id), person_account=True)
    changes = {c.crm_id: c for c in crm.read_changes(None, ["FirstName"])}
    conversion = changes[str(made.crm_id)].converted
    assert conversion is not None
    assert (conversion.contact_id, conversion.account_id, conversion.person_account) == (contact, account, True)
    assert conversion.converted_at is not None
    assert changes[str(plain.crm_id)].converted is None


def test_a_task_for_a_converted_lead_says_where_the_lead_went(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector()
    [made] = crm.upsert([record(1)])
    contact, _ = org.sandbox.convert_lead(str(made.crm_id))
    task = TaskWrite(
        key="nh_c0001:day0_call",
        lead_crm_id=str(made.crm_id),
        subject="Day 0 call — lead nh_c0001",
        body="Call.",
        kind=TaskKind.CALL,
        due_at=datetime(2026, 12, 1, 16, 15, tzinfo=UTC),
        owner_queue="Front Desk",
    )
    [refused] = crm.upsert_tasks([task])
    assert (refused.ok, refused.code) == (False, "CANNOT_UPDATE_CONVERTED_LEAD")
    assert refused.converted is not None
    assert refused.converted.contact_id == contact
    [moved] = crm.upsert_tasks([TaskWrite(**{**_fields(task), "lead_crm_id": contact})])
    assert moved.ok
    assert org.client().Task.get(str(moved.crm_id))["WhoId"] == contact


def _fields(task: TaskWrite) -> dict[str, object]:
    return {name: getattr(task, name) for name in TaskWrite.__dataclass_fields__}
