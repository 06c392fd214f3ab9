"""One contract, every CRM connector: the in-memory fake, Salesforce (leads as Leads, and as Person
Accounts) and HubSpot (on the sandboxes, through the real SDKs). Each implementation's fixture
returns a :class:`CrmUnderTest`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import CrmConnector, RecordWrite, TaskKind, TaskState, TaskWrite
from tests.connectors.under_test import CrmUnderTest

IMPLEMENTATIONS = ["fake_crm", "salesforce_crm", "salesforce_person_crm", "hubspot_crm"]


@pytest.fixture(params=IMPLEMENTATIONS)
def crm(request: pytest.FixtureRequest) -> CrmUnderTest:
    under_test: CrmUnderTest = request.getfixturevalue(request.param)
    return under_test


def write(crm: CrmUnderTest, n: int, **extra: object) -> RecordWrite:
    return RecordWrite(external_id=f"nh_contract{n:04d}", fields={**crm.record(n), **extra})


def task(lead_crm_id: str, key: str = "nh_contract0001:day0_call", **kw: object) -> TaskWrite:
    values: dict[str, object] = {
        "key": key,
        "lead_crm_id": lead_crm_id,
        "subject": "Day 0 call — lead nh_contract0001",
        "body": "Call within 15 minutes. Script: first_response.",
        "kind": TaskKind.CALL,
        "due_at": datetime(2026, 12, 1, 16, 15, tzinfo=UTC),
        "owner_queue": "Front Desk",
    }
    values.update(kw)
    return TaskWrite(**values)  # type: ignore[arg-type]


def test_it_is_a_connector(crm: CrmUnderTest) -> None:
    assert isinstance(crm.connector, CrmConnector)
    assert crm.connector.max_batch >= 1


def test_check_reports_a_working_connection(crm: CrmUnderTest) -> None:
    status = crm.connector.check()
    assert status.ok, status.detail


def test_describe_lists_the_external_id_and_picklists(crm: CrmUnderTest) -> None:
    fields = crm.connector.describe(crm.connector.lead_object)
    ext = fields[crm.connector.external_id_field]
    assert ext.unique
    assert ext.writable
    picklist = fields[crm.picklist_field]
    assert picklist.picklist is not None
    assert crm.good_value in picklist.picklist
    assert crm.bad_value not in picklist.picklist


def test_upsert_creates_then_updates_by_external_id(crm: CrmUnderTest) -> None:
    first = crm.connector.upsert([write(crm, 1), write(crm, 2)])
    assert [(o.key, o.ok, o.created) for o in first] == [
        ("nh_contract0001", True, True),
        ("nh_contract0002", True, True),
    ]
    again = crm.connector.upsert([write(crm, 1, **{crm.name_field: "Updated"})])
    assert (again[0].ok, again[0].created, again[0].crm_id) == (True, False, first[0].crm_id)
    crm.settle()
    changes = {c.external_id: c for c in crm.connector.read_changes(None, [crm.name_field])}
    assert changes["nh_contract0001"].fields[crm.name_field] == "Updated"
    assert changes["nh_contract0001"].crm_id == first[0].crm_id


def test_a_batch_larger_than_one_call_is_split(crm: CrmUnderTest) -> None:
    size = crm.connector.max_batch + 3
    outcomes = crm.connector.upsert([write(crm, n) for n in range(size)])
    assert len(outcomes) == size
    assert all(o.ok for o in outcomes)
    assert [o.key for o in outcomes] == [f"nh_contract{n:04d}" for n in range(size)]


def test_one_bad_record_does_not_fail_its_batch(crm: CrmUnderTest) -> None:
    outcomes = crm.connector.upsert(
        [write(crm, 1), write(crm, 2, **{crm.picklist_field: crm.bad_value}), write(crm, 3)]
    )
    assert [o.ok for o in outcomes] == [True, False, True]
    bad = outcomes[1]
    assert bad.key == "nh_contract0002"
    assert bad.code
    assert bad.field == crm.picklist_field
    assert not bad.retriable


def test_changes_come_oldest_first_and_since_a_cursor(crm: CrmUnderTest) -> None:
    crm.connector.upsert([write(crm, 1)])
    crm.connector.upsert([write(crm, 2)])
    crm.settle()
    changes = list(crm.connector.read_changes(None, [crm.name_field]))
    assert [c.external_id for c in changes][-2:] == ["nh_contract0001", "nh_contract0002"]
    stamps = [c.modified_at for c in changes]
    assert stamps == sorted(stamps)
    newest = changes[-1].modified_at
    since = list(crm.connector.read_changes(newest, [crm.name_field]))
    assert [c.external_id for c in since] == ["nh_contract0002"]


def test_a_cursor_in_the_future_returns_nothing(crm: CrmUnderTest) -> None:
    crm.connector.upsert([write(crm, 1)])
    crm.settle()
    future = datetime.now(UTC) + timedelta(days=3650)
    assert list(crm.connector.read_changes(future, [crm.name_field])) == []


def test_a_staff_edit_is_read_back(crm: CrmUnderTest) -> None:
    crm_id = crm.connector.upsert([write(crm, 1)])[0].crm_id
    assert crm_id is not None
    crm.settle()
    before = max(c.modified_at for c in crm.connector.read_changes(None, [crm.name_field]))
    crm.staff.edit(crm_id, {crm.name_field: "Edited in the CRM"})
    crm.settle()
    changes = list(crm.connector.read_changes(before, [crm.name_field]))
    assert any(c.crm_id == crm_id and c.fields[crm.name_field] == "Edited in the CRM" for c in changes)


def test_tasks_are_idempotent_by_key(crm: CrmUnderTest) -> None:
    lead = crm.connector.upsert([write(crm, 1)])[0].crm_id
    assert lead is not None
    first = crm.connector.upsert_tasks([task(lead)])
    second = crm.connector.upsert_tasks([task(lead, due_at=datetime(2026, 12, 1, 17, 0, tzinfo=UTC))])
    assert first[0].ok
    assert first[0].created
    assert (second[0].ok, second[0].created, second[0].crm_id) == (True, False, first[0].crm_id)
    crm.settle()
    ours = [t for t in crm.connector.read_task_changes(None) if t.key == "nh_contract0001:day0_call"]
    assert len(ours) == 1
    assert ours[0].state is TaskState.OPEN
    assert ours[0].lead_crm_id == lead


def test_a_task_for_a_missing_lead_fails_alone(crm: CrmUnderTest) -> None:
    lead = crm.connector.upsert([write(crm, 1)])[0].crm_id
    assert lead is not None
    missing = crm.connector.upsert([write(crm, 2)])[0].crm_id
    assert missing is not None
    crm.staff.delete(missing)
    outcomes = crm.connector.upsert_tasks([task(missing, key="nh_contract0002:day0_call"), task(lead)])
    assert [o.ok for o in outcomes] == [False, True]


def test_a_completed_task_is_read_back_with_its_outcome(crm: CrmUnderTest) -> None:
    lead = crm.connector.upsert([write(crm, 1)])[0].crm_id
    assert lead is not None
    created = crm.connector.upsert_tasks([task(lead)])[0]
    assert created.crm_id is not None
    crm.staff.complete_task(created.crm_id, "no_answer")
    crm.settle()
    ours = [t for t in crm.connector.read_task_changes(None) if t.key == "nh_contract0001:day0_call"]
    assert ours[-1].state is TaskState.COMPLETED
    assert ours[-1].outcome == "no_answer"
    assert ours[-1].completed_at is not None


def test_the_hub_cancels_but_never_reopens_a_completed_task(crm: CrmUnderTest) -> None:
    lead = crm.connector.upsert([write(crm, 1)])[0].crm_id
    assert lead is not None
    other = crm.connector.upsert_tasks([task(lead, key="nh_contract0001:day1_call")])[0]
    crm.connector.upsert_tasks([task(lead, key="nh_contract0001:day1_call", state=TaskState.CANCELLED)])
    crm.settle()
    states = {t.key: t.state for t in crm.connector.read_task_changes(None)}
    assert states["nh_contract0001:day1_call"] is TaskState.CANCELLED
    assert other.ok


def test_existing_notices_deleted_records(crm: CrmUnderTest) -> None:
    ids = [o.crm_id for o in crm.connector.upsert([write(crm, 1), write(crm, 2)])]
    assert all(ids)
    crm.staff.delete(str(ids[1]))
    assert crm.connector.existing([str(i) for i in ids]) == {ids[0]}


def test_link_puts_the_hubs_id_on_a_record_made_in_the_crm(crm: CrmUnderTest) -> None:
    made = crm.connector.upsert([write(crm, 1)])[0].crm_id
    assert made is not None
    crm.staff.delete(made)
    # A record made by staff in the CRM (through the CRM's own API), without the hub's id:
    created = crm.connector.upsert([write(crm, 2)])[0].crm_id
    assert created is not None
    outcomes = crm.connector.link([(created, "nh_linked0001"), (made, "nh_linked0002")])
    assert [(o.key, o.ok) for o in outcomes] == [("nh_linked0001", True), ("nh_linked0002", False)]
    again = crm.connector.upsert([RecordWrite(external_id="nh_linked0001", fields=crm.record(9))])
    assert (again[0].created, again[0].crm_id) == (False, created)
