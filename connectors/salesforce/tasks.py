"""How the hub's follow-ups become Salesforce Tasks and come back, as pure functions.

- A new task gets its subtype (Call, Email, Task), status (Not Started, or Deferred when the hub
  cancels it), priority (High for calls) and owner; TaskSubtype can only be set on create, and the
  owner is set only on create so that staff can reassign a task without the hub taking it back.
- An existing open task keeps the status staff gave it (In Progress, Waiting on someone else …):
  the hub only sends Deferred to cancel it, or Not Started to reopen one it cancelled.
- A task staff completed is never written again (see :attr:`ExistingTask.done_by_staff`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from types import MappingProxyType
from typing import Any, Final

from connectors.base import TaskChange, TaskKind, TaskState, TaskWrite
from connectors.salesforce.soql import format_datetime, normalise_outcome, parse_datetime

__all__ = [
    "CANCELLED_STATUS",
    "COMPLETED_STATUS",
    "CREATE_ONLY",
    "OPEN_STATUS",
    "TASK_SUBTYPES",
    "ExistingTask",
    "task_change",
    "task_payload",
    "task_state",
]

OPEN_STATUS: Final = "Not Started"
COMPLETED_STATUS: Final = "Completed"
CANCELLED_STATUS: Final = "Deferred"
#: Task fields Salesforce lets the API set on create only: an upsert carrying one is refused
#: (``INVALID_FIELD_FOR_INSERT_UPDATE``) when its key matches an existing task.
CREATE_ONLY: Final = frozenset({"TaskSubtype"})
TASK_SUBTYPES: Final[Mapping[TaskKind, str]] = MappingProxyType(
    {TaskKind.CALL: "Call", TaskKind.EMAIL: "Email", TaskKind.SMS: "Task", TaskKind.TODO: "Task"}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExistingTask:
    """A task already holding a hub key, as the pre-write lookup found it.

    Attributes:
        crm_id: its Task Id.
        status: its Status.
        closed: its IsClosed (true for Completed, and for any custom closed status).
    """

    crm_id: str
    status: str
    closed: bool

    @property
    def done_by_staff(self) -> bool:
        """Staff closed it: Completed, or another closed status that is not the hub's Deferred."""
        return self.status == COMPLETED_STATUS or (self.closed and self.status != CANCELLED_STATUS)


def task_state(status: str, closed: bool) -> TaskState:
    """The hub's view of a Task's Status: Deferred is cancelled, Completed (or any other closed
    status) is completed, everything else is open."""
    if status == CANCELLED_STATUS:
        return TaskState.CANCELLED
    if status == COMPLETED_STATUS or closed:
        return TaskState.COMPLETED
    return TaskState.OPEN


def task_payload(
    task: TaskWrite,
    found: ExistingTask | None,
    *,
    key_field: str,
    owner_id: str | None,
    date_zone: tzinfo | None,
    link_field: str = "WhoId",
) -> dict[str, Any]:
    """The sObject Collections record for ``task``.

    Args:
        task: what the hub wants.
        found: the task as it is in Salesforce, or None when it is new.
        key_field: the Task external-id field.
        owner_id: the User (or Group) Id to own a new task; None leaves the integration user.
        date_zone: the zone whose calendar date becomes ``ActivityDate`` (None: ``due_at``'s own).
        link_field: how the task points at its lead: ``WhoId`` (a Lead or Contact) or ``WhatId``
            (a Person Account).
    """
    cancelled = task.state is TaskState.CANCELLED
    due_local = task.due_at.astimezone(date_zone) if date_zone is not None else task.due_at
    payload: dict[str, Any] = {
        "attributes": {"type": "Task"},
        key_field: task.key,
        link_field: task.lead_crm_id,
        "Subject": task.subject,
        "Description": task.body,
        "ActivityDate": due_local.date().isoformat(),
        "ReminderDateTime": format_datetime(task.due_at),
        "IsReminderSet": not cancelled,
        "Priority": "High" if task.kind is TaskKind.CALL else "Normal",
    }
    if found is None:
        payload["TaskSubtype"] = TASK_SUBTYPES[task.kind]
        payload["Status"] = CANCELLED_STATUS if cancelled else OPEN_STATUS
        if owner_id:
            payload["OwnerId"] = owner_id
    elif cancelled:
        payload["Status"] = CANCELLED_STATUS
    elif found.status == CANCELLED_STATUS:
        payload["Status"] = OPEN_STATUS
    return payload


def task_change(record: Mapping[str, Any], *, key_field: str) -> TaskChange:
    """A :class:`TaskChange` from a SOQL row (any key case) with Id, the key field, WhoId (or
    WhatId, for Person Accounts), Status, IsClosed, CallDisposition, CompletedDateTime and
    SystemModstamp."""
    values = {k.lower(): v for k, v in record.items()}
    stamp = parse_datetime(str(values["systemmodstamp"]))
    state = task_state(str(values.get("status") or ""), bool(values.get("isclosed")))
    completed_at: datetime | None = None
    if state is TaskState.COMPLETED:
        done = values.get("completeddatetime")
        completed_at = parse_datetime(str(done)) if done else stamp
    key = values.get(key_field.lower())
    who = values.get("whoid") or values.get("whatid")
    return TaskChange(
        key=str(key) if key else None,
        crm_id=str(values["id"]),
        lead_crm_id=str(who) if who else None,
        state=state,
        outcome=normalise_outcome(values.get("calldisposition")),
        completed_at=completed_at,
        modified_at=stamp,
    )
