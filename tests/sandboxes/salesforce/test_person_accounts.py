"""Person Accounts in the sandbox, through the real simple-salesforce: the record type decides
whether an Account is a person (names, PersonEmail, a Contact behind it) or a business."""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest


def person_type(sf: Salesforce) -> str:
    rows = sf.query(
        "SELECT Id FROM RecordType WHERE SobjectType = 'Account' AND IsPersonType = true "
        "AND DeveloperName = 'PersonAccount'"
    )["records"]
    assert len(rows) == 1
    return str(rows[0]["Id"])


def test_a_person_account_gets_its_name_and_a_contact_behind_it(sf: Salesforce) -> None:
    created = sf.Account.create(
        {"RecordTypeId": person_type(sf), "FirstName": "Ana", "LastName": "Ruiz", "PersonEmail": "ana@example.org"}
    )

    account = sf.Account.get(created["id"])
    assert (account["Name"], account["IsPersonAccount"]) == ("Ana Ruiz", True)
    contact = sf.Contact.get(account["PersonContactId"])
    assert (contact["AccountId"], contact["LastName"], contact["Email"]) == (created["id"], "Ruiz", "ana@example.org")


def test_a_business_account_needs_a_name_and_refuses_person_fields(sf: Salesforce) -> None:
    business = sf.Account.create({"Name": "Austin Family Medicine"})
    assert sf.Account.get(business["id"])["IsPersonAccount"] is False

    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Account.create({"Name": "Clinic", "PersonEmail": "x@example.org"})
    assert refused.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    with pytest.raises(SalesforceMalformedRequest) as missing:
        sf.Account.create({"Description": "no name"})
    assert missing.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"


def test_a_person_account_needs_a_last_name_and_cannot_become_a_business(sf: Salesforce) -> None:
    rt = person_type(sf)
    with pytest.raises(SalesforceMalformedRequest) as missing:
        sf.Account.create({"RecordTypeId": rt, "FirstName": "Ana"})
    assert missing.value.content[0]["fields"] == ["LastName"]
    created = sf.Account.create({"RecordTypeId": rt, "LastName": "Ruiz"})
    business = sf.query("SELECT Id FROM RecordType WHERE DeveloperName = 'Business_Account'")["records"][0]["Id"]
    with pytest.raises(SalesforceMalformedRequest) as switched:
        sf.Account.update(created["id"], {"RecordTypeId": business})
    assert switched.value.content[0]["errorCode"] == "INVALID_PERSON_ACCOUNT_OPERATION"


def test_person_accounts_are_found_by_soql_and_tasks_relate_to_them(sf: Salesforce) -> None:
    rt = person_type(sf)
    person = sf.Account.create({"RecordTypeId": rt, "LastName": "Ruiz", "Nurture_Id__c": "nh_pa0001"})["id"]
    sf.Account.create({"Name": "Referring Practice"})

    rows = sf.query("SELECT Id, Nurture_Id__c FROM Account WHERE IsPersonAccount = true")["records"]
    assert [(r["Id"], r["Nurture_Id__c"]) for r in rows] == [(person, "nh_pa0001")]
    task = sf.Task.create({"WhatId": person, "Subject": "Call"})
    assert sf.Task.get(task["id"])["WhatId"] == person
