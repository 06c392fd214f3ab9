"""CRM search through the real SDK: every operator, OR of ANDs, sorts, paging, limits, the 10,000 cap."""

from __future__ import annotations

import json
from typing import Any

import hubspot
import pytest
from hubspot.crm.contacts import PublicObjectSearchRequest, SimplePublicObjectInput
from hubspot.crm.contacts.exceptions import ApiException
from hubspot.crm.properties import PropertyCreate

from sandboxes.hubspot import HubSpotSandbox
from tests.fixtures.clock import ManualClock

PEOPLE = [
    {"email": "ana.silva@clinic.example", "firstname": "Ana", "lastname": "Silva", "hs_lead_status": "NEW",
     "nurturehub_score": "10"},
    {"email": "bo.chen@mail.example", "firstname": "Bo", "lastname": "Chen", "hs_lead_status": "OPEN",
     "nurturehub_score": "25", "phone": "+1 555 0101"},
    {"email": "cy.diaz@clinic.example", "firstname": "Cy", "lastname": "Diaz", "hs_lead_status": "CONNECTED",
     "nurturehub_score": "40"},
    {"email": "di.evans@mail.example", "firstname": "Di", "lastname": "Evans", "nurturehub_score": "55",
     "phone": "+1 555 0104"},
]  # fmt: skip


@pytest.fixture
def people(hubspot_client: hubspot.Client, hubspot_sandbox: HubSpotSandbox) -> dict[str, str]:
    hubspot_client.crm.properties.core_api.create(
        "contacts",
        PropertyCreate(
            name="nurturehub_score",
            label="Score",
            type="number",
            field_type="number",
            group_name="contactinformation",
        ),
    )
    ids = hubspot_sandbox.seed("contacts", PEOPLE)
    return {p["firstname"]: i for p, i in zip(PEOPLE, ids, strict=True)}


def search(client: hubspot.Client, **body: Any) -> Any:
    return client.crm.contacts.search_api.do_search(PublicObjectSearchRequest(**body))


def names(client: hubspot.Client, *filters: dict[str, Any]) -> list[str]:
    found = search(client, filter_groups=[{"filters": list(filters)}], properties=["firstname"], limit=100)
    return sorted(r.properties["firstname"] for r in found.results)


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"propertyName": "firstname", "operator": "EQ", "value": "ana"}, ["Ana"]),
        ({"propertyName": "hs_lead_status", "operator": "NEQ", "value": "NEW"}, ["Bo", "Cy", "Di"]),
        ({"propertyName": "nurturehub_score", "operator": "GT", "value": "25"}, ["Cy", "Di"]),
        ({"propertyName": "nurturehub_score", "operator": "GTE", "value": "25"}, ["Bo", "Cy", "Di"]),
        ({"propertyName": "nurturehub_score", "operator": "LT", "value": "25"}, ["Ana"]),
        ({"propertyName": "nurturehub_score", "operator": "LTE", "value": "25"}, ["Ana", "Bo"]),
        ({"propertyName": "hs_lead_status", "operator": "IN", "values": ["NEW", "CONNECTED"]}, ["Ana", "Cy"]),
        (
            {"propertyName": "hs_lead_status", "operator": "NOT_IN", "values": ["NEW", "CONNECTED"]},
            ["Bo", "Di"],
        ),
        ({"propertyName": "phone", "operator": "HAS_PROPERTY"}, ["Bo", "Di"]),
        ({"propertyName": "phone", "operator": "NOT_HAS_PROPERTY"}, ["Ana", "Cy"]),
        ({"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@clinic.example"}, ["Ana", "Cy"]),
        ({"propertyName": "lastname", "operator": "CONTAINS_TOKEN", "value": "chen"}, ["Bo"]),
        (
            {"propertyName": "nurturehub_score", "operator": "BETWEEN", "value": "20", "highValue": "40"},
            ["Bo", "Cy"],
        ),
    ],
)
def test_each_operator_filters_like_hubspot(
    hubspot_client: hubspot.Client, people: dict[str, str], flt: dict[str, Any], expected: list[str]
) -> None:
    assert names(hubspot_client, flt) == expected


