"""Org-level behaviour: describe, limits, budget, session expiry, faults, request log, persistence, TLS."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from sandboxes.common import Faults
from sandboxes.salesforce import SalesforceSandbox, serve_salesforce
from tests.fixtures.salesforce_sandbox import SalesforceOrg

RESTRICTED_PICKLISTS = {
    "Status": ["Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"],
    "Stage__c": [
        "new",
        "attempting",
        "reached",
        "scheduled",
        "prepared",
        "kept",
        "no_show",
        "declined",
        "not_a_fit",
        "unreachable",
        "duplicate",
    ],
    "Intent__c": [
        "ready_to_schedule",
        "service_fit",
        "insurance_authorization",
        "clinical_question",
        "language_support",
        "referral_coordination",
        "not_ready_yet",
        "unknown",
    ],
    "Next_Action__c": [
        "book_appointment",
        "call_back_requested_time",
        "send_prep_info",
        "route_clinical_question",
        "verify_insurance",
        "request_referral_documents",
        "add_to_nurture",
        "close_declined",
        "close_not_a_fit",
        "triage",
    ],
    "SMS_Consent__c": ["granted", "denied", "unknown"],
}


def test_describe_lists_restricted_picklists_for_preflight(sf: Salesforce) -> None:
    fields = {f["name"]: f for f in sf.Lead.describe()["fields"]}

    for name, values in RESTRICTED_PICKLISTS.items():
        assert fields[name]["type"] == "picklist"
        assert fields[name]["restrictedPicklist"] is True
        assert [v["value"] for v in fields[name]["picklistValues"]] == values
        assert all(v["active"] for v in fields[name]["picklistValues"])
    assert [v["value"] for v in fields["Status"]["picklistValues"] if v["defaultValue"]] == ["Open - Not Contacted"]


def test_describe_reports_field_properties(sf: Salesforce) -> None:
    lead = {f["name"]: f for f in sf.Lead.describe()["fields"]}
    task = {f["name"]: f for f in sf.Task.describe()["fields"]}

    nurture_id = lead["Nurture_Id__c"]
    assert (nurture_id["externalId"], nurture_id["unique"], nurture_id["custom"]) == (True, True, True)
    assert nurture_id["type"] == "string"
    assert lead["LastName"]["nillable"] is False
    assert lead["Email"]["type"] == "email"
    assert lead["Next_Action_Due__c"]["type"] == "datetime"
    assert lead["Urgent__c"]["type"] == "boolean"
    assert lead["OwnerId"]["referenceTo"] == ["Group", "User"]
    assert lead["SystemModstamp"]["createable"] is False
    assert task["WhoId"]["referenceTo"] == ["Contact", "Lead"]
    assert task["ActivityDate"]["type"] == "date"
    assert task["Nurture_Task_Key__c"]["externalId"] is True
    assert task["TaskSubtype"]["updateable"] is False
    assert task["IsClosed"]["createable"] is False


def test_describe_global_lists_the_org_objects(sf: Salesforce) -> None:
    described = sf.describe()

    assert described["maxBatchSize"] == 200
    prefixes = {o["name"]: o["keyPrefix"] for o in described["sobjects"]}
    assert prefixes == {
        "Lead": "00Q", "Contact": "003", "Account": "001", "RecordType": "012", "Task": "00T", "User": "005",
        "Group": "00G", "LeadStatus": "01J",
    }  # fmt: skip


def test_versions_are_listed_without_authentication(sf_org: SalesforceOrg) -> None:
    versions = sf_org.new_session().get(f"{sf_org.server.url}/services/data/").json()

    assert versions[-1] == {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"}


def test_every_api_response_carries_the_limit_header(sf: Salesforce, sf_sandbox: SalesforceSandbox) -> None:
    sf.query("SELECT Id FROM Lead")
    sf.query("SELECT Id FROM Lead")

    assert sf.api_usage["api-usage"].used == sf_sandbox.api_usage
    assert sf.api_usage["api-usage"].total == 100_000
    assert sf.limits()["DailyApiRequests"]["Remaining"] == 100_000 - sf_sandbox.api_usage


def test_spent_daily_budget_is_refused_until_the_day_resets(make_sf_org: Any) -> None:
    org: SalesforceOrg = make_sf_org(faults=Faults(daily_budget=3))
    sf = org.sf
    for _ in range(3):
        sf.query("SELECT Id FROM Lead")
    assert sf.api_usage["api-usage"].used == 3

    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.query("SELECT Id FROM Lead")
    assert caught.value.content == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]

    org.sandbox.reset_day()
    sf.query("SELECT Id FROM Lead")
    assert sf.api_usage["api-usage"].used == 1


def test_session_expires_after_the_configured_calls(make_sf_org: Any) -> None:
    org: SalesforceOrg = make_sf_org(faults=Faults(expire_session_after=2))
    sf = org.client()
    sf.query("SELECT Id FROM Lead")
    sf.query("SELECT Id FROM Lead")

    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM Lead")

    assert caught.value.status == 401
    assert caught.value.content == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    assert org.client().query("SELECT COUNT() FROM Lead")["totalSize"] == 0


@pytest.mark.parametrize("header", [None, "Bearer not-a-token", "Basic abc"])
def test_missing_or_bad_bearer_is_invalid_session_id(sf_org: SalesforceOrg, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}

    response = sf_org.new_session().get(f"{sf_org.api_url}/sobjects", headers=headers)

    assert response.status_code == 401
    assert response.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def test_injected_429_carries_retry_after(make_sf_org: Any) -> None:
    org: SalesforceOrg = make_sf_org(faults=Faults(share_429=1.0, retry_after_s=7))

    with pytest.raises(SalesforceGeneralError) as caught:
        org.sf.query("SELECT Id FROM Lead")
    raw = org.new_session().get(f"{org.api_url}/sobjects", headers={"Authorization": "Bearer x"})

    assert caught.value.status == 429
    assert raw.status_code == 429
    assert raw.headers["Retry-After"] == "7"
    assert raw.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_injected_5xx_is_503_server_unavailable(make_sf_org: Any) -> None:
    org: SalesforceOrg = make_sf_org(faults=Faults(share_5xx=1.0))

    with pytest.raises(SalesforceGeneralError) as caught:
        org.sf.Lead.create({"LastName": "x", "Company": "y"})

    assert caught.value.status == 503
    assert caught.value.content[0]["errorCode"] == "SERVER_UNAVAILABLE"
    org.sandbox.faults.share_5xx = 0.0
    assert org.sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0


def test_fault_shares_are_repeatable_with_a_seed(make_sf_org: Any) -> None:
    def outcomes() -> list[int]:
        org: SalesforceOrg = make_sf_org(faults=Faults(share_5xx=0.5, seed=7))
        session = org.new_session()
        token = org.sandbox.issue_token()
        return [
            session.get(f"{org.api_url}/sobjects", headers={"Authorization": f"Bearer {token}"}).status_code
            for _ in range(12)
        ]

    first, second = outcomes(), outcomes()

    assert first == second
    assert {200, 503} == set(first)


def test_latency_is_added_to_every_call(make_sf_org: Any) -> None:
    org: SalesforceOrg = make_sf_org(faults=Faults(latency_ms=60))

    started = time.perf_counter()
    org.sf.query("SELECT Id FROM Lead")

    assert time.perf_counter() - started >= 0.06


def test_request_log_counts_calls_by_method_path_and_status(sf: Salesforce, sf_sandbox: SalesforceSandbox) -> None:
    sf.restful(
        "composite/sobjects",
        method="POST",
        json={"records": [{"attributes": {"type": "Lead"}, "LastName": "x", "Company": "y"}]},
    )
    sf.query("SELECT Id FROM Lead")
    with pytest.raises(SalesforceMalformedRequest):
        sf.query("SELECT Id FROM Lead WHERE")

    log = sf_sandbox.log
    assert log.count("POST", "/services/data/v59.0/composite/sobjects") == 1
    assert log.count("GET", "/services/data/v59.0/query", status=200) == 1
    assert log.count("GET", "/services/data/v59.0/query", status=400) == 1
    assert sf_sandbox.api_usage == 3


def test_wrong_method_is_405(sf_org: SalesforceOrg) -> None:
    token = sf_org.sandbox.issue_token()

    response = sf_org.session.put(
        f"{sf_org.api_url}/sobjects/Lead/describe", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 405
    assert response.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"


def test_pretty_print_header_is_honoured(sf_org: SalesforceOrg) -> None:
    token = sf_org.sandbox.issue_token()

    pretty = sf_org.session.get(
        f"{sf_org.api_url}/limits", headers={"Authorization": f"Bearer {token}", "X-PrettyPrint": "1"}
    )
    compact = sf_org.session.get(f"{sf_org.api_url}/limits", headers={"Authorization": f"Bearer {token}"})

    assert pretty.text.startswith('{\n  "DailyApiRequests" : {')
    assert "\n" not in compact.text
    assert pretty.headers["Content-Type"] == "application/json;charset=UTF-8"


def test_file_state_survives_a_restart(make_sf_org: Any, tmp_path: Path) -> None:
    state = tmp_path / "org.sqlite"
    first: SalesforceOrg = make_sf_org(state_path=state)
    lead_id = first.sf.Lead.create({"LastName": "Kept", "Company": "x", "Nurture_Id__c": "inq-1"})["id"]
    token = first.sandbox.issue_token()
    first.sf.query("SELECT Id FROM Lead")
    first.close()

    second: SalesforceOrg = make_sf_org(state_path=state)
    sf = second.client(token)

    assert sf.Lead.get_by_custom_id("Nurture_Id__c", "inq-1")["Id"] == lead_id
    assert sf.query("SELECT LastName FROM Lead")["records"][0]["LastName"] == "Kept"
    assert second.sandbox.api_usage >= 3
    new_id = sf.Lead.create({"LastName": "New", "Company": "x"})["id"]
    assert new_id > lead_id
    assert sf.query("SELECT COUNT() FROM Group WHERE Type = 'Queue'")["totalSize"] == 5


def test_serve_salesforce_writes_the_tls_files_once(tmp_path: Path) -> None:
    sandbox = SalesforceSandbox()
    server, ca_path = serve_salesforce(sandbox, cert_dir=tmp_path)
    try:
        first_ca = ca_path.read_bytes()
        session = requests.Session()
        session.verify = str(ca_path)
        session.trust_env = False
        with session:
            versions = session.get(f"{server.url}/services/data/")
            localhost = session.get(f"https://localhost:{server.port}/services/data/")
    finally:
        server.stop()
        sandbox.close()
    again = SalesforceSandbox()
    server2, ca_path2 = serve_salesforce(again, cert_dir=tmp_path)
    server2.stop()
    again.close()

    assert server.url.startswith("https://127.0.0.1:")
    assert versions.status_code == localhost.status_code == 200
    assert ca_path2 == ca_path
    assert ca_path2.read_bytes() == first_ca
