"""Lead conversion in the sandbox, through the real simple-salesforce: a converted lead becomes
read-only (``CANNOT_UPDATE_CONVERTED_LEAD``), points at its Contact and Account (or Person Account),
its tasks move there; LeadStatus says which statuses mean converted; and a Composite call answers
several subrequests as one API call."""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sandboxes.salesforce import SalesforceSandbox


def new_lead(sf: Salesforce, **extra: object) -> str:
    made = sf.Lead.create(
        {"LastName": "Ruiz", "FirstName": "Ana", "Company": "Self", "Email": "ana@example.org", **extra}
    )
    return str(made["id"])


def test_a_converted_lead_points_at_its_contact_and_account_and_its_tasks_move_there(
    sf: Salesforce, sf_sandbox: SalesforceSandbox
) -> None:
    lead = new_lead(sf, Nurture_Id__c="nh_conv01")
    task = sf.Task.create({"WhoId": lead, "Subject": "Day 0 call", "Status": "Not Started"})["id"]
    contact_id, account_id = sf_sandbox.convert_lead(lead)

    converted = sf.Lead.get(lead)
    assert (converted["IsConverted"], converted["ConvertedContactId"], converted["ConvertedAccountId"]) == (
        True, contact_id, account_id,
    )  # fmt: skip
    assert converted["Status"] == "Closed - Converted"
    assert converted["ConvertedDate"] is not None
    contact = sf.Contact.get(contact_id)
    assert (contact["AccountId"], contact["LastName"], contact["Email"]) == (account_id, "Ruiz", "ana@example.org")
    assert sf.Account.get(account_id)["Name"] == "Self"
    moved = sf.Task.get(task)
    assert (moved["WhoId"], moved["WhatId"]) == (contact_id, account_id)


def test_a_lead_converted_to_a_person_account_points_at_its_person_contact(
    sf: Salesforce, sf_sandbox: SalesforceSandbox
) -> None:
    lead = new_lead(sf)
    contact_id, account_id = sf_sandbox.convert_lead(lead, person_account=True)
    account = sf.Account.get(account_id)
    assert (account["IsPersonAccount"], account["PersonContactId"], account["PersonEmail"]) == (
        True, contact_id, "ana@example.org",
    )  # fmt: skip
    assert sf.Lead.get(lead)["ConvertedContactId"] == contact_id


def test_a_converted_lead_refuses_every_write_and_reference(sf: Salesforce, sf_sandbox: SalesforceSandbox) -> None:
    lead = new_lead(sf, Nurture_Id__c="nh_conv02")
    sf_sandbox.convert_lead(lead)

    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Lead.update(lead, {"FirstName": "Anna"})
    assert refused.value.content[0]["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert refused.value.content[0]["message"] == "cannot reference converted lead"

    results = sf.restful(
        "composite/sobjects/Lead/Nurture_Id__c",
        method="PATCH",
        json={"allOrNone": False, "records": [{"attributes": {"type": "Lead"}, "Nurture_Id__c": "nh_conv02",
                                                "LastName": "Ruiz", "Company": "Self"}]},
    )  # fmt: skip
    assert results[0]["success"] is False
    assert results[0]["errors"][0]["statusCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"

    with pytest.raises(SalesforceMalformedRequest) as task:
        sf.Task.create({"WhoId": lead, "Subject": "Day 1 call"})
    assert task.value.content[0]["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"


def test_lead_statuses_say_which_mean_converted_and_which_is_the_default(sf: Salesforce) -> None:
    rows = sf.query("SELECT ApiName, IsConverted, IsDefault FROM LeadStatus ORDER BY SortOrder")["records"]
    statuses = {r["ApiName"]: (r["IsConverted"], r["IsDefault"]) for r in rows}
    assert statuses["Closed - Converted"] == (True, False)
    assert statuses["Open - Not Contacted"] == (False, True)
    assert sum(converted for converted, _ in statuses.values()) == 1


def test_a_status_that_is_not_converted_cannot_convert(sf: Salesforce, sf_sandbox: SalesforceSandbox) -> None:
    with pytest.raises(ValueError, match="not a converted lead status"):
        sf_sandbox.convert_lead(new_lead(sf), status="Working - Contacted")


def test_composite_answers_a_describe_and_a_query_as_one_api_call(
    sf: Salesforce, sf_sandbox: SalesforceSandbox
) -> None:
    before = sf_sandbox.api_usage
    answer = sf.restful(
        "composite",
        method="POST",
        json={
            "compositeRequest": [
                {"method": "GET", "url": "/services/data/v59.0/sobjects/Lead/describe", "referenceId": "lead"},
                {"method": "GET", "url": "/services/data/v59.0/query?q=SELECT+ApiName+FROM+LeadStatus",
                 "referenceId": "statuses"},
                {"method": "GET", "url": "/services/data/v59.0/sobjects/Nothing/describe", "referenceId": "bad"},
            ]
        },
    )  # fmt: skip
    assert sf_sandbox.api_usage == before + 1
    by_ref = {r["referenceId"]: r for r in answer["compositeResponse"]}
    assert by_ref["lead"]["httpStatusCode"] == 200
    assert any(f["name"] == "ConvertedContactId" for f in by_ref["lead"]["body"]["fields"])
    assert by_ref["statuses"]["body"]["totalSize"] == 4
    assert by_ref["bad"]["httpStatusCode"] == 404