def test_filters_in_a_group_are_anded_and_groups_are_ored(
    hubspot_client: hubspot.Client, people: dict[str, str]
) -> None:
    found = search(
        hubspot_client,
        filter_groups=[
            {
                "filters": [
                    {"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@clinic.example"},
                    {"propertyName": "nurturehub_score", "operator": "GT", "value": "20"},
                ]
            },
            {"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "Bo"}]},
        ],
        properties=["firstname"],
    )
    assert sorted(r.properties["firstname"] for r in found.results) == ["Bo", "Cy"]


def test_sorts_ascending_and_descending(hubspot_client: hubspot.Client, people: dict[str, str]) -> None:
    down = search(hubspot_client, sorts=["-nurturehub_score"], properties=["firstname"])
    assert [r.properties["firstname"] for r in down.results] == ["Di", "Cy", "Bo", "Ana"]
    up = search(
        hubspot_client,
        sorts=[{"propertyName": "lastname", "direction": "ASCENDING"}],
        properties=["firstname"],
    )
    assert [r.properties["firstname"] for r in up.results] == ["Bo", "Cy", "Di", "Ana"]


def test_search_answers_default_properties_and_total(hubspot_client: hubspot.Client, people: dict[str, str]) -> None:
    found = search(hubspot_client, limit=1)
    assert found.total == 4
    assert set(found.results[0].properties) == {
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    }


def test_paging_with_after_walks_every_result_once(hubspot_client: hubspot.Client, people: dict[str, str]) -> None:
    seen: list[str] = []
    after: str | None = None
    while True:
        page = search(hubspot_client, limit=3, after=after, sorts=["firstname"], properties=["firstname"])
        seen += [r.properties["firstname"] for r in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert seen == ["Ana", "Bo", "Cy", "Di"]


def test_free_text_query_matches_name_prefixes(hubspot_client: hubspot.Client, people: dict[str, str]) -> None:
    found = search(hubspot_client, query="sil", properties=["firstname"])
    assert [r.properties["firstname"] for r in found.results] == ["Ana"]


def test_incremental_pull_by_lastmodifieddate_window(
    hubspot_client: hubspot.Client, people: dict[str, str], hubspot_clock: ManualClock
) -> None:
    hubspot_clock.advance(minutes=5)
    hubspot_client.crm.contacts.basic_api.update(people["Cy"], SimplePublicObjectInput(properties={"lastname": "D"}))
    since = "2026-11-26T10:04:00.000Z"
    until = str(int(hubspot_clock().timestamp() * 1000) + 60_000)  # epoch ms works too
    found = search(
        hubspot_client,
        filter_groups=[
            {
                "filters": [
                    {"propertyName": "lastmodifieddate", "operator": "GTE", "value": since},
                    {"propertyName": "lastmodifieddate", "operator": "LT", "value": until},
                ]
            }
        ],
        sorts=["lastmodifieddate"],
        properties=["firstname"],
    )
    assert [r.id for r in found.results] == [people["Cy"]]


def _error(caught: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(caught.value.body)
    return body


def test_more_than_five_filter_groups_is_rejected(hubspot_client: hubspot.Client, people: dict[str, str]) -> None:
    group = {"filters": [{"propertyName": "firstname", "operator": "HAS_PROPERTY"}]}
    with pytest.raises(ApiException) as caught:
        search(hubspot_client, filter_groups=[group] * 6)
    assert caught.value.status == 400
    assert _error(caught)["category"] == "VALIDATION_ERROR"


def test_more_than_twenty_five_filters_is_rejected(hubspot_client: hubspot.Client, people: dict[str, str]) -> None:
    group = {"filters": [{"propertyName": "firstname", "operator": "HAS_PROPERTY"}] * 6}
    with pytest.raises(ApiException) as caught:
        search(hubspot_client, filter_groups=[group] * 5)
    assert caught.value.status == 400


def test_limit_above_two_hundred_is_rejected(hubspot_client: hubspot.Client, people: dict[str, str]) -> None:
    with pytest.raises(ApiException) as caught:
        search(hubspot_client, limit=201)
    assert caught.value.status == 400


def test_unknown_property_in_a_filter_is_hubspots_generic_400(
    hubspot_client: hubspot.Client, people: dict[str, str]
) -> None:
    with pytest.raises(ApiException) as caught:
        names(hubspot_client, {"propertyName": "no_such_thing", "operator": "EQ", "value": "x"})
    assert _error(caught)["message"] == "There was a problem with the request."


def test_paging_past_ten_thousand_results_is_a_400(
    hubspot_client: hubspot.Client, hubspot_sandbox: HubSpotSandbox
) -> None:
    hubspot_sandbox.seed("contacts", ({"firstname": f"P{i}"} for i in range(10_050)))
    first = search(hubspot_client, limit=200, after="9800", properties=["firstname"])
    assert first.total == 10_050
    assert len(first.results) == 200
    assert first.paging.next.after == "10000"
    with pytest.raises(ApiException) as caught:
        search(hubspot_client, limit=200, after=first.paging.next.after)
    assert caught.value.status == 400
    assert _error(caught) | {"correlationId": "x"} == {
        "status": "error",
        "message": "There was a problem with the request.",
        "correlationId": "x",
        "category": "VALIDATION_ERROR",
    }


def test_a_page_reaching_past_ten_thousand_is_a_400(hubspot_client: hubspot.Client, people: dict[str, str]) -> None:
    with pytest.raises(ApiException) as caught:
        search(hubspot_client, limit=200, after="9900")
    assert caught.value.status == 400
