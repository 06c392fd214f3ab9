"""Leads as Person Accounts (``object = "Account"``), on the sandbox: records get the person-account
record type, business accounts are never read as leads, tasks relate to the account, and an org
without Person Accounts is a configuration error that says so."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from connectors.base import RecordWrite, TaskKind, TaskState, TaskWrite
from connectors.salesforce import SalesforceConnector
from nurture.errors import ConfigError
from tests.fixtures.salesforce_sandbox import SalesforceOrg

Make = Callable[..., tuple[SalesforceConnector, SalesforceOrg]]


def person(n: int, **fields: object) -> RecordWrite:
    return RecordWrite(
        external_id=f"nh_pa{n:04d}",
        fields={"FirstName": "Ana", "LastName": f"Ruiz{n}", "PersonEmail": f"ana{n}@example.org", **fields},
    )


def test_leads_become_person_accounts_with_a_contact_behind_them(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector(lead_object="Account")

    outcome = crm.upsert([person(1, Intent__c="ready_to_schedule")])[0]

    assert outcome.ok and outcome.created and outcome.crm_id and outcome.crm_id.startswith("001")
    account = org.sf.Account.get(outcome.crm_id)
    assert (account["IsPersonAccount"], account["Name"], account["Intent__c"]) == (
        True,
        "Ana Ruiz1",
        "ready_to_schedule",
    )
    assert org.sf.Contact.get(account["PersonContactId"])["AccountId"] == outcome.crm_id
    again = crm.upsert([person(1, Intent__c="service_fit")])[0]
    assert (again.ok, again.created, again.crm_id) == (True, False, outcome.crm_id)


def test_business_accounts_are_never_read_as_leads(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector(lead_object="Account")
    crm.upsert([person(1)])
    org.sf.Account.create({"Name": "Referring Practice", "Nurture_Id__c": "nh_business"})

    read = [c.external_id for c in crm.read_changes(None, ["LastName"])]

    assert read == ["nh_pa0001"]


def test_tasks_relate_to_the_person_account_and_are_read_back(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector(lead_object="Account")
    account_id = crm.upsert([person(1)])[0].crm_id
    assert account_id is not None
    task = TaskWrite(
        key="nh_pa0001:day0_call", lead_crm_id=account_id, subject="Day 0 call — lead nh_pa0001",
        body="Call within 15 minutes.", kind=TaskKind.CALL, due_at=datetime(2026, 12, 1, 16, 15, tzinfo=UTC),
        owner_queue="Front Desk",
    )  # fmt: skip

    written = crm.upsert_tasks([task])[0]

    assert written.ok and written.crm_id
    stored = org.sf.Task.get(written.crm_id)
    assert (stored["WhatId"], stored["WhoId"]) == (account_id, None)
    org.sf.Task.update(written.crm_id, {"Status": "Completed", "CallDisposition": "No Answer"})
    (change,) = [c for c in crm.read_task_changes(None) if c.key == task.key]
    assert (change.lead_crm_id, change.state, change.outcome) == (account_id, TaskState.COMPLETED, "no_answer")


def test_the_record_type_is_looked_up_once(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector(lead_object="Account")
    org.sandbox.log.clear()

    crm.upsert([person(1)])
    crm.upsert([person(2)])

    assert org.sandbox.log.count("GET", "/services/data/v59.0/query") == 1


def test_a_record_type_that_is_not_a_person_type_is_a_configuration_error(make_sf_connector: Make) -> None:
    crm, _ = make_sf_connector(lead_object="Account", person_record_type="Business_Account")

    with pytest.raises(ConfigError) as refused:
        crm.upsert([person(1)])
    assert "person-account record type 'Business_Account'" in refused.value.problems[0]
    status = crm.check()
    assert not status.ok and "Person Accounts" in status.detail
