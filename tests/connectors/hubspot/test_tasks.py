"""Follow-up tasks: idempotent by key in both modes, linked to their contact, cancelled as
DEFERRED, never reopened once completed, read back with staff's outcome."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import hubspot
import pytest
from hubspot.crm.objects.tasks import SimplePublicObjectInput, SimplePublicObjectInputForCreate

from connectors.base import RecordWrite, TaskKind, TaskState, TaskWrite
from connectors.hubspot import HubSpotConnector, TaskIdempotency
from nurture.errors import ConfigError, RetryLater
from sandboxes.hubspot import HubSpotSandbox
from sandboxes.hubspot.model import HubSpotError
from tests.fixtures.hubspot_connector import FAST, HubSpotStaff, MakeConnector

BOTH_MODES = pytest.mark.parametrize(
    "hubspot_unique_objects", [("contacts", "tasks"), ("contacts",)], ids=["upsert", "search"]
)
DUE = datetime(2026, 12, 1, 16, 15, tzinfo=UTC)


def task(lead: str, n: int = 0, step: str = "day0_call", **kw: Any) -> TaskWrite:
    values: dict[str, Any] = {
        "key": f"nh_{n:06d}:{step}",
        "lead_crm_id": lead,
        "subject": f"Day 0 call — lead nh_{n:06d}",
        "body": "Call within 15 minutes.",
        "kind": TaskKind.CALL,
        "due_at": DUE,
        "owner_queue": "Front Desk",
    }
    values.update(kw)
    return TaskWrite(**values)


def leads(connector: HubSpotConnector, count: int) -> list[str]:
    made = connector.upsert(
        [RecordWrite(external_id=f"nh_{n:06d}", fields={"lastname": f"L{n}"}) for n in range(count)]
    )
    return [str(o.crm_id) for o in made]


def stored_task(sandbox: HubSpotSandbox, crm_id: str | None) -> dict[str, str]:
    found = sandbox.store.get("tasks", int(crm_id or 0))
    assert found is not None
    return dict(found.properties)


def calls(sandbox: HubSpotSandbox) -> Counter[str]:
    return Counter(f"{e.method} {e.path}" for e in sandbox.log.entries())


def test_a_thousand_new_tasks_take_ten_creates_with_their_associations(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox, hubspot_client: hubspot.Client
) -> None:
    contacts = leads(hubspot_connector, 1000)
    tasks = [task(contacts[n], n) for n in range(1000)]
    hubspot_sandbox.log.clear()
    first = hubspot_connector.upsert_tasks(tasks)
    assert all(o.ok and o.created for o in first)
    assert calls(hubspot_sandbox) == {
        "POST /crm/v3/objects/tasks/batch/create": 10,  # each task with its contact association inline
        "GET /crm/v3/owners/": 1,  # the owner emails, once
    }
    links = hubspot_client.crm.associations.v4.basic_api.get_page("tasks", first[999].crm_id, "contacts")
    assert [r.to_object_id for r in links.results] == [contacts[999]]
    hubspot_sandbox.log.clear()
    again = hubspot_connector.upsert_tasks(tasks)  # known to exist: read their status, upsert, link
    assert [o.crm_id for o in again] == [o.crm_id for o in first]
    assert not any(o.created for o in again)
    assert calls(hubspot_sandbox) == {
        "POST /crm/v3/objects/contacts/batch/read": 10,
        "POST /crm/v3/objects/tasks/batch/read": 10,
        "POST /crm/v3/objects/tasks/batch/upsert": 10,
        "POST /crm/v4/associations/tasks/contacts/batch/associate/default": 10,
    }
    assert len(hubspot_sandbox.store.records("tasks")) == 1000


def test_a_new_process_never_duplicates_or_reopens_a_task_it_did_not_write(
    hubspot_connector: HubSpotConnector,
    hubspot_sandbox: HubSpotSandbox,
    hubspot_staff: HubSpotStaff,
    make_hubspot: MakeConnector,
) -> None:
    contacts = leads(hubspot_connector, 3)
    first = hubspot_connector.upsert_tasks([task(contacts[n], n) for n in range(3)])
    hubspot_staff.complete_task(str(first[1].crm_id), "reached")
    restarted = make_hubspot(**FAST)  # knows nothing of what the first one wrote
    hubspot_sandbox.log.clear()
    again = restarted.upsert_tasks([task(contacts[n], n, due_at=DUE + timedelta(hours=2)) for n in range(3)])
    assert [(o.ok, o.created, o.crm_id) for o in again] == [(True, False, o.crm_id) for o in first]
    # the create is refused for all three (their keys exist: 207), then the careful path
    assert hubspot_sandbox.log.count("POST", "/crm/v3/objects/tasks/batch/create", 207) == 1
    assert len(hubspot_sandbox.store.records("tasks")) == 3
    assert stored_task(hubspot_sandbox, first[1].crm_id)["hs_task_status"] == "COMPLETED"
    assert stored_task(hubspot_sandbox, first[0].crm_id)["hs_timestamp"] == "2026-12-01T18:15:00.000Z"


@pytest.mark.parametrize("hubspot_unique_objects", [("contacts",)])
def test_a_thousand_tasks_without_a_unique_key_take_ten_searches(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox
) -> None:
    assert hubspot_connector.task_idempotency is TaskIdempotency.SEARCH
    contacts = leads(hubspot_connector, 1000)
    tasks = [task(contacts[n], n) for n in range(1000)]
    hubspot_sandbox.log.clear()
    first = hubspot_connector.upsert_tasks(tasks)
    assert all(o.ok and o.created for o in first)
    assert calls(hubspot_sandbox) == {
        "POST /crm/v3/objects/contacts/batch/read": 10,
        "POST /crm/v3/objects/tasks/search": 10,
        "POST /crm/v3/objects/tasks/batch/create": 10,  # associations inline
        "GET /crm/v3/owners/": 1,
    }
    hubspot_sandbox.log.clear()
    again = hubspot_connector.upsert_tasks([task(contacts[n], n, due_at=DUE + timedelta(hours=1)) for n in range(1000)])
    assert [o.crm_id for o in again] == [o.crm_id for o in first]
    assert calls(hubspot_sandbox) == {
        "POST /crm/v3/objects/contacts/batch/read": 10,
        "POST /crm/v3/objects/tasks/search": 10,
        "POST /crm/v3/objects/tasks/batch/update": 10,
    }
    assert len(hubspot_sandbox.store.records("tasks")) == 1000


@BOTH_MODES
def test_tasks_are_idempotent_by_key_and_linked_to_their_contact(
    hubspot_connector: HubSpotConnector, hubspot_client: hubspot.Client
) -> None:
    [contact] = leads(hubspot_connector, 1)
    first = hubspot_connector.upsert_tasks([task(contact)])[0]
    second = hubspot_connector.upsert_tasks([task(contact, due_at=DUE + timedelta(days=1))])[0]
    assert (first.created, second.created, second.crm_id) == (True, False, first.crm_id)
    links = hubspot_client.crm.associations.v4.basic_api.get_page("tasks", first.crm_id, "contacts")
    assert [(r.to_object_id, [t.type_id for t in r.association_types]) for r in links.results] == [(contact, [204])]
    [change] = hubspot_connector.read_task_changes(None)
    assert (change.key, change.lead_crm_id, change.state) == ("nh_000000:day0_call", contact, TaskState.OPEN)


@pytest.mark.parametrize("hubspot_unique_objects", [("contacts",)])
def test_without_a_unique_key_a_task_the_search_index_does_not_show_yet_is_not_duplicated(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    [contact] = leads(hubspot_connector, 1)
    first = hubspot_connector.upsert_tasks([task(contact)])[0]
    search = hubspot_sandbox.crm.search

    def lagging(ot: Any, body: Any) -> dict[str, Any]:  # HubSpot's index lags its writes by seconds
        found = search(ot, body)
        return {**found, "total": 0, "results": []} if ot.name == "tasks" else found

    monkeypatch.setattr(hubspot_sandbox.crm, "search", lagging)
    second = hubspot_connector.upsert_tasks([task(contact, subject="Day 0 call — rescheduled")])[0]
    assert (second.ok, second.created, second.crm_id) == (True, False, first.crm_id)
    assert len(hubspot_sandbox.store.records("tasks")) == 1


@BOTH_MODES
def test_types_priority_owner_and_due_time_are_hubspots(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox
) -> None:
    [contact] = leads(hubspot_connector, 1)
    outcomes = hubspot_connector.upsert_tasks([
        task(contact, step="day0_call"),
        task(contact, step="day0_sms", kind=TaskKind.SMS, owner_queue="Clinical"),
        task(contact, step="day3_email", kind=TaskKind.EMAIL, owner_queue="Unmapped queue"),
    ])  # fmt: skip
    call, sms, email = (stored_task(hubspot_sandbox, o.crm_id) for o in outcomes)
    assert (call["hs_task_type"], call["hs_task_priority"], call["hubspot_owner_id"]) == (
        "CALL",
        "HIGH",
        "70000101",
    )
    assert (sms["hs_task_type"], sms["hs_task_priority"], sms["hubspot_owner_id"]) == (
        "TODO",
        "MEDIUM",
        "70000102",
    )
    assert (email["hs_task_type"], "hubspot_owner_id" in email) == ("EMAIL", False)
    assert call["hs_timestamp"] == "2026-12-01T16:15:00.000Z"
    assert call["hs_task_status"] == "NOT_STARTED"
    assert call["nurturehub_task_key"] == "nh_000000:day0_call"


@BOTH_MODES
def test_cancelled_is_deferred_and_reopening_starts_it_again(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox
) -> None:
    [contact] = leads(hubspot_connector, 1)
    made = hubspot_connector.upsert_tasks([task(contact, state=TaskState.CANCELLED)])[0]
    assert stored_task(hubspot_sandbox, made.crm_id)["hs_task_status"] == "DEFERRED"
    hubspot_connector.upsert_tasks([task(contact)])
    assert stored_task(hubspot_sandbox, made.crm_id)["hs_task_status"] == "NOT_STARTED"
    hubspot_connector.upsert_tasks([task(contact, state=TaskState.CANCELLED)])
    assert [c.state for c in hubspot_connector.read_task_changes(None)] == [TaskState.CANCELLED]


@BOTH_MODES
def test_a_completed_task_is_never_reopened_or_changed(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox, hubspot_staff: HubSpotStaff
) -> None:
    [contact] = leads(hubspot_connector, 1)
    made = hubspot_connector.upsert_tasks([task(contact)])[0]
    hubspot_staff.complete_task(str(made.crm_id), "reached")
    before = stored_task(hubspot_sandbox, made.crm_id)
    for state in (TaskState.OPEN, TaskState.CANCELLED):
        again = hubspot_connector.upsert_tasks([task(contact, state=state, due_at=DUE + timedelta(days=2))])[0]
        assert (again.ok, again.created, again.crm_id) == (True, False, made.crm_id)
    assert stored_task(hubspot_sandbox, made.crm_id) == before
    [change] = hubspot_connector.read_task_changes(None)
    assert (change.state, change.outcome) == (TaskState.COMPLETED, "reached")
    assert change.completed_at == datetime.fromisoformat(before["hs_task_completion_date"])


@BOTH_MODES
def test_staffs_in_progress_status_is_left_alone(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox, hubspot_client: hubspot.Client
) -> None:
    [contact] = leads(hubspot_connector, 1)
    made = hubspot_connector.upsert_tasks([task(contact)])[0]
    hubspot_client.crm.objects.tasks.basic_api.update(
        made.crm_id, SimplePublicObjectInput(properties={"hs_task_status": "IN_PROGRESS"})
    )
    hubspot_connector.upsert_tasks([task(contact, due_at=DUE + timedelta(hours=3))])
    updated = stored_task(hubspot_sandbox, made.crm_id)
    assert (updated["hs_task_status"], updated["hs_timestamp"]) == ("IN_PROGRESS", "2026-12-01T19:15:00.000Z")


@BOTH_MODES
def test_a_task_hubspot_refuses_fails_alone(make_hubspot: MakeConnector, hubspot_sandbox: HubSpotSandbox) -> None:
    connector = make_hubspot(owners={"Front Desk": "70000101", "Gone": "99999999"}, **FAST)
    connector.ensure_schema()
    contacts = leads(connector, 3)
    outcomes = connector.upsert_tasks(
        [task(c, n, owner_queue="Gone" if n == 1 else "Front Desk") for n, c in enumerate(contacts)]
    )
    assert [o.ok for o in outcomes] == [True, False, True]
    assert (outcomes[1].code, outcomes[1].field) == ("INVALID_OWNER_ID", "hubspot_owner_id")
    assert len(hubspot_sandbox.store.records("tasks")) == 2


def test_an_owner_email_hubspot_does_not_know_is_a_config_error(make_hubspot: MakeConnector) -> None:
    connector = make_hubspot(owners={"Front Desk": "nobody@clinic.example"}, **FAST)
    connector.ensure_schema()
    [contact] = leads(connector, 1)
    with pytest.raises(ConfigError, match=r"owners\.Front Desk"):
        connector.upsert_tasks([task(contact)])


def test_only_the_hubs_tasks_are_read_back(
    hubspot_connector: HubSpotConnector, hubspot_client: hubspot.Client, hubspot_staff: HubSpotStaff
) -> None:
    [contact] = leads(hubspot_connector, 1)
    hubspot_client.crm.objects.tasks.basic_api.create(
        SimplePublicObjectInputForCreate(
            properties={"hs_timestamp": "2026-12-02T10:00:00Z", "hs_task_subject": "Staff's own"}
        )
    )
    ours = hubspot_connector.upsert_tasks([task(contact, n) for n in range(3)])
    hubspot_staff.complete_task(str(ours[1].crm_id), "left_voicemail")
    changes = list(hubspot_connector.read_task_changes(None))
    assert [c.crm_id for c in changes] == [ours[0].crm_id, ours[2].crm_id, ours[1].crm_id]  # oldest first
    assert [c.outcome for c in changes] == [None, None, "left_voicemail"]
    newest = changes[-1].modified_at
    assert [c.crm_id for c in hubspot_connector.read_task_changes(newest)] == [ours[1].crm_id]


@pytest.mark.parametrize("hubspot_unique_objects", [("contacts",)])
def test_without_a_unique_key_a_create_that_failed_after_hubspot_made_it_is_not_repeated(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    [contact] = leads(hubspot_connector, 1)
    create = hubspot_sandbox._h_batch_create

    def made_then_lost(request: Any, **kw: Any) -> Any:  # the gateway fails after HubSpot committed
        create(request, **kw)
        raise HubSpotError.of(502, "INTERNAL_ERROR", "Bad Gateway")

    monkeypatch.setattr(hubspot_sandbox, "_h_batch_create", made_then_lost)
    hubspot_sandbox.log.clear()
    with pytest.raises(RetryLater):
        hubspot_connector.upsert_tasks([task(contact)])
    assert hubspot_sandbox.log.count("POST", "/crm/v3/objects/tasks/batch/create") == 1  # not retried in place
    monkeypatch.undo()
    retried = hubspot_connector.upsert_tasks([task(contact)])[0]  # the outbox's retry, later
    assert (retried.ok, retried.created) == (True, False)
    assert len(hubspot_sandbox.store.records("tasks")) == 1
