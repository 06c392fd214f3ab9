"""An in-memory CRM that honours the connector protocol: what the sync engine's unit tests and the
contract suite run against. It validates picklists like a strict CRM, keeps last-modified stamps
strictly increasing, and lets tests act as staff (edit a record, complete a task, delete)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import (
    Change,
    ConnectionStatus,
    FieldInfo,
    RecordWrite,
    TaskChange,
    TaskState,
    TaskWrite,
    WriteOutcome,
)

__all__ = ["FakeCrm"]


class FakeCrm:
    """A CRM in memory.

    Args:
        system: the destination name it answers to.
        fields: the lead object's fields (picklists are enforced when restricted).
        clock: where "now" comes from (stamps never go backwards, and never repeat).
        max_batch: most records an upsert call takes.
    """

    lead_object = "Lead"
    external_id_field = "Nurture_Id__c"

    def __init__(
        self,
        *,
        system: str = "fake",
        fields: Mapping[str, FieldInfo] | None = None,
        clock: Callable[[], datetime] | None = None,
        max_batch: int = 200,
    ) -> None:
        self.system = system
        self.max_batch = max_batch
        self.fields: dict[str, FieldInfo] = dict(fields or {})
        self._clock = clock or (lambda: datetime.now(UTC))
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._last = datetime.min.replace(tzinfo=UTC)
        self.records: dict[str, dict[str, Any]] = {}
        self.modified: dict[str, datetime] = {}
        self.tasks: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []

    @property
    def requests_sent(self) -> int:
        """Every protocol call counts as one request."""
        return len(self.calls)

    # --- the protocol -------------------------------------------------------------------------

    def check(self) -> ConnectionStatus:
        self.calls.append("check")
        return ConnectionStatus(ok=True, detail=f"in-memory CRM {self.system!r}", api_used=len(self.calls))

    def describe(self, object_name: str) -> Mapping[str, FieldInfo]:
        self.calls.append(f"describe:{object_name}")
        if object_name != self.lead_object:
            from nurture.errors import ConfigError

            raise ConfigError([f"object {object_name!r} does not exist in {self.system}"], source=self.system)
        return dict(self.fields)

    def upsert(self, records: Sequence[RecordWrite]) -> list[WriteOutcome]:
        outcomes: list[WriteOutcome] = []
        for start in range(0, len(records), self.max_batch):
            self.calls.append("upsert")
            for record in records[start : start + self.max_batch]:
                outcomes.append(self._upsert_one(record))
        return outcomes

    def read_changes(self, since: datetime | None, fields: Sequence[str]) -> Iterator[Change]:
        self.calls.append("read_changes")
        with self._lock:
            rows = sorted((stamp, crm_id) for crm_id, stamp in self.modified.items() if since is None or stamp >= since)
            snapshot = [(crm_id, stamp, dict(self.records[crm_id])) for stamp, crm_id in rows]
        for crm_id, stamp, record in snapshot:
            yield Change(
                crm_id=crm_id,
                external_id=record.get(self.external_id_field),
                modified_at=stamp,
                fields={name: record.get(name) for name in fields},
            )

    def upsert_tasks(self, tasks: Sequence[TaskWrite]) -> list[WriteOutcome]:
        self.calls.append("upsert_tasks")
        outcomes = []
        with self._lock:
            for task in tasks:
                if task.lead_crm_id not in self.records:
                    outcomes.append(
                        WriteOutcome(
                            key=task.key,
                            ok=False,
                            code="INVALID_CROSS_REFERENCE_KEY",
                            field="WhoId",
                            message="the lead does not exist",
                        )
                    )
                    continue
                existing = self.tasks.get(task.key)
                created = existing is None
                crm_id = existing["crm_id"] if existing else f"T{next(self._ids):06d}"
                state = task.state
                if existing is not None and existing["state"] is TaskState.COMPLETED:
                    state = TaskState.COMPLETED  # staff's completion is never undone by the hub
                self.tasks[task.key] = {
                    "crm_id": crm_id,
                    "lead_crm_id": task.lead_crm_id,
                    "subject": task.subject,
                    "body": task.body,
                    "kind": task.kind,
                    "due_at": task.due_at,
                    "owner_queue": task.owner_queue,
                    "state": state,
                    "outcome": existing["outcome"] if existing else None,
                    "completed_at": existing["completed_at"] if existing else None,
                    "modified_at": self._stamp(),
                }
                outcomes.append(WriteOutcome(key=task.key, ok=True, crm_id=crm_id, created=created))
        return outcomes

    def read_task_changes(self, since: datetime | None) -> Iterator[TaskChange]:
        self.calls.append("read_task_changes")
        with self._lock:
            rows = sorted(
                ((t["modified_at"], key, dict(t)) for key, t in self.tasks.items()),
                key=lambda r: (r[0], r[2]["crm_id"]),
            )
        for stamp, key, task in rows:
            if since is not None and stamp < since:
                continue
            yield TaskChange(
                key=key,
                crm_id=task["crm_id"],
                lead_crm_id=task["lead_crm_id"],
                state=task["state"],
                outcome=task["outcome"],
                completed_at=task["completed_at"],
                modified_at=stamp,
            )

    def existing(self, crm_ids: Sequence[str]) -> set[str]:
        self.calls.append("existing")
        return {i for i in crm_ids if i in self.records}

    def link(self, links: Sequence[tuple[str, str]]) -> list[WriteOutcome]:
        self.calls.append("link")
        outcomes = []
        with self._lock:
            for crm_id, external_id in links:
                if crm_id not in self.records:
                    outcomes.append(
                        WriteOutcome(key=external_id, ok=False, code="ENTITY_IS_DELETED", message="no such record")
                    )
                    continue
                self.records[crm_id][self.external_id_field] = external_id
                self.modified[crm_id] = self._stamp()
                outcomes.append(WriteOutcome(key=external_id, ok=True, crm_id=crm_id))
        return outcomes

    # --- acting as staff, for tests -----------------------------------------------------------

    def edit(self, crm_id: str, **fields: Any) -> None:
        """Change a record as a user would in the CRM."""
        with self._lock:
            self.records[crm_id].update(fields)
            self.modified[crm_id] = self._stamp()

    def create(self, **fields: Any) -> str:
        """Make a record in the CRM directly (no hub id)."""
        with self._lock:
            crm_id = f"R{next(self._ids):06d}"
            self.records[crm_id] = dict(fields)
            self.modified[crm_id] = self._stamp()
            return crm_id

    def complete_task(self, key: str, outcome: str | None) -> None:
        with self._lock:
            task = self.tasks[key]
            stamp = self._stamp()
            task.update(state=TaskState.COMPLETED, outcome=outcome, completed_at=stamp, modified_at=stamp)

    def delete(self, crm_id: str) -> None:
        with self._lock:
            self.records.pop(crm_id)
            self.modified.pop(crm_id)

    def by_external_id(self, external_id: str) -> tuple[str, dict[str, Any]] | None:
        for crm_id, record in self.records.items():
            if record.get(self.external_id_field) == external_id:
                return crm_id, record
        return None

    # --- internals ----------------------------------------------------------------------------

    def _stamp(self) -> datetime:
        now = self._clock()
        self._last = max(now, self._last + timedelta(milliseconds=1))
        return self._last

    def _upsert_one(self, record: RecordWrite) -> WriteOutcome:
        for name, value in record.fields.items():
            info = self.fields.get(name)
            if self.fields and info is None:
                return WriteOutcome(
                    key=record.external_id,
                    ok=False,
                    code="INVALID_FIELD",
                    field=name,
                    message=f"No such column '{name}'",
                )
            if _violates_picklist(info, value):
                label = info.label if info else name
                return WriteOutcome(
                    key=record.external_id,
                    ok=False,
                    code="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    field=name,
                    message=f"{label}: bad value for restricted picklist field",
                )
        with self._lock:
            found = self.by_external_id(record.external_id)
            created = found is None
            crm_id = found[0] if found else f"R{next(self._ids):06d}"
            stored = found[1] if found else {}
            stored.update(record.fields)
            stored[self.external_id_field] = record.external_id
            self.records[crm_id] = stored
            self.modified[crm_id] = self._stamp()
        return WriteOutcome(key=record.external_id, ok=True, crm_id=crm_id, created=created)


def _violates_picklist(info: FieldInfo | None, value: Any) -> bool:
    if info is None or not info.restricted or info.picklist is None or value in (None, ""):
        return False
    return str(value) not in info.picklist
