"""Validation errors carry Salesforce's codes, messages and fields (through simple-salesforce)."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sandboxes.salesforce.ids import make_id
from tests.fixtures.salesforce_sandbox import SalesforceOrg


def lead(**fields: Any) -> dict[str, Any]:
    return {"LastName": "Rivera", "Company": "Self", **fields}


def rejected(call: Any, *args: Any) -> dict[str, Any]:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        call(*args)
    content = caught.value.content
    assert isinstance(content, list)
    assert len(content) == 1
    error: dict[str, Any] = content[0]
    return error


def test_required_fields_missing_names_them(sf: Salesforce) -> None:
    error = rejected(sf.Lead.create, {"FirstName": "Ana"})

    assert error == {
        "message": "Required fields are missing: [LastName, Company]",
        "errorCode": "REQUIRED_FIELD_MISSING",
        "fields": ["LastName", "Company"],
    }


def test_clearing_a_required_field_is_rejected(sf: Salesforce) -> None:
    lead_id = sf.Lead.create(lead())["id"]

    error = rejected(sf.Lead.update, lead_id, {"Company": None})

    assert error["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert error["fields"] == ["Company"]


@pytest.mark.parametrize(
    ("field", "value", "label"),
    [
        ("Status", "Open", "Status"),
        ("Intent__c", "Ready To Schedule", "Intent"),
        ("Next_Action__c", "call", "Next Action"),
        ("Stage__c", "won", "Stage"),
        ("SMS_Consent__c", "yes", "SMS Consent"),
        ("Score__c", "F", "Score"),
        ("Channel__c", "fax", "Channel"),
    ],
)
def test_restricted_picklists_reject_unknown_values(sf: Salesforce, field: str, value: str, label: str) -> None:
    error = rejected(sf.Lead.create, lead(**{field: value}))

    assert error == {
        "message": f"{label}: bad value for restricted picklist field: {value}",
        "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "fields": [field],
    }


def test_unrestricted_picklist_accepts_new_values(sf: Salesforce) -> None:
    lead_id = sf.Lead.create(lead(LeadSource="Clinic website chat", Preferred_Language__c="uk"))["id"]

    assert sf.Lead.get(lead_id)["LeadSource"] == "Clinic website chat"


def test_unknown_field_is_invalid_field(sf: Salesforce) -> None:
    error = rejected(sf.Lead.create, lead(Favourite_Color__c="teal"))

    assert error == {
        "message": "No such column 'Favourite_Color__c' on sobject of type Lead",
        "errorCode": "INVALID_FIELD",
    }


def test_unknown_field_fails_a_whole_collection_request(sf: Salesforce) -> None:
    records = [
        {"attributes": {"type": "Lead"}, **lead()},
        {"attributes": {"type": "Lead"}, **lead(Bogus__c=1)},
    ]

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": records})

    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0


def test_read_only_fields_are_invalid_for_insert_update(sf: Salesforce) -> None:
    error = rejected(sf.Lead.create, lead(CreatedDate="2026-01-01T00:00:00Z", IsDeleted=False))

    assert error["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert error["fields"] == ["CreatedDate", "IsDeleted"]
    assert error["message"].startswith("Unable to create/update fields: CreatedDate, IsDeleted.")


def test_too_long_text_is_string_too_long(sf: Salesforce) -> None:
    error = rejected(sf.Lead.create, lead(FirstName="x" * 41))

    assert error == {
        "message": f"First Name: data value too large: {'x' * 41} (max length=40)",
        "errorCode": "STRING_TOO_LONG",
        "fields": ["FirstName"],
    }


def test_malformed_email_is_invalid_email_address(sf: Salesforce) -> None:
    error = rejected(sf.Lead.create, lead(Email="ana-at-example.org"))

    assert error == {
        "message": "Email: invalid email address: ana-at-example.org",
        "errorCode": "INVALID_EMAIL_ADDRESS",
        "fields": ["Email"],
    }


def test_unique_nurture_id_is_duplicate_value(sf: Salesforce) -> None:
    first = sf.Lead.create(lead(Nurture_Id__c="inq-1"))["id"]

    error = rejected(sf.Lead.create, lead(Nurture_Id__c="INQ-1"))

    assert error["errorCode"] == "DUPLICATE_VALUE"
    assert error["message"] == (
        f"duplicate value found: Nurture_Id__c duplicates value on record with id: {first[:15]}"
    )


def test_malformed_who_id_is_malformed_id(sf: Salesforce) -> None:
    error = rejected(sf.Task.create, {"Subject": "Call", "WhoId": "00Qbogus"})

    assert error == {
        "message": "Name ID: id value of incorrect type: 00Qbogus",
        "errorCode": "MALFORMED_ID",
        "fields": ["WhoId"],
    }


def test_who_id_of_the_wrong_type_is_field_integrity_exception(sf: Salesforce) -> None:
    task_id = sf.Task.create({"Subject": "first"})["id"]

    error = rejected(sf.Task.create, {"Subject": "Call", "WhoId": task_id})

    assert error["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert error["fields"] == ["WhoId"]


def test_who_id_of_a_missing_lead_is_invalid_cross_reference_key(sf: Salesforce) -> None:
    error = rejected(sf.Task.create, {"Subject": "Call", "WhoId": make_id("00Q", 42)})

    assert error == {
        "message": "invalid cross reference id",
        "errorCode": "INVALID_CROSS_REFERENCE_KEY",
        "fields": [],
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [("Next_Action_Due__c", "next tuesday"), ("Urgent__c", "sometimes"), ("Urgent__c", 1)],
)
def test_values_of_the_wrong_json_type_are_json_parser_errors(sf: Salesforce, field: str, value: Any) -> None:
    error = rejected(sf.Lead.create, lead(**{field: value}))

    assert error["errorCode"] == "JSON_PARSER_ERROR"


def test_datetimes_are_accepted_with_offsets_and_stored_in_utc(sf: Salesforce) -> None:
    lead_id = sf.Lead.create(lead(Next_Action_Due__c="2026-11-26T10:00:00+01:00"))["id"]

    assert sf.Lead.get(lead_id)["Next_Action_Due__c"] == "2026-11-26T09:00:00.000+0000"


def test_broken_json_is_json_parser_error(sf_org: SalesforceOrg) -> None:
    response = sf_org.session.post(
        f"{sf_org.api_url}/sobjects/Lead",
        data="{'LastName': 1}",
        headers={
            "Authorization": f"Bearer {sf_org.sandbox.issue_token()}",
            "Content-Type": "application/json",
        },
    )

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_duplicate_rule_blocks_a_second_lead_with_the_same_email(make_sf_org: Any) -> None:
    sf = make_sf_org(duplicate_rule=True).sf
    first = sf.Lead.create(lead(Email="ana@example.org"))["id"]

    error = rejected(sf.Lead.create, lead(Email="ANA@example.org"))

    assert error["errorCode"] == "DUPLICATES_DETECTED"
    assert error["message"] == "Use one of these records?"
    match = error["duplicateResult"]["matchResults"][0]["matchRecords"][0]["record"]
    assert match["Id"] == first


def test_duplicate_rule_header_allows_the_save(make_sf_org: Any) -> None:
    sf = make_sf_org(duplicate_rule=True).sf
    sf.Lead.create(lead(Email="ana@example.org"))

    second = sf.Lead.create(lead(Email="ana@example.org"), headers={"Sforce-Duplicate-Rule-Header": "allowSave=true"})

    assert second["success"] is True


def test_duplicate_rule_is_off_by_default(sf: Salesforce) -> None:
    sf.Lead.create(lead(Email="ana@example.org"))

    assert sf.Lead.create(lead(Email="ana@example.org"))["success"] is True


def test_duplicate_rule_in_collections_is_a_per_record_error(make_sf_org: Any) -> None:
    sf = make_sf_org(duplicate_rule=True).sf
    sf.Lead.create(lead(Email="ana@example.org"))
    records = [
        {"attributes": {"type": "Lead"}, **lead(Email=email)} for email in ("new@example.org", "ana@example.org")
    ]

    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": records})

    assert results[0]["success"] is True
    assert results[1] == {
        "success": False,
        "errors": [{"statusCode": "DUPLICATES_DETECTED", "message": "Use one of these records?", "fields": []}],
    }
