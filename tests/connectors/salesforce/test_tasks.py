"""Follow-up tasks on the sandbox: fields and owners, idempotence, cancelling, staff's completions
left alone, and call results read back in the hub's words."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from connectors.base import RecordWrite, TaskKind, TaskState, TaskWrite
from connectors.salesforce import SalesforceConnector
from nurture.errors import ConfigError
from tests.fixtures.salesforce_connector import lead_fields
from tests.fixtures.salesforce_sandbox import SalesforceOrg

Make = Callable[..., tuple[SalesforceConnector, SalesforceOrg]]
TASK_UPSERT = "/services/data/v59.0/composite/sobjects/Task/Nurture_Task_Key__c"
QUERY = "/services/data/v59.0/query"
DANA = "dana.whitfield@clinic.sandbox"
LUIS = "luis.ortega@clinic.sandbox"
# 20:30 in Austin on 1 December is 02:30 UTC on 2 December.
EVENING = datetime(2026, 12, 2, 2, 30, tzinfo=UTC)


def lead(crm: SalesforceConnector, n: int = 1) -> str:
    crm_id = crm.upsert([RecordWrite(external_id=f"nh_task{n:04d}", fields=lead_fields(n))])[0].crm_id
    assert crm_id is not None
    return crm_id


def task(lead_id: str, step: str = "day0_call", **kw: object) -> TaskWrite:
    values: dict[str, object] = {
        "key": f"nh_task0001:{step}",
        "lead_crm_id": lead_id,
        "subject": "Day 0 call — lead nh_task0001",
        "body": "Call within 15 minutes.",
        "kind": TaskKind.CALL,
        "due_at": EVENING,
        "owner_queue": "Front Desk",
    }
    values.update(kw)
    return TaskWrite(**values)  # type: ignore[arg-type]


def stored(org: SalesforceOrg, crm_id: str | None) -> dict[str, object]:
    assert crm_id is not None
    return dict(org.sf.Task.get(crm_id))


def user_id(org: SalesforceOrg, username: str) -> str:
    users = org.sf.query("SELECT Id, Username FROM User")["records"]
    return next(str(u["Id"]) for u in users if u["Username"] == username)


def test_a_call_task_is_written_with_its_owner_due_date_and_reminder(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector(
        task_owners={"Front Desk": DANA}, default_task_owner=LUIS, task_date_timezone="America/Chicago"
    )
    lead_id = lead(crm)
    outcomes = crm.upsert_tasks(
        [task(lead_id), task(lead_id, "day3_email", kind=TaskKind.EMAIL, owner_queue="Insurance Desk")]
    )
    call, email = (stored(org, o.crm_id) for o in outcomes)
    assert [o.created for o in outcomes] == [True, True]
    assert call["WhoId"] == lead_id
    assert (call["Status"], call["Priority"], call["TaskSubtype"]) == ("Not Started", "High", "Call")
    assert call["OwnerId"] == user_id(org, DANA)
    assert call["ActivityDate"] == "2026-12-01"  # the clinic's date, not UTC's
    assert (call["ReminderDateTime"], call["IsReminderSet"]) == ("2026-12-02T02:30:00.000+0000", True)
    assert call["Subject"] == "Day 0 call — lead nh_task0001"
    assert (email["TaskSubtype"], email["Priority"]) == ("Email", "Normal")
    assert email["OwnerId"] == user_id(org, LUIS)


def test_without_owners_the_integration_user_owns_the_task(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector()
    outcome = crm.upsert_tasks([task(lead(crm))])[0]
    assert stored(org, outcome.crm_id)["OwnerId"] == org.sandbox.user_id


def test_an_unknown_username_is_a_configuration_error(make_sf_connector: Make) -> None:
    crm, _ = make_sf_connector(task_owners={"Front Desk": "nobody@clinic.sandbox"})
    with pytest.raises(ConfigError, match=r"task_owners\.Front Desk"):
        crm.upsert_tasks([task(lead(crm))])


def test_upserting_the_same_key_again_updates_the_one_task(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector()
    lead_id = lead(crm)
    first = crm.upsert_tasks([task(lead_id)])[0]
    org.sf.Task.update(first.crm_id, {"Status": "In Progress"})
    later = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    second = crm.upsert_tasks([task(lead_id, due_at=later, subject="Day 0 call (moved)")])[0]
    assert (second.ok, second.created, second.crm_id) == (True, False, first.crm_id)
    now = stored(org, first.crm_id)
    assert (now["Subject"], now["ActivityDate"]) == ("Day 0 call (moved)", "2026-12-03")
    assert now["Status"] == "In Progress"  # staff's status is kept
    keys = [t.key for t in crm.read_task_changes(None)]
    assert keys == ["nh_task0001:day0_call"]


def test_cancelling_defers_the_task_and_reopening_undoes_it(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector()
    lead_id = lead(crm)
    created = crm.upsert_tasks([task(lead_id)])[0]
    crm.upsert_tasks([task(lead_id, state=TaskState.CANCELLED)])
    assert (stored(org, created.crm_id)["Status"], stored(org, created.crm_id)["IsReminderSet"]) == (
        "Deferred",
        False,
    )
    assert [t.state for t in crm.read_task_changes(None)] == [TaskState.CANCELLED]
    crm.upsert_tasks([task(lead_id)])
    assert stored(org, created.crm_id)["Status"] == "Not Started"


@pytest.mark.parametrize("state", [TaskState.OPEN, TaskState.CANCELLED])
def test_a_task_staff_completed_is_never_touched_again(make_sf_connector: Make, state: TaskState) -> None:
    crm, org = make_sf_connector()
    lead_id = lead(crm)
    created = crm.upsert_tasks([task(lead_id)])[0]
    org.sf.Task.update(created.crm_id, {"Status": "Completed", "CallDisposition": "Left VM"})
    before = stored(org, created.crm_id)
    again = crm.upsert_tasks([task(lead_id, state=state, subject="Rewritten"), task(lead_id, "day1_call")])
    assert (again[0].ok, again[0].created, again[0].crm_id) == (True, False, created.crm_id)
    assert again[1].created
    assert stored(org, created.crm_id) == before


def test_a_thousand_new_tasks_take_five_calls_and_no_lookup(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector(task_owners={"Front Desk": DANA})
    leads = crm.upsert([RecordWrite(external_id=f"nh_t{n:04d}", fields=lead_fields(n)) for n in range(1000)])
    tasks = [
        task(str(o.crm_id), key=f"nh_t{n:04d}:day0_call", subject=f"Day 0 call — lead nh_t{n:04d}")
        for n, o in enumerate(leads)
    ]
    org.sandbox.log.clear()
    outcomes = crm.upsert_tasks(tasks)
    assert all(o.ok and o.created for o in outcomes)
    assert org.sandbox.log.count("PATCH", TASK_UPSERT) == 5  # create-only: TaskSubtype, Status, owner
    assert org.sandbox.log.count("GET", QUERY) == 1  # resolving the owner's username, once
    assert len(org.sandbox.log.entries()) == 6
    org.sandbox.log.clear()
    crm.upsert_tasks(tasks)  # known to exist now: looked up (staff may have completed them), then updated
    assert (org.sandbox.log.count("PATCH", TASK_UPSERT), org.sandbox.log.count("GET", QUERY)) == (5, 5)


def test_a_new_process_never_reopens_a_task_it_did_not_write(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector()
    lead = str(crm.upsert([RecordWrite(external_id="nh_r0001", fields=lead_fields(1))])[0].crm_id)
    first = crm.upsert_tasks([task(lead, key="nh_r0001:day0_call"), task(lead, key="nh_r0001:day1_call")])
    sf = org.client()
    sf.Task.update(str(first[0].crm_id), {"Status": "Completed", "CallDisposition": "Reached"})
    restarted, _ = make_sf_connector(org=org)  # remembers nothing of the tasks the first one wrote
    org.sandbox.log.clear()
    again = restarted.upsert_tasks(
        [task(lead, key="nh_r0001:day0_call"), task(lead, key="nh_r0001:day1_call", subject="Day 1 — moved")]
    )
    assert [(o.ok, o.created, o.crm_id) for o in again] == [
        (True, False, first[0].crm_id),
        (True, False, first[1].crm_id),
    ]
    # create-only first (refused: TaskSubtype on an existing task), then the lookup and the update
    assert (org.sandbox.log.count("PATCH", TASK_UPSERT), org.sandbox.log.count("GET", QUERY)) == (2, 1)
    assert sf.Task.get(str(first[0].crm_id))["Status"] == "Completed"
    assert sf.Task.get(str(first[1].crm_id))["Subject"] == "Day 1 — moved"


@pytest.mark.parametrize(
    ("call_result", "outcome"),
    [
        ("No Answer", "no_answer"),
        ("Left VM", "left_voicemail"),
        ("Voicemail", "left_voicemail"),
        ("Spoke with patient", "reached"),
        ("Booked", "booked"),
        ("Scheduled", "booked"),
        ("Not interested", "declined"),
        ("Declined", "declined"),
        ("Wrong number", None),
        (None, None),
    ],
)
def test_call_results_are_read_back_in_the_hubs_words(
    make_sf_connector: Make, call_result: str | None, outcome: str | None
) -> None:
    crm, org = make_sf_connector()
    created = crm.upsert_tasks([task(lead(crm))])[0]
    org.sf.Task.update(created.crm_id, {"Status": "Completed", "CallDisposition": call_result})
    [change] = list(crm.read_task_changes(None))
    assert (change.state, change.outcome) == (TaskState.COMPLETED, outcome)
    assert change.completed_at == change.modified_at  # the sandbox's CompletedDateTime
    assert change.key == "nh_task0001:day0_call"


def test_tasks_staff_made_without_a_key_are_not_the_hubs(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector()
    lead_id = lead(crm)
    org.sf.Task.create({"WhoId": lead_id, "Subject": "Personal reminder"})
    crm.upsert_tasks([task(lead_id)])
    assert [t.key for t in crm.read_task_changes(None)] == ["nh_task0001:day0_call"]
