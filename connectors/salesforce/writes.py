"""The connector's writes: lead upserts and links through sObject Collections (200 records a call,
a call refused for one record split until it is alone), follow-up Tasks (create-only first, a task
staff completed never touched) and fitting text to the fields' lengths."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from simple_salesforce.api import Salesforce

from connectors.base import FieldInfo, RecordWrite, TaskState, TaskWrite, WriteOutcome
from connectors.salesforce import soql
from connectors.salesforce.conversions import SalesforceConversions
from connectors.salesforce.describe import SalesforceDescribe
from connectors.salesforce.errors import record_outcome, redact
from connectors.salesforce.owners import SalesforceOwners
from connectors.salesforce.tasks import CREATE_ONLY, ExistingTask, task_payload
from connectors.salesforce.transport import MAX_BATCH, _RecordRefused
from nurture.errors import FatalError

logger = logging.getLogger(__name__)


class SalesforceWrites(SalesforceConversions, SalesforceOwners, SalesforceDescribe):
    """Lead, link and task writes."""

    def upsert(self, records: Sequence[RecordWrite]) -> list[WriteOutcome]:
        """Upsert leads by the external id, 200 a call. Text longer than its field is shortened
        (a note on the outcome says which field, never the value); a converted lead is refused by
        Salesforce and its outcome says where it went."""
        if not records:
            return []
        # Fit to the lengths of the describe already read (the hub's pre-flight reads it); a value
        # that is still too long comes back STRING_TOO_LONG, and only those records are fitted
        # (one describe if none was read) and sent again.
        cached = self._described.get(self.lead_object)
        fitted = [fit(dict(r.fields), cached[1]) if cached else (dict(r.fields), ()) for r in records]
        outcomes = self._upsert_records(records, [values for values, _ in fitted])
        too_long = [i for i, o in enumerate(outcomes) if o.code == "STRING_TOO_LONG"]
        if too_long:
            fields = self.describe(self.lead_object)
            for i in too_long:
                fitted[i] = fit(fitted[i][0], fields, fallback_field=outcomes[i].field)
            again = self._upsert_records([records[i] for i in too_long], [fitted[i][0] for i in too_long])
            for i, outcome in zip(too_long, again, strict=True):
                outcomes[i] = outcome
        outcomes = [
            replace(o, notes=notes) if o.ok and notes else o for o, (_, notes) in zip(outcomes, fitted, strict=True)
        ]
        outcomes = self._follow_conversions(outcomes, by=self.external_id_field)
        _log_outcomes(self.lead_object, outcomes)
        return outcomes

    def _upsert_records(self, records: Sequence[RecordWrite], values: Sequence[dict[str, Any]]) -> list[WriteOutcome]:
        owners = self._lead_owners() if self.settings.lead_queue_owners else {}
        fixed = {"RecordTypeId": self._person_record_type()} if self.persons else {}
        payloads = [
            {**self._record_payload(RecordWrite(external_id=r.external_id, fields=v), owners), **fixed}
            for r, v in zip(records, values, strict=True)
        ]
        keys = [record.external_id for record in records]
        outcomes: list[WriteOutcome] = []
        for start in range(0, len(records), MAX_BATCH):
            outcomes.extend(
                self._upsert_collection(
                    self.lead_object,
                    self.external_id_field,
                    keys[start : start + MAX_BATCH],
                    payloads[start : start + MAX_BATCH],
                )
            )
        return outcomes

    def upsert_tasks(self, tasks: Sequence[TaskWrite]) -> list[WriteOutcome]:
        if not tasks:
            return []
        owners = self._task_owners()
        outcomes: list[WriteOutcome] = []
        for start in range(0, len(tasks), MAX_BATCH):
            outcomes.extend(self._upsert_task_batch(tasks[start : start + MAX_BATCH], owners))
        _log_outcomes("Task", outcomes)
        return outcomes

    def link(self, links: Sequence[tuple[str, str]]) -> list[WriteOutcome]:
        """Set the external-id field on existing records by Id (sObject Collections update, 200 a call)."""
        outcomes: list[WriteOutcome] = []
        for start in range(0, len(links), MAX_BATCH):
            part = links[start : start + MAX_BATCH]
            body = {
                "allOrNone": False,
                "records": [
                    {"attributes": {"type": self.lead_object}, "id": crm_id, self.external_id_field: external_id}
                    for crm_id, external_id in part
                ],
            }
            results = self._call(f"{self.lead_object} link", self._patch_collection(body))
            if not isinstance(results, list) or len(results) != len(part):
                raise FatalError(f"Salesforce {self.lead_object} link answered an unexpected shape")
            outcomes += [record_outcome(ext, result, [ext]) for (_, ext), result in zip(part, results, strict=True)]
        _log_outcomes(self.lead_object, outcomes)
        return outcomes

    def _patch_collection(self, body: dict[str, Any]) -> Callable[[Salesforce], Any]:
        timeout = self.settings.timeout_s
        return lambda sf: sf.restful("composite/sobjects", method="PATCH", json=body, timeout=timeout)

    def _record_payload(self, record: RecordWrite, owners: Mapping[str, str]) -> dict[str, Any]:
        payload: dict[str, Any] = {"attributes": {"type": self.lead_object}}
        payload.update({name: soql.wire_value(value) for name, value in record.fields.items()})
        payload[self.external_id_field] = record.external_id
        queue = record.fields.get(self.settings.owner_queue_field)
        if isinstance(queue, str) and queue in owners and "OwnerId" not in record.fields:
            payload["OwnerId"] = owners[queue]
        return payload

    def _upsert_collection(
        self, sobject: str, key_field: str, keys: Sequence[str], payloads: Sequence[dict[str, Any]]
    ) -> list[WriteOutcome]:
        """One collections upsert; a call refused for one record's value is split until the record
        is alone and fails by itself."""
        path = f"composite/sobjects/{sobject}/{key_field}"
        body = {"allOrNone": False, "records": list(payloads)}
        headers = {"Sforce-Duplicate-Rule-Header": "allowSave=true"} if self.settings.allow_duplicate_save else {}
        try:
            results = self._call(
                f"{sobject} upsert",
                lambda sf: sf.restful(
                    path, method="PATCH", json=body, headers=headers, timeout=self.settings.timeout_s
                ),
                split_on_record=True,
            )
        except _RecordRefused as refused:
            if len(payloads) == 1:
                error = refused.error
                return [
                    WriteOutcome(
                        key=keys[0],
                        ok=False,
                        code=error.code,
                        message=redact(error.message, _values(payloads[0])),
                        field=error.fields[0] if error.fields else None,
                    )
                ]
            mid = len(payloads) // 2
            logger.info("salesforce %s upsert: %s for the batch; splitting it", sobject, refused.error.code)
            return self._upsert_collection(sobject, key_field, keys[:mid], payloads[:mid]) + (
                self._upsert_collection(sobject, key_field, keys[mid:], payloads[mid:])
            )
        if not isinstance(results, list) or len(results) != len(payloads):
            raise FatalError(f"Salesforce {sobject} upsert answered {len(results or [])} results for {len(payloads)}")
        return [
            record_outcome(key, result, _values(payload))
            for key, result, payload in zip(keys, results, payloads, strict=True)
        ]

    def _upsert_task_batch(self, tasks: Sequence[TaskWrite], owners: Mapping[str, str]) -> list[WriteOutcome]:
        """One batch of tasks. Open tasks this process has not written go create-only in one call
        (their ``TaskSubtype`` can only be set on create, so Salesforce refuses the upsert of a
        key that exists instead of touching that task); the refused ones, and the others, are
        looked up first (status, so a completed task is left alone) and then upserted."""
        done: dict[int, WriteOutcome] = {}
        fresh = [
            i for i, t in enumerate(tasks) if t.state is TaskState.OPEN and t.key.casefold() not in self._known_tasks
        ]
        if fresh:
            payloads = [self._task_payload(tasks[i], None, owners) for i in fresh]
            written = self._upsert_collection(
                "Task", self.settings.task_key_field, [tasks[i].key for i in fresh], payloads
            )
            for i, outcome in zip(fresh, written, strict=True):
                if not (outcome.code == "INVALID_FIELD_FOR_INSERT_UPDATE" and outcome.field in CREATE_ONLY):
                    done[i] = outcome  # created, or refused for a reason of its own
        rest = [i for i in range(len(tasks)) if i not in done]
        if rest:
            done.update(zip(rest, self._upsert_known_tasks([tasks[i] for i in rest], owners), strict=True))
        outcomes = self._follow_conversions([done[i] for i in range(len(tasks))], by="WhoId", tasks=tasks)
        self._known_tasks.update(o.key.casefold() for o in outcomes if o.ok)
        return outcomes

    def _task_payload(self, task: TaskWrite, found: ExistingTask | None, owners: Mapping[str, str]) -> dict[str, Any]:
        owner = None if found else owners.get(task.owner_queue) or owners.get("")
        return task_payload(
            task,
            found,
            key_field=self.settings.task_key_field,
            owner_id=owner,
            date_zone=self._task_zone,
            link_field=self._task_link,
        )

    def _upsert_known_tasks(self, tasks: Sequence[TaskWrite], owners: Mapping[str, str]) -> list[WriteOutcome]:
        current = self._existing_tasks([t.key for t in tasks])
        done: dict[int, WriteOutcome] = {}
        writes: list[tuple[int, TaskWrite, dict[str, Any]]] = []
        for index, task in enumerate(tasks):
            found = current.get(task.key.casefold())
            if found is not None and found.done_by_staff:
                done[index] = WriteOutcome(key=task.key, ok=True, crm_id=found.crm_id, created=False)
            else:
                writes.append((index, task, self._task_payload(task, found, owners)))
        if writes:
            written = self._upsert_collection(
                "Task", self.settings.task_key_field, [t.key for _, t, _ in writes], [p for _, _, p in writes]
            )
            done.update({index: outcome for (index, _, _), outcome in zip(writes, written, strict=True)})
        return [done[i] for i in range(len(tasks))]

    def _existing_tasks(self, keys: Sequence[str]) -> dict[str, ExistingTask]:
        """The tasks already holding ``keys`` (one SOQL per 200 keys), by casefolded key."""
        key_field = self.settings.task_key_field
        found: dict[str, ExistingTask] = {}
        for chunk in soql.in_chunks(list(dict.fromkeys(keys))):
            where = f"{key_field} IN {soql.in_list(chunk)}"
            query = soql.select(["Id", key_field, "Status", "IsClosed"], "Task", where=where)
            for record in self._query(query, "Task lookup"):
                values = {k.lower(): v for k, v in record.items()}
                found[str(values[key_field.lower()]).casefold()] = ExistingTask(
                    crm_id=str(values["id"]),
                    status=str(values.get("status") or ""),
                    closed=bool(values.get("isclosed")),
                )
        return found


#: is a wrong one).
_LEAVE_OUT: Final = frozenset({"email", "phone", "url"})


def fit(
    values: dict[str, Any], fields: Mapping[str, FieldInfo], *, fallback_field: str | None = None
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """``values`` made to fit the fields' lengths: longer text is shortened to the length (email,
    phone and URL values are left out instead), with one value-free note per field changed.

    Args:
        values: field → value.
        fields: the object's describe.
        fallback_field: a field Salesforce said is too long that the describe does not limit
            (a describe older than a field's new length): its value is left out.
    """
    notes: list[str] = []
    out = dict(values)
    for name, value in values.items():
        info = fields.get(name)
        if info is None or info.length is None or not isinstance(value, str) or len(value) <= info.length:
            continue
        if info.picklist is not None:
            continue  # a picklist value is checked against its values, not cut
        if info.type in _LEAVE_OUT:
            del out[name]
            notes.append(f"{name} left out: longer than the field's {info.length} characters")
        else:
            out[name] = value[: info.length]
            notes.append(f"{name} shortened to {info.length} characters")
    if fallback_field and fallback_field in out and not any(n.startswith(f"{fallback_field} ") for n in notes):
        del out[fallback_field]
        notes.append(f"{fallback_field} left out: Salesforce said it is longer than the field")
    return out, tuple(notes)


def _values(payload: Mapping[str, Any]) -> list[Any]:
    return [v for k, v in payload.items() if k != "attributes" and not isinstance(v, (dict, list))]


def _log_outcomes(sobject: str, outcomes: Sequence[WriteOutcome]) -> None:
    failed = [o for o in outcomes if not o.ok]
    logger.info(
        "salesforce %s upsert: %d written (%d created), %d failed",
        sobject,
        len(outcomes) - len(failed),
        sum(1 for o in outcomes if o.created),
        len(failed),
    )
    for outcome in failed:
        logger.info("salesforce %s upsert: %s failed with %s", sobject, outcome.key, outcome.code)
