"""sObject Collections (``/composite/sobjects``) through ``Salesforce.restful``, as the connector will."""

# ruff: noqa: S608 - the SOQL here is built from test constants, and the sandbox is the target

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sandboxes.salesforce.ids import make_id

ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": ("Record rolled back because not all records were valid and the request was using AllOrNone header"),
    "fields": [],
}


def typed(sobject: str, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": sobject}, **fields}


def lead(**fields: Any) -> dict[str, Any]:
    return typed("Lead", LastName="Rivera", Company="Self", **fields)


def count(sf: Salesforce, sobject: str = "Lead") -> int:
    total: int = sf.query(f"SELECT COUNT() FROM {sobject}")["totalSize"]
    return total


def test_create_mixed_types_returns_one_save_result_per_record_in_order(sf: Salesforce) -> None:
    records = [lead(), typed("Contact", LastName="Ng"), lead(FirstName="Bo")]

    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": records})

    assert [r["id"][:3] for r in results] == ["00Q", "003", "00Q"]
    assert all(r == {"id": r["id"], "success": True, "errors": []} for r in results)


def test_partial_success_keeps_the_good_records(sf: Salesforce) -> None:
    records = [lead(), typed("Lead", FirstName="NoLastName", Company="x"), lead()]

    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": records})

    assert [r["success"] for r in results] == [True, False, True]
    assert results[1] == {
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [LastName]",
                "fields": ["LastName"],
            }
        ],
    }
    assert count(sf) == 2


def test_all_or_none_rolls_back_every_record(sf: Salesforce) -> None:
    records = [lead(), lead(Status="Bogus"), lead()]

    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": records})

    assert results[0] == {"success": False, "errors": [ROLLED_BACK]}
    assert results[1]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert results[2] == {"success": False, "errors": [ROLLED_BACK]}
    assert count(sf) == 0


def test_all_or_none_succeeds_when_every_record_is_valid(sf: Salesforce) -> None:
    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": [lead(), lead()]})

    assert all(r["success"] for r in results)
    assert count(sf) == 2


