"""The properties API and owners through the real SDK."""

from __future__ import annotations

import json

import hubspot
import pytest
from hubspot.crm.properties import PropertyCreate, PropertyGroupCreate, PropertyUpdate
from hubspot.crm.properties.exceptions import ApiException

from sandboxes.hubspot import HubSpotSandbox


def _nurturehub_id() -> PropertyCreate:
    return PropertyCreate(
        name="nurturehub_id",
        label="nurturehub id",
        type="string",
        field_type="text",
        group_name="contactinformation",
        has_unique_value=True,
    )


def test_created_property_reads_back(hubspot_client: hubspot.Client) -> None:
    created = hubspot_client.crm.properties.core_api.create("contacts", _nurturehub_id())
    read = hubspot_client.crm.properties.core_api.get_by_name("contacts", "nurturehub_id")
    assert (created.name, read.has_unique_value, read.type, read.field_type) == (
        "nurturehub_id",
        True,
        "string",
        "text",
    )
    assert "nurturehub_id" in {p.name for p in hubspot_client.crm.properties.core_api.get_all("contacts").results}


def test_creating_an_existing_property_is_a_409(hubspot_client: hubspot.Client) -> None:
    hubspot_client.crm.properties.core_api.create("contacts", _nurturehub_id())
    with pytest.raises(ApiException) as caught:
        hubspot_client.crm.properties.core_api.create("contacts", _nurturehub_id())
    assert caught.value.status == 409
    assert json.loads(caught.value.body)["category"] == "OBJECT_ALREADY_EXISTS"


def test_standard_properties_are_there(hubspot_client: hubspot.Client) -> None:
    lead = hubspot_client.crm.properties.core_api.get_by_name("contacts", "hs_lead_status")
    assert [o.value for o in lead.options] == [
        "NEW",
        "OPEN",
        "IN_PROGRESS",
        "OPEN_DEAL",
        "UNQUALIFIED",
        "ATTEMPTED_TO_CONTACT",
        "CONNECTED",
        "BAD_TIMING",
    ]
    task_names = {p.name for p in hubspot_client.crm.properties.core_api.get_all("tasks").results}
    assert {
        "hs_timestamp",
        "hs_task_status",
        "hs_task_type",
        "hs_task_priority",
        "hs_task_completion_date",
    } <= task_names


def test_enumeration_options_can_be_updated(hubspot_client: hubspot.Client) -> None:
    hubspot_client.crm.properties.core_api.create(
        "contacts",
        PropertyCreate(
            name="nurturehub_channel", label="Channel", type="enumeration", field_type="select",
            group_name="contactinformation", options=[{"label": "SMS", "value": "sms", "hidden": False}],
        ),
    )  # fmt: skip
    updated = hubspot_client.crm.properties.core_api.update(
        "contacts",
        "nurturehub_channel",
        PropertyUpdate(
            options=[
                {"label": "SMS", "value": "sms", "hidden": False},
                {"label": "Email", "value": "email", "hidden": False},
            ]
        ),
    )
    assert [o.value for o in updated.options] == ["sms", "email"]


def test_property_needs_an_existing_group_and_a_group_can_be_made(hubspot_client: hubspot.Client) -> None:
    spec = PropertyCreate(name="nh_x", label="X", type="string", field_type="text", group_name="nurturehub")
    with pytest.raises(ApiException) as caught:
        hubspot_client.crm.properties.core_api.create("contacts", spec)
    assert caught.value.status == 400
    hubspot_client.crm.properties.groups_api.create("contacts", PropertyGroupCreate(name="nurturehub", label="nh"))
    assert hubspot_client.crm.properties.core_api.create("contacts", spec).group_name == "nurturehub"


def test_unique_properties_are_refused_where_configured_off(
    hubspot_client: hubspot.Client, hubspot_sandbox: HubSpotSandbox
) -> None:
    hubspot_sandbox.crm.unique_property_objects = frozenset({"contacts"})
    spec = PropertyCreate(
        name="nh_key", label="key", type="string", field_type="text", group_name="task", has_unique_value=True
    )
    with pytest.raises(ApiException) as caught:
        hubspot_client.crm.properties.core_api.create("tasks", spec)
    assert caught.value.status == 400


def test_owners_are_seeded_and_paged(hubspot_client: hubspot.Client) -> None:
    first = hubspot_client.crm.owners.owners_api.get_page(limit=3)
    assert len(first.results) == 3
    rest = hubspot_client.crm.owners.owners_api.get_page(limit=3, after=first.paging.next.after)
    assert rest.paging is None
    everyone = [*first.results, *rest.results]
    assert [o.last_name for o in everyone] == ["Desk", "Triage Nurse", "Coordinator", "Desk", "Coordinator"]
    assert all(o.type == "PERSON" and o.archived is False for o in everyone)


def test_owner_by_id_and_by_email(hubspot_client: hubspot.Client) -> None:
    owner = hubspot_client.crm.owners.owners_api.get_by_id(70000103)
    assert owner.first_name == "Bilingual"
    found = hubspot_client.crm.owners.owners_api.get_page(email="insurance@clinic.example")
    assert [o.id for o in found.results] == ["70000104"]
