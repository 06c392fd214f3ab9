"""Contacts and tasks through the real hubspot-api-client: create, read, update, archive, batches."""

from __future__ import annotations

import json
import re

import hubspot
import pytest
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts.exceptions import ApiException
from hubspot.crm.properties import PropertyCreate

from sandboxes.hubspot import HubSpotSandbox
from tests.fixtures.clock import ManualClock

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def _create(client: hubspot.Client, **properties: str) -> str:
    created = client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties=properties))
    return str(created.id)


def _unique_id_property(client: hubspot.Client, object_type: str = "contacts") -> None:
    group = "contactinformation" if object_type == "contacts" else "task"
    client.crm.properties.core_api.create(
        object_type,
        PropertyCreate(
            name="nurturehub_id",
            label="nurturehub id",
            type="string",
            field_type="text",
            group_name=group,
            has_unique_value=True,
        ),
    )


def test_create_answers_the_written_properties_and_hubspot_timestamps(hubspot_client: hubspot.Client) -> None:
    created = hubspot_client.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": "Ana@Example.com", "firstname": "Ana"})
    )
    props = created.properties
    assert props["email"] == "ana@example.com"
    assert props["hs_object_id"] == created.id
    assert props["createdate"] == props["lastmodifieddate"] == "2026-11-26T10:00:00.000Z"
    assert created.archived is False


def test_read_returns_requested_properties_with_null_for_unset_ones(hubspot_client: hubspot.Client) -> None:
    contact_id = _create(hubspot_client, email="ana@example.com", firstname="Ana")
    read = hubspot_client.crm.contacts.basic_api.get_by_id(contact_id, properties=["firstname", "phone"])
    assert read.properties["firstname"] == "Ana"
    assert read.properties["phone"] is None
    assert set(read.properties) == {"firstname", "phone", "createdate", "lastmodifieddate", "hs_object_id"}


def test_read_by_email_id_property(hubspot_client: hubspot.Client) -> None:
    contact_id = _create(hubspot_client, email="ana@example.com")
    read = hubspot_client.crm.contacts.basic_api.get_by_id("ANA@example.com", id_property="email")
    assert read.id == contact_id


def test_creating_an_existing_email_is_hubspots_409_conflict(hubspot_client: hubspot.Client) -> None:
    first = _create(hubspot_client, email="ana@example.com")
    with pytest.raises(ApiException) as caught:
        _create(hubspot_client, email="ana@example.com", firstname="Again")
    assert caught.value.status == 409
    body = json.loads(caught.value.body)
    assert body["category"] == "CONFLICT"
    assert body["message"] == f"Contact already exists. Existing ID: {first}"
    assert body["status"] == "error"


def test_unknown_property_is_property_doesnt_exist(hubspot_client: hubspot.Client) -> None:
    with pytest.raises(ApiException) as caught:
        _create(hubspot_client, email="ana@example.com", favourite_colour="teal")
    assert caught.value.status == 400
    body = json.loads(caught.value.body)
    assert body["category"] == "VALIDATION_ERROR"
    assert body["errors"] == [
        {
            "message": 'Property "favourite_colour" does not exist',
            "code": "PROPERTY_DOESNT_EXIST",
            "context": {"propertyName": ["favourite_colour"]},
        }
    ]
    assert body["message"].startswith("Property values were not valid: [")


def test_invalid_enumeration_value_is_invalid_option(hubspot_client: hubspot.Client) -> None:
    with pytest.raises(ApiException) as caught:
        _create(hubspot_client, email="ana@example.com", hs_lead_status="HOT")
    error = json.loads(caught.value.body)["errors"][0]
    assert error["code"] == "INVALID_OPTION"
    assert error["message"].startswith('HOT was not one of the allowed options: [label: "New"\nvalue: "NEW"')


@pytest.mark.parametrize(
    "status",
    [
        "NEW",
        "OPEN",
        "IN_PROGRESS",
        "OPEN_DEAL",
        "UNQUALIFIED",
        "ATTEMPTED_TO_CONTACT",
        "CONNECTED",
        "BAD_TIMING",
    ],
)
def test_every_lead_status_is_accepted(hubspot_client: hubspot.Client, status: str) -> None:
    contact_id = _create(hubspot_client, email="ana@example.com", hs_lead_status=status)
    read = hubspot_client.crm.contacts.basic_api.get_by_id(contact_id, properties=["hs_lead_status"])
    assert read.properties["hs_lead_status"] == status


