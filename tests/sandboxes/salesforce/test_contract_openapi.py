"""The sandbox's wire format checked against Salesforce's generated sObjects OpenAPI document.

Responses (and request bodies) recorded while the real simple-salesforce talks to the sandbox are
validated with openapi-core against ``node_modules/@opensdks/sdk-salesforce/salesforce.oas.json``,
prepared by ``tests/contracts/salesforce_spec.py`` (which lists every change and why). A test feeds
deliberately broken responses to prove the check can fail, and another maps every REST path
simple-salesforce calls for nurturehub's operations to the spec, or to the documented reason the
generated document lacks it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.testing import MockRequest, MockResponse
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from sandboxes.common import Faults
from tests.contracts.salesforce_spec import (
    ABSENT_REASONS,
    BASE_PATH,
    SIMPLE_SALESFORCE_CALLS,
    load_raw,
    prepared,
    raw_paths,
    spec_available,
)
from tests.fixtures.salesforce_sandbox import SalesforceOrg
from tests.support import skip_or_fail

pytestmark = [pytest.mark.node]


@pytest.fixture(autouse=True)
def _needs_spec() -> None:
    if not spec_available():
        skip_or_fail("needs node_modules/@opensdks/sdk-salesforce (run npm ci)")


class _Request(RequestsOpenAPIRequest):
    """simple-salesforce adds a trailing slash to some paths (``sobjects/Lead/``); the spec has none."""

    @property
    def path(self) -> str:
        return super().path.rstrip("/")


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(prepared())


@pytest.fixture
def recorded(sf_org: SalesforceOrg) -> Iterator[list[requests.Response]]:
    """Every response the org's HTTP session receives."""
    responses: list[requests.Response] = []

    def keep(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        responses.append(response)

    sf_org.session.hooks["response"].append(keep)
    yield responses
    sf_org.session.hooks["response"].remove(keep)


def check(openapi: OpenAPI, response: requests.Response, *, request_too: bool = True) -> None:
    openapi.validate_response(_Request(response.request), RequestsOpenAPIResponse(response))
    if request_too:
        openapi.validate_request(_Request(response.request))


def test_create_get_update_delete_match_the_spec(
    sf: Salesforce, openapi: OpenAPI, recorded: list[requests.Response]
) -> None:
    lead_id = sf.Lead.create({"LastName": "Rivera", "Company": "Self", "Next_Action_Due__c": "2026-11-27T15:00:00Z"})[
        "id"
    ]
    sf.Lead.get(lead_id)
    sf.Lead.update(lead_id, {"Stage__c": "reached", "Email": "ana@example.org"})
    contact_id = sf.Contact.create({"LastName": "Ng", "SMS_Consent__c": "granted"})["id"]
    sf.Contact.get(contact_id)
    task_id = sf.Task.create({"WhoId": lead_id, "Subject": "Call", "ActivityDate": "2026-11-27"})["id"]
    sf.Task.update(task_id, {"Status": "Completed", "CallDisposition": "Reached"})
    sf.Task.get(task_id)
    sf.Lead.delete(lead_id)

    assert [r.status_code for r in recorded] == [201, 200, 204, 201, 200, 201, 204, 200, 204]
    for response in recorded:
        check(openapi, response)


def test_person_and_business_accounts_match_the_spec(
    sf: Salesforce, openapi: OpenAPI, recorded: list[requests.Response]
) -> None:
    """The generated document comes from an org without Person Accounts: it declares Account's
    standard and custom fields (types, lengths) but not the Person… ones, which it then leaves open."""
    person_type = sf.query("SELECT Id FROM RecordType WHERE IsPersonType = true")["records"][0]["Id"]
    recorded.clear()
    person_id = sf.Account.create(
        {"RecordTypeId": person_type, "FirstName": "Ana", "LastName": "Ruiz", "PersonEmail": "ana@example.org",
         "Nurture_Id__c": "nh_contract1", "Intent__c": "ready_to_schedule"}
    )["id"]  # fmt: skip
    sf.Account.get(person_id)
    sf.Account.update(person_id, {"PersonDoNotCall": True, "Phone": "+15125550142"})
    business_id = sf.Account.create({"Name": "Riverbend Referrals", "AccountSource": "Partner Referral"})["id"]
    sf.Account.get(business_id)
    sf.RecordType.get(person_type)

    assert [r.status_code for r in recorded] == [201, 200, 204, 201, 200, 200]
    for response in recorded:
        check(openapi, response)


def test_read_only_objects_match_the_spec(sf: Salesforce, openapi: OpenAPI, recorded: list[requests.Response]) -> None:
    queue_id = sf.query("SELECT Id FROM Group WHERE Type = 'Queue' LIMIT 1")["records"][0]["Id"]
    user_id = sf.query("SELECT Id FROM User LIMIT 1")["records"][0]["Id"]
    recorded.clear()

    sf.Group.get(queue_id)
    sf.User.get(user_id)

    for response in recorded:
        check(openapi, response)


@pytest.mark.parametrize("sobject", ["Lead", "Contact", "Account", "RecordType", "Task", "User", "Group"])
def test_describe_and_basic_information_match_the_spec(
    sf: Salesforce, openapi: OpenAPI, recorded: list[requests.Response], sobject: str
) -> None:
    getattr(sf, sobject).describe()
    getattr(sf, sobject).metadata()
    sf.describe()

    assert [r.status_code for r in recorded] == [200, 200, 200]
    for response in recorded:
        check(openapi, response)


def test_error_responses_match_the_spec(
    sf_org: SalesforceOrg, make_sf_org: Any, openapi: OpenAPI, recorded: list[requests.Response]
) -> None:
    sf = sf_org.sf
    lead_id = sf.Lead.create({"LastName": "Rivera", "Company": "Self"})["id"]
    sf.Lead.delete(lead_id)
    attempts = [
        lambda: sf.Lead.create({"FirstName": "no last name"}),  # 400 REQUIRED_FIELD_MISSING
        lambda: sf.Lead.create({"LastName": "x", "Company": "y", "Status": "Nope"}),  # 400 restricted picklist
        lambda: sf.Lead.create({"LastName": "x", "Company": "y", "Bogus__c": 1}),  # 400 INVALID_FIELD
        lambda: sf.Lead.get(lead_id),  # 404 NOT_FOUND
        lambda: sf.Lead.update(lead_id, {"FirstName": "x"}),  # 404 NOT_FOUND
        lambda: sf_org.client("expired-token").Lead.get(lead_id),  # 401 INVALID_SESSION_ID
    ]
    for attempt in attempts:
        with pytest.raises(SalesforceError):
            attempt()

    assert [r.status_code for r in recorded[2:]] == [400, 400, 400, 404, 404, 401]
    for response in recorded[2:]:
        check(openapi, response, request_too=response.status_code != 400)


def test_budget_refusal_matches_the_spec(make_sf_org: Any, openapi: OpenAPI) -> None:
    org: SalesforceOrg = make_sf_org(faults=Faults(daily_budget=0))
    responses: list[requests.Response] = []
    org.session.hooks["response"].append(lambda r, *a, **k: responses.append(r))

    with pytest.raises(SalesforceError):
        org.sf.Lead.create({"LastName": "x", "Company": "y"})

    assert responses[0].status_code == 403
    check(openapi, responses[0])


def mock(method: str, path: str, status: int, body: Any) -> tuple[MockRequest, MockResponse]:
    request = MockRequest("https://127.0.0.1:8443", method, f"{BASE_PATH}{path}")
    response = MockResponse(json.dumps(body).encode(), status_code=status, content_type="application/json")
    return request, response


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("post", "/sobjects/Lead", 201, {"id": "00Q5g0000004C93EAE", "success": "true", "errors": []}),
        ("post", "/sobjects/Lead", 201, {"success": True, "errors": []}),
        ("get", "/sobjects/Lead/00Q5g0000004C93EAE", 200, {"Id": "00Q5g0000004C93EAE", "IsDeleted": "false"}),
        ("get", "/sobjects/Lead/00Q5g0000004C93EAE", 200, {"SystemModstamp": "2026-11-26T10:00:00Z"}),
        (
            "get",
            "/sobjects/Lead/00Q5g0000004C93EAE",
            404,
            [{"message": "The requested resource does not exist"}],
        ),
        (
            "get",
            "/sobjects/Lead/describe",
            200,
            {"name": "Lead", "label": "Lead", "keyPrefix": "00Q", "fields": {}},
        ),
    ],
    ids=[
        "success-as-string",
        "missing-id",
        "boolean-as-string",
        "rfc3339-datetime",
        "no-errorCode",
        "bad-describe",
    ],
)
def test_the_validator_catches_broken_responses(
    openapi: OpenAPI, method: str, path: str, status: int, body: Any
) -> None:
    request, response = mock(method, path, status, body)

    with pytest.raises(Exception, match=r"not valid|required|match|type") as caught:
        openapi.validate_response(request, response)

    assert type(caught.value).__name__ in {"InvalidData", "DataValidationError", "InvalidSchemaValue"}


