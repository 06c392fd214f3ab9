"""The sandbox judged by HubSpot's own OpenAPI specs: the real SDK runs a scenario through Stoplight
Prism (``--errors``), which fails any request or response that breaks HubSpot's contract."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import hubspot
import pytest
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts.exceptions import ApiException
from hubspot.crm.objects.tasks import BatchInputSimplePublicObjectBatchInputForCreate
from hubspot.crm.objects.tasks import SimplePublicObjectInputForCreate as TaskIn
from hubspot.crm.properties import PropertyCreate

from tests.contracts.hubspot_spec import KNOWN_GAPS, covered, spec_operations
from tests.fixtures.hubspot_sandbox import PrismProxy, no_retry

pytestmark = pytest.mark.node


class Route:
    """Sends each SDK call through Prism when HubSpot's spec has the route, else straight to the sandbox
    (and remembers it, so the test can check that only known spec gaps bypassed Prism)."""

    def __init__(self, prism: PrismProxy) -> None:
        token = prism.sandbox.issue_token()
        self.checked = hubspot.Client.create(access_token=token, host=prism.url, retry=no_retry())
        self.direct = hubspot.Client.create(access_token=token, host=prism.upstream, retry=no_retry())
        self.operations = spec_operations(prism.spec.document)
        self.bypassed: set[tuple[str, str]] = set()

    def __call__(self, method: str, path: str) -> hubspot.Client:
        if covered((method, path), self.operations):
            return self.checked
        self.bypassed.add((method, path))
        return self.direct


@pytest.fixture
def route(hubspot_prism: PrismProxy) -> Route:
    return Route(hubspot_prism)


def test_sdk_scenario_through_prism_breaks_no_contract(hubspot_prism: PrismProxy, route: Route) -> None:
    mark = hubspot_prism.mark()
    route("POST", "/crm/v3/properties/{}").crm.properties.core_api.create(
        "contacts",
        PropertyCreate(
            name="nurturehub_id", label="nurturehub id", type="string", field_type="text",
            group_name="contactinformation", has_unique_value=True,
        ),
    )  # fmt: skip
    route("GET", "/crm/v3/properties/{}/{}").crm.properties.core_api.get_by_name("contacts", "nurturehub_id")

    contacts = route("POST", "/crm/v3/objects/contacts").crm.contacts
    ana = contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": "ana@example.com", "hs_lead_status": "NEW"})
    )
    route("GET", "/crm/v3/objects/contacts/{}").crm.contacts.basic_api.get_by_id(ana.id, properties=["phone"])
    with pytest.raises(ApiException) as conflict:
        contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": "ana@example.com"}))
    assert conflict.value.status == 409

    upserted = route("POST", "/crm/v3/objects/contacts/batch/upsert").crm.contacts.batch_api.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                {
                    "idProperty": "nurturehub_id",
                    "id": f"lead-{i}",
                    "properties": {"email": f"p{i}@example.com"},
                }
                for i in range(100)
            ]
        )
    )
    assert len(upserted.results) == 100
    partly = route("POST", "/crm/v3/objects/contacts/batch/upsert").crm.contacts.batch_api.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                {"idProperty": "nurturehub_id", "id": "lead-0", "properties": {"hs_lead_status": "NEW"},
                 "objectWriteTraceId": "lead-0"},
                {"idProperty": "nurturehub_id", "id": "lead-1", "properties": {"email": "not-an-email"},
                 "objectWriteTraceId": "lead-1"},
            ]
        )
    )  # fmt: skip
    assert [r.object_write_trace_id for r in partly.results] == ["lead-0"]
    assert [e.context["objectWriteTraceId"] for e in partly.errors] == [["lead-1"]]
    route("POST", "/crm/v3/objects/contacts/batch/read").crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[{"id": ana.id}, {"id": "999999"}], properties=["email"], properties_with_history=[]
        )
    )

    search = route("POST", "/crm/v3/objects/contacts/search").crm.contacts.search_api
    seen, after = 0, None
    while True:
        page = search.do_search(
            PublicObjectSearchRequest(
                filter_groups=[{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]}],
                sorts=["-createdate"],
                properties=["email", "nurturehub_id"],
                limit=40,
                after=after,
            )
        )
        seen += len(page.results)
        if page.paging is None:
            break
        after = page.paging.next.after
    assert seen == 101

    tasks = route("POST", "/crm/v3/objects/tasks").crm.objects.tasks
    task = tasks.basic_api.create(
        TaskIn(
            properties={
                "hs_timestamp": "2026-11-27T15:00:00Z",
                "hs_task_subject": "Call",
                "hs_task_type": "CALL",
            },
            associations=[
                {
                    "to": {"id": ana.id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204}],
                }
            ],
        )
    )
    other = tasks.basic_api.create(TaskIn(properties={"hs_timestamp": "2026-11-28T15:00:00Z"}))
    # Multi-status: inputs with trace ids, one of them bad — a 207 whose body HubSpot's spec must accept.
    made = route("POST", "/crm/v3/objects/tasks/batch/create").crm.objects.tasks.batch_api.create(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                {"properties": {"hs_timestamp": "2026-11-29T15:00:00Z"}, "objectWriteTraceId": "t1"},
                {"properties": {"hs_timestamp": "next tuesday"}, "objectWriteTraceId": "t2"},
            ]
        )
    )
    assert [r.object_write_trace_id for r in made.results] == ["t1"]
    assert [e.context["objectWriteTraceId"] for e in made.errors] == [["t2"]]
    v4 = "/crm/v4/objects/{}/{}/associations"
    route("PUT", f"{v4}/default/{{}}/{{}}").crm.associations.v4.basic_api.create_default(
        "tasks", other.id, "contacts", ana.id
    )
    route("GET", f"{v4}/{{}}").crm.associations.v4.basic_api.get_page("contacts", ana.id, "tasks")
    route("POST", "/crm/v4/associations/{}/{}/batch/read").crm.associations.v4.batch_api.get_page(
        "tasks",
        "contacts",
        BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": task.id}, {"id": other.id}]),
    )
    route("GET", "/crm/v3/owners/").crm.owners.owners_api.get_page(limit=2)
    info = route("GET", "/oauth/v1/access-tokens/{}").oauth.access_tokens_api.get(hubspot_prism.sandbox.issue_token())
    assert info.hub_id == 1234567

    hubspot_prism.sandbox.faults.share_429 = 1.0
    try:
        with pytest.raises(ApiException) as limited:
            route("GET", "/crm/v3/objects/contacts").crm.contacts.basic_api.get_page(limit=1)
    finally:
        hubspot_prism.sandbox.faults.share_429 = 0.0
    assert limited.value.status == 429
    assert json.loads(limited.value.body)["policyName"] == "SECONDLY"

    assert hubspot_prism.violations_since(mark) == []
    assert route.bypassed <= KNOWN_GAPS[hubspot_prism.spec.source]


@pytest.fixture
def broken(hubspot_prism: PrismProxy) -> Iterator[Callable[[Callable[[Any], Any]], None]]:
    def corrupt_with(change: Callable[[Any], Any]) -> None:
        hubspot_prism.app.corrupt = change

    yield corrupt_with
    hubspot_prism.app.corrupt = None


def _results_not_a_list(body: Any) -> Any:
    return {**body, "results": "not a list"}


def _id_missing(body: Any) -> Any:
    return {k: v for k, v in body.items() if k != "id"}


@pytest.mark.parametrize(
    ("corruption", "call"),
    [
        (
            _results_not_a_list,
            lambda c: c.crm.contacts.search_api.do_search(PublicObjectSearchRequest(limit=1)),
        ),
        (
            _id_missing,
            lambda c: c.crm.contacts.basic_api.create(
                SimplePublicObjectInputForCreate(properties={"email": "broken@example.com"})
            ),
        ),
    ],
)
def test_prism_flags_a_deliberately_broken_response(
    hubspot_prism: PrismProxy,
    route: Route,
    broken: Callable[[Callable[[Any], Any]], None],
    corruption: Callable[[Any], Any],
    call: Callable[[hubspot.Client], Any],
) -> None:
    mark = hubspot_prism.mark()
    broken(corruption)
    with pytest.raises(ApiException) as caught:
        call(route.checked)
    assert caught.value.status == 500
    problem = json.loads(caught.value.body)
    assert problem["type"] == "https://stoplight.io/prism/errors#VIOLATIONS"
    assert problem["validation"]
    assert hubspot_prism.violations_since(mark) != []
