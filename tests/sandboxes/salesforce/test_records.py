"""sObject rows through the real simple-salesforce: create, read, update, delete, upsert."""

# ruff: noqa: S608 - the SOQL here is built from test constants, and the sandbox is the target

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from sandboxes.salesforce.ids import is_salesforce_id
from tests.fixtures.salesforce_sandbox import SalesforceOrg


def lead(**fields: Any) -> dict[str, Any]:
    return {"LastName": "Rivera", "Company": "Self", **fields}


def test_create_returns_an_18_character_lead_id(sf: Salesforce) -> None:
    result = sf.Lead.create(lead(FirstName="Ana"))

    assert result == {"id": result["id"], "success": True, "errors": []}
    assert result["id"].startswith("00Q")
    assert len(result["id"]) == 18
    assert is_salesforce_id(result["id"])


def test_get_returns_every_field_with_attributes_and_defaults(sf: Salesforce) -> None:
    lead_id = sf.Lead.create(lead(FirstName="Ana", Email="ana@example.org"))["id"]

    record = sf.Lead.get(lead_id)

    assert record["attributes"] == {"type": "Lead", "url": f"/services/data/v59.0/sobjects/Lead/{lead_id}"}
    assert record["Id"] == lead_id
    assert record["Name"] == "Ana Rivera"
    assert record["Status"] == "Open - Not Contacted"
    assert record["IsDeleted"] is False
    assert record["HasOptedOutOfEmail"] is False
    assert record["SMS_Consent__c"] == "unknown"
    assert record["OwnerId"].startswith("005")
    assert record["CreatedDate"] == record["SystemModstamp"] == record["LastModifiedDate"]
    assert record["CreatedDate"].endswith("+0000")


def test_get_with_fields_returns_only_those_fields(sf: Salesforce) -> None:
    lead_id = sf.Lead.create(lead(Email="ana@example.org"))["id"]

    record = sf.Lead.get(lead_id, params={"fields": "email,Status"})

    assert list(record) == ["attributes", "Email", "Status"]


def test_fifteen_character_ids_are_accepted(sf: Salesforce) -> None:
    lead_id = sf.Lead.create(lead())["id"]

    assert sf.Lead.get(lead_id[:15])["Id"] == lead_id


def test_update_answers_204_and_moves_system_modstamp(sf: Salesforce) -> None:
    lead_id = sf.Lead.create(lead())["id"]
    before = sf.Lead.get(lead_id)

    status = sf.Lead.update(lead_id, {"Stage__c": "attempting", "Urgent__c": True})

    after = sf.Lead.get(lead_id)
    assert status == 204
    assert after["Stage__c"] == "attempting"
    assert after["Urgent__c"] is True
    assert after["SystemModstamp"] > before["SystemModstamp"]
    assert after["CreatedDate"] == before["CreatedDate"]


def test_empty_string_clears_a_text_field(sf: Salesforce) -> None:
    lead_id = sf.Lead.create(lead(FirstName="Ana"))["id"]

    sf.Lead.update(lead_id, {"FirstName": ""})

    assert sf.Lead.get(lead_id)["FirstName"] is None


def test_delete_answers_204_and_the_record_is_gone(sf: Salesforce) -> None:
    lead_id = sf.Lead.create(lead())["id"]

    assert sf.Lead.delete(lead_id) == 204

    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Lead.get(lead_id)
    assert caught.value.content == [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]


def test_unknown_id_is_404_not_found(sf: Salesforce) -> None:
    lead_id = sf.Lead.create(lead())["id"]
    sf.Lead.delete(lead_id)

    with pytest.raises(SalesforceResourceNotFound):
        sf.Lead.update(lead_id, {"FirstName": "x"})
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Lead.get("not-an-id")
    assert caught.value.content[0]["message"] == (
        "Provided external ID field does not exist or is not accessible: not-an-id"
    )


def test_a_contact_id_is_not_found_as_a_lead(sf: Salesforce) -> None:
    contact_id = sf.Contact.create({"LastName": "Ng"})["id"]

    with pytest.raises(SalesforceResourceNotFound):
        sf.Lead.get(contact_id)


def test_unknown_sobject_type_is_404(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound):
        sf.Opportunity.create({"Name": "x"})


def test_upsert_creates_with_201_then_updates_with_200(sf: Salesforce) -> None:
    first = sf.Lead.upsert("Nurture_Id__c/inq-1", lead(Intent__c="service_fit"), raw_response=True)
    second = sf.Lead.upsert("Nurture_Id__c/inq-1", {"Intent__c": "ready_to_schedule"}, raw_response=True)

    assert first.status_code == 201
    assert first.json() == {"id": first.json()["id"], "success": True, "errors": [], "created": True}
    assert second.status_code == 200
    assert second.json() == {"id": first.json()["id"], "success": True, "errors": [], "created": False}
    record = sf.Lead.get_by_custom_id("Nurture_Id__c", "inq-1")
    assert record["Intent__c"] == "ready_to_schedule"


def test_upsert_matches_external_ids_case_insensitively(sf: Salesforce) -> None:
    created = sf.Lead.upsert("Nurture_Id__c/INQ-7", lead(), raw_response=True).json()

    updated = sf.Lead.upsert("Nurture_Id__c/inq-7", {"Stage__c": "reached"}, raw_response=True).json()

    assert updated["id"] == created["id"]
    assert updated["created"] is False