def test_more_than_200_records_is_refused_as_a_whole(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful("composite/sobjects", method="POST", json={"records": [lead() for _ in range(201)]})

    assert caught.value.content == [
        {
            "message": "record limit reached. cannot submit more than 200 records into this call",
            "errorCode": "EXCEEDED_ID_LIMIT",
        }
    ]
    assert count(sf) == 0


def test_a_record_without_a_type_is_refused_as_a_whole(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful("composite/sobjects", method="POST", json={"records": [{"LastName": "x", "Company": "y"}]})

    assert caught.value.content == [{"message": "Must send a concrete entity type.", "errorCode": "INVALID_TYPE"}]


def test_update_by_id_returns_save_results(sf: Salesforce) -> None:
    created = sf.restful("composite/sobjects", method="POST", json={"records": [lead(), lead()]})
    updates = [typed("Lead", id=r["id"], Stage__c="attempting") for r in created]
    updates.append(typed("Lead", id="00Qbad", Stage__c="reached"))

    results = sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": False, "records": updates})

    assert results[:2] == [{"id": r["id"], "success": True, "errors": []} for r in created]
    assert results[2] == {
        "success": False,
        "errors": [
            {
                "statusCode": "MALFORMED_ID",
                "message": "Lead ID: id value of incorrect type: 00Qbad",
                "fields": ["Id"],
            }
        ],
    }
    assert sf.Lead.get(created[0]["id"])["Stage__c"] == "attempting"


def test_upsert_by_external_id_reports_created_and_updated(sf: Salesforce) -> None:
    url = "composite/sobjects/Lead/Nurture_Id__c"
    first = sf.restful(url, method="PATCH", json={"allOrNone": False, "records": [lead(Nurture_Id__c="a")]})

    second = sf.restful(
        url,
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [lead(Nurture_Id__c="a", Stage__c="reached"), lead(Nurture_Id__c="b")],
        },
    )

    assert first == [{"id": first[0]["id"], "success": True, "errors": [], "created": True}]
    assert second[0] == {"id": first[0]["id"], "success": True, "errors": [], "created": False}
    assert second[1]["created"] is True
    assert sf.Lead.get(first[0]["id"])["Stage__c"] == "reached"


def test_upsert_of_200_records_is_one_api_call(sf: Salesforce, sf_sandbox: Any) -> None:
    records = [lead(Nurture_Id__c=f"inq-{n}") for n in range(200)]
    before = sf_sandbox.api_usage

    results = sf.restful("composite/sobjects/Lead/Nurture_Id__c", method="PATCH", json={"records": records})

    assert len(results) == 200
    assert all(r["created"] for r in results)
    assert sf_sandbox.api_usage == before + 1


def test_upsert_rejects_a_record_without_the_external_id(sf: Salesforce) -> None:
    results = sf.restful(
        "composite/sobjects/Lead/Nurture_Id__c",
        method="PATCH",
        json={"records": [lead(), lead(Nurture_Id__c="x")]},
    )

    assert results[0] == {
        "success": False,
        "errors": [{"statusCode": "MISSING_ARGUMENT", "message": "Nurture_Id__c not specified", "fields": []}],
    }
    assert results[1]["success"] is True


def test_upsert_of_the_same_external_id_twice_in_one_call_fails_both(sf: Salesforce) -> None:
    results = sf.restful(
        "composite/sobjects/Lead/Nurture_Id__c",
        method="PATCH",
        json={"records": [lead(Nurture_Id__c="dup"), lead(Nurture_Id__c="DUP"), lead(Nurture_Id__c="ok")]},
    )

    assert [r["success"] for r in results] == [False, False, True]
    assert results[0]["errors"][0]["statusCode"] == "DUPLICATE_EXTERNAL_ID"


def test_upsert_all_or_none_rolls_back_updates_too(sf: Salesforce) -> None:
    url = "composite/sobjects/Lead/Nurture_Id__c"
    sf.restful(url, method="PATCH", json={"records": [lead(Nurture_Id__c="a", Stage__c="new")]})

    results = sf.restful(
        url,
        method="PATCH",
        json={
            "allOrNone": True,
            "records": [lead(Nurture_Id__c="a", Stage__c="reached"), lead(Nurture_Id__c="b", Email="x")],
        },
    )

    assert results[0] == {"success": False, "errors": [ROLLED_BACK]}
    assert results[1]["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS"
    assert sf.Lead.get_by_custom_id("Nurture_Id__c", "a")["Stage__c"] == "new"
    assert count(sf) == 1


def test_upsert_of_tasks_by_nurture_task_key(sf: Salesforce) -> None:
    lead_id = sf.Lead.create({"LastName": "Ng", "Company": "Self"})["id"]
    tasks = [
        typed("Task", Nurture_Task_Key__c=f"{lead_id}:{step}", WhoId=lead_id, Subject=f"Step {step}") for step in (1, 2)
    ]

    first = sf.restful("composite/sobjects/Task/Nurture_Task_Key__c", method="PATCH", json={"records": tasks})
    again = sf.restful("composite/sobjects/Task/Nurture_Task_Key__c", method="PATCH", json={"records": tasks})

    assert [r["created"] for r in first] == [True, True]
    assert [r["created"] for r in again] == [False, False]
    assert count(sf, "Task") == 2


def test_retrieve_by_ids_returns_records_and_null_for_missing(sf: Salesforce) -> None:
    created = sf.restful("composite/sobjects", method="POST", json={"records": [lead(Email="a@example.org")]})
    lead_id = created[0]["id"]
    sf.Lead.create({"LastName": "Gone", "Company": "x"})

    records = sf.restful(
        "composite/sobjects/Lead", params={"ids": f"{lead_id},{make_id('00Q', 7)}", "fields": "Id,Email"}
    )

    assert records == [
        {
            "attributes": {"type": "Lead", "url": f"/services/data/v59.0/sobjects/Lead/{lead_id}"},
            "Id": lead_id,
            "Email": "a@example.org",
        },
        None,
    ]


def test_delete_by_ids(sf: Salesforce) -> None:
    created = sf.restful("composite/sobjects", method="POST", json={"records": [lead(), lead()]})
    ids = [r["id"] for r in created]

    results = sf.restful("composite/sobjects", method="DELETE", params={"ids": ",".join(ids), "allOrNone": "false"})
    again = sf.restful("composite/sobjects", method="DELETE", params={"ids": ids[0]})

    assert results == [{"id": i, "success": True, "errors": []} for i in ids]
    assert again == [
        {
            "success": False,
            "errors": [{"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}],
        }
    ]
    assert count(sf) == 0
