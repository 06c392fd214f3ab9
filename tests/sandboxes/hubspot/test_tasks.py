"""Tasks and associations v4 through the real SDK: inline and v4 associations, completions, upsert."""

from __future__ import annotations

import json
from typing import Any

import hubspot
import pytest
from hubspot.crm.associations.v4 import AssociationSpec, BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactIn
from hubspot.crm.objects.tasks import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    PublicObjectSearchRequest,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.objects.tasks.exceptions import ApiException
from hubspot.crm.properties import PropertyCreate

from tests.fixtures.clock import ManualClock

TASK_TO_CONTACT = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204}


@pytest.fixture
def contact_id(hubspot_client: hubspot.Client) -> str:
    return str(hubspot_client.crm.contacts.basic_api.create(ContactIn(properties={"email": "ana@example.com"})).id)


def _task(client: hubspot.Client, contact: str | None = None, **properties: str) -> Any:
    values = {"hs_timestamp": "2026-11-27T15:00:00Z", "hs_task_subject": "Call back", **properties}
    associations = [{"to": {"id": contact}, "types": [TASK_TO_CONTACT]}] if contact else None
    return client.crm.objects.tasks.basic_api.create(
        SimplePublicObjectInputForCreate(properties=values, associations=associations)
    )


def test_task_with_inline_association_is_linked_both_ways(hubspot_client: hubspot.Client, contact_id: str) -> None:
    task = _task(hubspot_client, contact_id, hs_task_type="CALL", hs_task_priority="HIGH")
    assert task.properties["hs_timestamp"] == "2026-11-27T15:00:00.000Z"
    to_contacts = hubspot_client.crm.associations.v4.basic_api.get_page("tasks", task.id, "contacts")
    assert [(r.to_object_id, [(t.category, t.type_id) for t in r.association_types]) for r in to_contacts.results] == [
        (contact_id, [("HUBSPOT_DEFINED", 204)])
    ]
    to_tasks = hubspot_client.crm.associations.v4.basic_api.get_page("contacts", contact_id, "tasks")
    assert [(r.to_object_id, r.association_types[0].type_id) for r in to_tasks.results] == [(task.id, 203)]


def test_task_read_with_associations_uses_v3_type_names(hubspot_client: hubspot.Client, contact_id: str) -> None:
    task = _task(hubspot_client, contact_id)
    read = hubspot_client.crm.objects.tasks.basic_api.get_by_id(task.id, associations=["contacts"])
    assert read.associations["contacts"].results[0].id == contact_id
    assert read.associations["contacts"].results[0].type == "task_to_contact"


def test_task_needs_hs_timestamp(hubspot_client: hubspot.Client) -> None:
    with pytest.raises(ApiException) as caught:
        hubspot_client.crm.objects.tasks.basic_api.create(
            SimplePublicObjectInputForCreate(properties={"hs_task_subject": "No due date"})
        )
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["errors"][0]["context"] == {"propertyName": ["hs_timestamp"]}


def test_inline_association_to_a_missing_contact_is_rejected(hubspot_client: hubspot.Client) -> None:
    with pytest.raises(ApiException) as caught:
        _task(hubspot_client, "424242")
    assert caught.value.status == 400


def test_v4_default_association_then_batch_read_then_archive(hubspot_client: hubspot.Client, contact_id: str) -> None:
    task = _task(hubspot_client)
    made = hubspot_client.crm.associations.v4.basic_api.create_default("tasks", task.id, "contacts", contact_id)
    assert {(r._from.id, r.to.id, r.association_spec.association_type_id) for r in made.results} == {
        (task.id, contact_id, 204),
        (contact_id, task.id, 203),
    }
    batch = hubspot_client.crm.associations.v4.batch_api.get_page(
        "tasks", "contacts", BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": task.id}])
    )
    assert batch.results[0].to[0].to_object_id == contact_id
    hubspot_client.crm.associations.v4.basic_api.archive("tasks", task.id, "contacts", contact_id)
    again = hubspot_client.crm.associations.v4.batch_api.get_page(
        "tasks", "contacts", BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": task.id}])
    )
    assert again.results == []
    assert again.errors[0].category == "OBJECT_NOT_FOUND"


def test_v4_association_with_explicit_types(hubspot_client: hubspot.Client, contact_id: str) -> None:
    task = _task(hubspot_client)
    pair = hubspot_client.crm.associations.v4.basic_api.create(
        "tasks",
        task.id,
        "contacts",
        contact_id,
        [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=204)],
    )
    assert (pair.from_object_type_id, pair.to_object_type_id, pair.labels) == ("0-27", "0-1", [])
    assert (pair.from_object_id, pair.to_object_id) == (task.id, contact_id)


def test_completion_is_read_back_with_its_date(
    hubspot_client: hubspot.Client, contact_id: str, hubspot_clock: ManualClock
) -> None:
    task = _task(hubspot_client, contact_id, hs_task_status="NOT_STARTED")
    hubspot_clock.advance(hours=1)
    hubspot_client.crm.objects.tasks.basic_api.update(
        task.id, SimplePublicObjectInput(properties={"hs_task_status": "COMPLETED"})
    )
    done = hubspot_client.crm.objects.tasks.search_api.do_search(
        PublicObjectSearchRequest(
            filter_groups=[
                {
                    "filters": [
                        {"propertyName": "hs_task_status", "operator": "EQ", "value": "COMPLETED"},
                        {
                            "propertyName": "hs_lastmodifieddate",
                            "operator": "GTE",
                            "value": "2026-11-26T10:30:00Z",
                        },
                    ]
                }
            ],
            properties=["hs_task_status", "hs_task_completion_date"],
        )
    )
    assert done.total == 1
    assert done.results[0].properties["hs_task_completion_date"] == "2026-11-26T11:00:00.000Z"
    assert done.results[0].properties["hs_lastmodifieddate"] == "2026-11-26T11:00:00.000Z"


@pytest.mark.parametrize("status", ["NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"])
def test_task_statuses(hubspot_client: hubspot.Client, status: str) -> None:
    assert _task(hubspot_client, hs_task_status=status).properties["hs_task_status"] == status


def test_invalid_task_type_is_invalid_option(hubspot_client: hubspot.Client) -> None:
    with pytest.raises(ApiException) as caught:
        _task(hubspot_client, hs_task_type="MEETING")
    assert json.loads(caught.value.body)["errors"][0]["code"] == "INVALID_OPTION"


def test_tasks_upsert_by_a_unique_property_makes_creation_idempotent(hubspot_client: hubspot.Client) -> None:
    hubspot_client.crm.properties.core_api.create(
        "tasks",
        PropertyCreate(
            name="nurturehub_task_key", label="nurturehub task key", type="string", field_type="text",
            group_name="task", has_unique_value=True,
        ),
    )  # fmt: skip

    def upsert() -> Any:
        return hubspot_client.crm.objects.tasks.batch_api.upsert(
            BatchInputSimplePublicObjectBatchInputUpsert(
                inputs=[
                    {
                        "idProperty": "nurturehub_task_key",
                        "id": "lead-7:first-call",
                        "properties": {
                            "hs_timestamp": "2026-11-27T15:00:00Z",
                            "hs_task_subject": "First call",
                        },
                    }
                ]
            )
        )

    first, second = upsert(), upsert()
    assert first.results[0].new is True
    assert second.results[0].new is False
    assert first.results[0].id == second.results[0].id