def test_upsert_before_api_46_answers_204_without_body(sf_org: SalesforceOrg) -> None:
    old = sf_org.client(version="45.0")
    created = old.Lead.upsert("Nurture_Id__c/old", lead(), raw_response=True)

    updated = old.Lead.upsert("Nurture_Id__c/old", {"FirstName": "Al"}, raw_response=True)

    assert created.status_code == 201
    assert "created" not in created.json()
    assert updated.status_code == 204
    assert updated.content == b""


def test_upsert_value_matching_several_records_is_300_with_their_urls(sf: Salesforce) -> None:
    first = sf.Lead.create(lead(Email="twin@example.org"))["id"]
    second = sf.Lead.create(lead(Email="twin@example.org"))["id"]

    with pytest.raises(SalesforceMoreThanOneRecord) as caught:
        sf.Lead.upsert("Email/twin@example.org", {"FirstName": "Which"})

    assert caught.value.status == 300
    assert sorted(caught.value.content) == sorted(
        f"/services/data/v59.0/sobjects/Lead/{record_id}" for record_id in (first, second)
    )
    with pytest.raises(SalesforceMoreThanOneRecord):
        sf.Lead.get_by_custom_id("Email", "twin@example.org")


def test_upsert_by_unknown_field_is_404_and_by_plain_field_is_400(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound) as missing:
        sf.Lead.upsert("No_Such__c/1", lead())
    with pytest.raises(SalesforceMalformedRequest) as plain:
        sf.Lead.upsert("LastName/Rivera", lead())

    assert missing.value.content == [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
    assert plain.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert "is not an External ID or indexed field for Lead" in plain.value.content[0]["message"]


def test_get_by_custom_id_for_a_missing_value_is_404(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Lead.get_by_custom_id("Nurture_Id__c", "nobody")

    assert caught.value.content[0]["message"].endswith("not accessible: nobody")


def test_task_upsert_by_nurture_task_key_is_idempotent(sf: Salesforce) -> None:
    lead_id = sf.Lead.create(lead())["id"]
    task = {"WhoId": lead_id, "Subject": "Call back", "ActivityDate": "2026-11-27", "TaskSubtype": "Call"}

    first = sf.Task.upsert(f"Nurture_Task_Key__c/{lead_id}-step-1", task, raw_response=True).json()
    second = sf.Task.upsert(f"Nurture_Task_Key__c/{lead_id}-step-1", {"Subject": "Call back"}, raw_response=True).json()

    assert first["created"] is True
    assert second == {"id": first["id"], "success": True, "errors": [], "created": False}
    assert sf.query(f"SELECT COUNT() FROM Task WHERE WhoId = '{lead_id}'")["totalSize"] == 1


def test_task_completion_and_call_disposition_read_back(sf: Salesforce) -> None:
    lead_id = sf.Lead.create(lead())["id"]
    task_id = sf.Task.create(
        {
            "WhoId": lead_id,
            "Subject": "Call",
            "TaskSubtype": "Call",
            "ReminderDateTime": "2026-11-27T14:30:00-05:00",
            "IsReminderSet": True,
        }
    )["id"]
    opened = sf.Task.get(task_id)

    sf.Task.update(task_id, {"Status": "Completed", "CallDisposition": "Left voicemail", "CallType": "Outbound"})

    done = sf.Task.get(task_id)
    assert opened["Status"] == "Not Started"
    assert opened["Priority"] == "Normal"
    assert opened["IsClosed"] is False
    assert opened["ReminderDateTime"] == "2026-11-27T19:30:00.000+0000"
    assert done["IsClosed"] is True
    assert done["CompletedDateTime"] == done["SystemModstamp"]
    assert done["CallDisposition"] == "Left voicemail"


def test_task_subtype_cannot_be_changed_after_create(sf: Salesforce) -> None:
    task_id = sf.Task.create({"Subject": "Email", "TaskSubtype": "Email"})["id"]

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Task.update(task_id, {"TaskSubtype": "Call"})

    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_queues_and_users_are_seeded_and_read_only(sf: Salesforce) -> None:
    queues = sf.query("SELECT Id, Name, DeveloperName FROM Group WHERE Type = 'Queue' ORDER BY Name")["records"]
    users = sf.query("SELECT Id, Name, IsActive FROM User WHERE IsActive = true")["records"]

    assert [q["Name"] for q in queues] == [
        "Bilingual Team",
        "Clinical Triage",
        "Front Desk",
        "Insurance Desk",
        "Referral Coordinators",
    ]
    assert all(q["Id"].startswith("00G") for q in queues)
    assert len(users) >= 2
    assert sf.Group.get(queues[0]["Id"])["Type"] == "Queue"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Group.create({"Name": "New queue"})
    assert caught.value.content[0]["errorCode"] == "INVALID_TYPE_FOR_OPERATION"


def test_a_lead_can_be_owned_by_a_queue(sf: Salesforce) -> None:
    queue_id = sf.query("SELECT Id FROM Group WHERE DeveloperName = 'Front_Desk'")["records"][0]["Id"]

    lead_id = sf.Lead.create(lead(OwnerId=queue_id, Owner_Queue__c="Front_Desk"))["id"]

    assert sf.Lead.get(lead_id)["OwnerId"] == queue_id


def test_post_to_the_id_resource_creates_a_record(sf_org: SalesforceOrg) -> None:
    response = sf_org.session.post(
        f"{sf_org.api_url}/sobjects/Contact/Id",
        json={"LastName": "Ng"},
        headers={"Authorization": f"Bearer {sf_org.sandbox.issue_token()}"},
    )

    assert response.status_code == 201
    assert response.json()["id"].startswith("003")