def test_the_validator_accepts_the_same_shapes_when_correct(openapi: OpenAPI) -> None:
    request, response = mock("post", "/sobjects/Lead", 201, {"id": "00Q5g0000004C93EAE", "success": True, "errors": []})

    openapi.validate_response(request, response)


def _template(path: str) -> str:
    """A logged request path as the template SIMPLE_SALESFORCE_CALLS uses."""
    rest = path.removeprefix(f"{BASE_PATH}/")
    rest = re.sub(r"^(query|queryAll)/[0-9A-Za-z]{18}-\d+$", r"\1/{locator}", rest)
    rest = re.sub(r"^sobjects/(\w+)/[0-9A-Za-z]{18}$", r"sobjects/\1/{id}", rest)
    rest = re.sub(r"^sobjects/(\w+)/(?!describe$)\w+/[^/]+$", r"sobjects/\1/{field}/{value}", rest)
    return re.sub(r"^composite/sobjects/(\w+)/\w+$", r"composite/sobjects/\1/{field}", rest)


def _raw_matches(method: str, concrete: str) -> list[str]:
    """Templates of the untouched spec that match a concrete path for a method."""
    hits = []
    for template, item in load_raw()["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if method.lower() in item and re.match(pattern, concrete):
            hits.append(template)
    return hits


def test_every_path_simple_salesforce_calls_is_in_the_spec_or_documented(sf: Salesforce, sf_sandbox: Any) -> None:
    lead_id = sf.Lead.create({"LastName": "Rivera", "Company": "Self"})["id"]
    sf.Lead.get(lead_id)
    sf.Lead.update(lead_id, {"FirstName": "Ana"})
    sf.Lead.upsert("Nurture_Id__c/inq-1", {"LastName": "x", "Company": "y"})
    sf.Lead.get_by_custom_id("Nurture_Id__c", "inq-1")
    sf.Lead.describe()
    sf.Lead.metadata()
    sf.describe()
    task_id = sf.Task.create({"WhoId": lead_id, "Subject": "Call"})["id"]
    sf.Task.update(task_id, {"Status": "Completed"})
    sf.Task.get(task_id)
    records = [{"attributes": {"type": "Lead"}, "LastName": f"L{n}", "Company": "x"} for n in range(2001)]
    for start in range(0, len(records), 200):
        sf.restful("composite/sobjects", method="POST", json={"records": records[start : start + 200]})
    sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={"records": [{"attributes": {"type": "Lead"}, "id": lead_id}]},
    )
    sf.restful(
        "composite/sobjects/Lead/Nurture_Id__c",
        method="PATCH",
        json={"records": [{"attributes": {"type": "Lead"}, "Nurture_Id__c": "inq-2", "LastName": "x", "Company": "y"}]},
    )
    sf.restful("composite/sobjects/Lead", params={"ids": lead_id, "fields": "Id"})
    sf.query_all("SELECT Id FROM Lead")
    sf.query("SELECT Id FROM Lead", include_deleted=True)
    queue = sf.query("SELECT Id FROM Group LIMIT 1")["records"][0]["Id"]
    sf.Group.get(queue)
    sf.User.get(sf_sandbox.user_id)
    sf.limits()
    sf.restful("composite/sobjects", method="DELETE", params={"ids": task_id})
    sf.Lead.delete(lead_id)

    called = {(e.method, _template(e.path)) for e in sf_sandbox.log.entries()}
    raw = raw_paths()
    prepared_paths = prepared()["paths"]

    unknown = called - set(SIMPLE_SALESFORCE_CALLS)
    assert not unknown, f"simple-salesforce called paths the contract does not list: {sorted(unknown)}"
    for (method, template), spec_path in SIMPLE_SALESFORCE_CALLS.items():
        concrete = "/" + template.rstrip("/").replace("{id}", "00Q5g0000004C93EAE").replace(
            "{field}", "Nurture_Id__c"
        ).replace("{value}", "x").replace("{locator}", "01g5g0000004C93EAE-2000")
        if spec_path is not None:
            assert spec_path in prepared_paths and method.lower() in prepared_paths[spec_path], spec_path
            generic = re.sub(r"^/sobjects/(Lead|Task|Group|User)", "/sobjects/{sObject}", spec_path)
            assert spec_path in raw or generic in raw
        else:
            hits = _raw_matches(method, concrete)
            assert hits in ([], ["/sobjects/{sObject}/{id}/{blobField}"]), (method, template, hits)
            category = next(key for key in ABSENT_REASONS if template.startswith(key.split("/")[0]))
            assert ABSENT_REASONS[category]