def test_unknown_owner_is_rejected_and_a_seeded_owner_accepted(hubspot_client: hubspot.Client) -> None:
    with pytest.raises(ApiException) as caught:
        _create(hubspot_client, email="ana@example.com", hubspot_owner_id="999")
    assert json.loads(caught.value.body)["errors"][0]["code"] == "INVALID_OWNER_ID"
    assert _create(hubspot_client, email="ana@example.com", hubspot_owner_id="70000102")


def test_update_stamps_lastmodifieddate_later_even_on_a_frozen_clock(hubspot_client: hubspot.Client) -> None:
    contact_id = _create(hubspot_client, email="ana@example.com")
    updated = hubspot_client.crm.contacts.basic_api.update(
        contact_id, SimplePublicObjectInput(properties={"phone": "+1 555 0100"})
    )
    assert updated.properties["lastmodifieddate"] == "2026-11-26T10:00:00.001Z"
    read = hubspot_client.crm.contacts.basic_api.get_by_id(contact_id, properties=["createdate"])
    assert read.properties["createdate"] == "2026-11-26T10:00:00.000Z"
    assert ISO_MS.match(read.properties["lastmodifieddate"])


def test_timestamps_follow_the_injected_clock(hubspot_client: hubspot.Client, hubspot_clock: ManualClock) -> None:
    contact_id = _create(hubspot_client, email="ana@example.com")
    hubspot_clock.advance(hours=2, milliseconds=250)
    hubspot_client.crm.contacts.basic_api.update(contact_id, SimplePublicObjectInput(properties={"firstname": "A"}))
    read = hubspot_client.crm.contacts.basic_api.get_by_id(contact_id)
    assert read.properties["lastmodifieddate"] == "2026-11-26T12:00:00.250Z"
    assert read.updated_at.isoformat() == "2026-11-26T12:00:00.250000+00:00"


def test_read_only_property_cannot_be_written(hubspot_client: hubspot.Client) -> None:
    with pytest.raises(ApiException) as caught:
        _create(hubspot_client, email="ana@example.com", lastmodifieddate="2020-01-01T00:00:00Z")
    assert json.loads(caught.value.body)["errors"][0]["code"] == "READ_ONLY_VALUE"


def test_archived_contact_is_gone(hubspot_client: hubspot.Client) -> None:
    contact_id = _create(hubspot_client, email="ana@example.com")
    hubspot_client.crm.contacts.basic_api.archive(contact_id)
    with pytest.raises(ApiException) as caught:
        hubspot_client.crm.contacts.basic_api.get_by_id(contact_id)
    assert caught.value.status == 404
    assert json.loads(caught.value.body)["category"] == "OBJECT_NOT_FOUND"
    archived = hubspot_client.crm.contacts.basic_api.get_by_id(contact_id, archived=True)
    assert archived.archived is True


def test_batch_create_then_batch_read_reports_missing_ids_with_207(hubspot_client: hubspot.Client) -> None:
    created = hubspot_client.crm.contacts.batch_api.create(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[{"properties": {"email": f"p{i}@example.com"}} for i in range(3)]
        )
    )
    assert created.status == "COMPLETE"
    ids = [r.id for r in created.results]
    read = hubspot_client.crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[{"id": i} for i in [*ids, "999999"]], properties=["email"], properties_with_history=[]
        )
    )
    assert type(read).__name__ == "BatchResponseSimplePublicObjectWithErrors"
    assert sorted(r.id for r in read.results) == sorted(ids)
    assert read.num_errors == 1
    assert read.errors[0].category == "OBJECT_NOT_FOUND"
    assert read.errors[0].context == {"ids": ["999999"]}


def test_batch_create_is_all_or_nothing(hubspot_client: hubspot.Client, hubspot_sandbox: HubSpotSandbox) -> None:
    with pytest.raises(ApiException) as caught:
        hubspot_client.crm.contacts.batch_api.create(
            BatchInputSimplePublicObjectBatchInputForCreate(
                inputs=[
                    {"properties": {"email": "same@example.com"}},
                    {"properties": {"email": "same@example.com"}},
                ]
            )
        )
    assert caught.value.status == 409
    assert hubspot_sandbox.store.records("contacts") == []


def test_batch_update_changes_every_input(hubspot_client: hubspot.Client) -> None:
    ids = [_create(hubspot_client, email=f"p{i}@example.com") for i in range(2)]
    updated = hubspot_client.crm.contacts.batch_api.update(
        BatchInputSimplePublicObjectBatchInput(inputs=[{"id": i, "properties": {"lastname": "Q"}} for i in ids])
    )
    assert [r.properties["lastname"] for r in updated.results] == ["Q", "Q"]


def test_batch_upsert_by_unique_property_tells_new_from_existing(hubspot_client: hubspot.Client) -> None:
    _unique_id_property(hubspot_client)

    def upsert(keys: list[str], first: str) -> dict[str, bool]:
        answer = hubspot_client.crm.contacts.batch_api.upsert(
            BatchInputSimplePublicObjectBatchInputUpsert(
                inputs=[
                    {
                        "idProperty": "nurturehub_id",
                        "id": k,
                        "properties": {"firstname": first, "email": f"{k}@x.org"},
                    }
                    for k in keys
                ]
            )
        )
        assert answer.status == "COMPLETE"
        return {r.properties["nurturehub_id"]: r.new for r in answer.results}

    assert upsert(["lead-1", "lead-2"], "A") == {"lead-1": True, "lead-2": True}
    assert upsert(["lead-2", "lead-3"], "B") == {"lead-2": False, "lead-3": True}
    read = hubspot_client.crm.contacts.basic_api.get_by_id("lead-2", id_property="nurturehub_id")
    assert read.properties["firstname"] == "B"


def test_batch_upsert_of_a_hundred_contacts_in_one_call(hubspot_client: hubspot.Client) -> None:
    _unique_id_property(hubspot_client)
    answer = hubspot_client.crm.contacts.batch_api.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[{"idProperty": "nurturehub_id", "id": f"n{i}", "properties": {}} for i in range(100)]
        )
    )
    assert len(answer.results) == 100


def test_batch_of_more_than_a_hundred_inputs_is_rejected(hubspot_client: hubspot.Client) -> None:
    _unique_id_property(hubspot_client)
    with pytest.raises(ApiException) as caught:
        hubspot_client.crm.contacts.batch_api.upsert(
            BatchInputSimplePublicObjectBatchInputUpsert(
                inputs=[{"idProperty": "nurturehub_id", "id": f"n{i}", "properties": {}} for i in range(101)]
            )
        )
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["category"] == "VALIDATION_ERROR"


def test_upsert_by_a_non_unique_property_is_hubspots_400(hubspot_client: hubspot.Client) -> None:
    with pytest.raises(ApiException) as caught:
        hubspot_client.crm.contacts.batch_api.upsert(
            BatchInputSimplePublicObjectBatchInputUpsert(
                inputs=[{"idProperty": "firstname", "id": "Ana", "properties": {}}]
            )
        )
    body = json.loads(caught.value.body)
    assert caught.value.status == 400
    assert (
        body["message"] == "Unable to perform update/upsert by non-unique 0-1 property firstname in portal ID 1234567"
    )


def test_upsert_by_email_is_allowed_for_contacts(hubspot_client: hubspot.Client) -> None:
    existing = _create(hubspot_client, email="ana@example.com")
    answer = hubspot_client.crm.contacts.batch_api.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[{"idProperty": "email", "id": "ana@example.com", "properties": {"firstname": "Ana"}}]
        )
    )
    assert [(r.id, r.new) for r in answer.results] == [(existing, False)]


def test_a_unique_value_cannot_be_taken_twice(hubspot_client: hubspot.Client) -> None:
    _unique_id_property(hubspot_client)
    _create(hubspot_client, email="a@example.com", nurturehub_id="lead-1")
    with pytest.raises(ApiException) as caught:
        _create(hubspot_client, email="b@example.com", nurturehub_id="lead-1")
    assert caught.value.status == 409
