"""Follow-up tasks in HubSpot: created or updated by the hub's task key, linked to their contact,
never reopened once staff completed them, and read back with the outcome staff recorded.

Two ways to be idempotent by key (:class:`TaskIdempotency`), chosen by whether HubSpot accepted the
task key property as unique (``docs/connector-hubspot.md`` has the reasoning):

- UPSERT: an open task this process has not written before is first **created**, with its contact
  association inline, in one batch create per 100 (answered 207 for the inputs HubSpot refused).
  HubSpot's unique key refuses a second task with the same key (a 409 ``CONFLICT`` for that input),
  so a create can never duplicate; those inputs, and tasks known to exist or being cancelled, take
  the careful path: one tasks batch read by key (status, so a completed task is left alone), one
  batch upsert by key, one v4 batch association. 1,000 new Day-0 tasks cost 10 calls.
- SEARCH: existing tasks are found with one search (``key IN [...]``), plus a read by id of tasks
  this process wrote that the search index does not show yet; new tasks are created with their
  association inline (batch create) while existing ones are updated by id.

A task whose contact is gone fails alone (``CONTACT_NOT_FOUND``): HubSpot refuses its inline
association in the create's 207; on the careful path the contacts are read first.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from hubspot.crm.associations.v4 import (
    BatchInputPublicDefaultAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
)
from hubspot.crm.objects.tasks import BatchInputSimplePublicObjectBatchInput as TasksUpdate
from hubspot.crm.objects.tasks import BatchInputSimplePublicObjectBatchInputForCreate as TasksCreate
from hubspot.crm.objects.tasks import BatchInputSimplePublicObjectBatchInputUpsert as TasksUpsert
from hubspot.crm.objects.tasks import BatchReadInputSimplePublicObjectId as TasksRead
from hubspot.crm.objects.tasks import PublicObjectSearchRequest as TasksSearch

from connectors.base import TaskChange, TaskKind, TaskState, TaskWrite, WriteOutcome
from connectors.hubspot.batch import (
    BATCH,
    TRACE,
    batches,
    chunked,
    isolate,
    match,
    rejected,
    sets_any,
    settled,
    written,
)
from connectors.hubspot.edge import Failure, HubSpotEdge
from connectors.hubspot.search import PAGE, epoch_ms, from_ms, iso_ms, parse_time, searcher, walk_modified
from nurture.errors import ConfigError

if TYPE_CHECKING:
    from connectors.hubspot import HubSpotSettings

__all__ = ["HubSpotTasks", "TaskIdempotency"]

logger = logging.getLogger(__name__)

_TASK_TYPE = {TaskKind.CALL: "CALL", TaskKind.EMAIL: "EMAIL", TaskKind.SMS: "TODO", TaskKind.TODO: "TODO"}
_TASK_TO_CONTACT = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204}
_STATES = {"COMPLETED": TaskState.COMPLETED, "DEFERRED": TaskState.CANCELLED}
_REMEMBERED = 10_000


class TaskIdempotency(StrEnum):
    """How task writes stay idempotent by key.

    UPSERT: the task key property is unique; tasks are upserted by it, and HubSpot itself guarantees
        one task per key.
    SEARCH: HubSpot refused a unique property on tasks; each batch finds existing tasks by key with
        one search, then creates or updates. Weaker: search is not read-your-writes, so a task
        created moments ago by another process can be missed and created twice.
    """

    UPSERT = "upsert"
    SEARCH = "search"


@dataclass(frozen=True, slots=True)
class _Prior:
    """A task that already exists: its id and HubSpot status."""

    id: str
    status: str | None


class HubSpotTasks:
    """The task half of the HubSpot connector.

    Args:
        edge: sends the calls.
        settings: the connector's settings (task properties, owners).
        existing: which contact ids exist (the connector's ``existing``).

    Attributes:
        mode: how task writes are idempotent; None until ``ensure_schema`` or the first write has
            looked at the task key property.
    """

    def __init__(
        self, edge: HubSpotEdge, settings: HubSpotSettings, existing: Callable[[Sequence[str]], set[str]]
    ) -> None:
        self.edge = edge
        self.settings = settings
        self._existing = existing
        self.mode: TaskIdempotency | None = None
        self._owner_ids: dict[str, str] | None = None
        # Tasks this process wrote, by key: covers the search index's lag in SEARCH mode.
        self._written: OrderedDict[str, str] = OrderedDict()

    # --- writing ------------------------------------------------------------------------------

    def upsert(self, tasks: Sequence[TaskWrite]) -> list[WriteOutcome]:
        """Create or update tasks by key, 100 per call; one outcome per task, in order."""
        if not tasks:
            return []
        mode = self.resolve_mode()
        outcomes: list[WriteOutcome | None] = [None] * len(tasks)
        calls = self.edge.calls
        for group in batches([t.key for t in tasks], BATCH):
            self._group(tasks, group, outcomes, mode)
        done = settled(outcomes)
        created, refused = sum(o.created for o in done), sum(not o.ok for o in done)
        logger.info(
            "hubspot tasks (%s): %d task(s), %d call(s), %d created, %d refused",
            mode.value, len(done), self.edge.calls - calls, created, refused,
        )  # fmt: skip
        return done

    def _group(
        self,
        tasks: Sequence[TaskWrite],
        group: list[int],
        outcomes: list[WriteOutcome | None],
        mode: TaskIdempotency,
    ) -> None:
        if mode is TaskIdempotency.UPSERT:
            fresh = [i for i in group if tasks[i].state is TaskState.OPEN and tasks[i].key not in self._written]
            chosen = set(fresh)
            group = [i for i in group if i not in chosen] + self._create_fresh(tasks, fresh, outcomes)
            if not group:
                return
        alive = self._existing([tasks[i].lead_crm_id for i in group])
        live: list[int] = []
        for i in group:
            if tasks[i].lead_crm_id in alive:
                live.append(i)
            else:
                outcomes[i] = WriteOutcome(
                    key=tasks[i].key,
                    ok=False,
                    code="CONTACT_NOT_FOUND",
                    message="the contact does not exist in HubSpot (deleted or merged)",
                )
        if not live:
            return
        keys = [tasks[i].key for i in live]
        prior = self._read_by_key(keys) if mode is TaskIdempotency.UPSERT else self._search_by_key(keys)
        writes: dict[int, dict[str, str]] = {}
        for i in live:
            before = prior.get(tasks[i].key)
            if before is not None and before.status == "COMPLETED":
                outcomes[i] = WriteOutcome(key=tasks[i].key, ok=True, crm_id=before.id)  # staff's now
                continue
            writes[i] = self._properties(tasks[i], before)
        if mode is TaskIdempotency.UPSERT:
            self._associate(tasks, self._upsert(tasks, writes, outcomes), outcomes)
        else:
            self._create_or_update(tasks, writes, prior, outcomes)

    def _create_fresh(
        self, tasks: Sequence[TaskWrite], fresh: list[int], outcomes: list[WriteOutcome | None]
    ) -> list[int]:
        """Create open tasks believed new, each with its contact association, in one batch create
        per 100 (the key is unique, so a task that exists already is refused, never duplicated).

        Returns:
            The inputs HubSpot refused because their key exists: they go the careful way.
        """
        if not fresh:
            return []
        keyp = self.settings.task_key_property
        writes = {i: self._properties(tasks[i], None) for i in fresh}
        sent, refused = isolate(
            fresh, lambda part: self._create(tasks, writes, part), lambda i, f: sets_any(writes[i], f)
        )
        existing: list[int] = []
        for i, result in sent.items():
            outcomes[i] = written(tasks[i].key, result, created=True)
            if result is not None:
                self._remember(tasks[i].key, str(result.id))
        for i, failure in refused.items():
            if failure.category == "CONFLICT" and keyp in failure.properties:
                existing.append(i)  # made before (an answer lost, another process): update it
            else:
                outcomes[i] = (
                    _contact_gone(tasks[i].key) if _association_refused(failure) else rejected(tasks[i].key, failure)
                )
        return existing

    def _create(
        self, tasks: Sequence[TaskWrite], writes: Mapping[int, dict[str, str]], part: list[int]
    ) -> dict[int, Any]:
        """One batch create of ``part``, associations inline, each input with its trace id."""
        body = TasksCreate(
            inputs=[
                {
                    "properties": writes[i],
                    "associations": [{"to": {"id": tasks[i].lead_crm_id}, "types": [_TASK_TO_CONTACT]}],
                    TRACE: tasks[i].key,
                }
                for i in part
            ]
        )
        data = self.edge.call(
            "tasks.batch.create",
            lambda a: a.tasks_batch.create_with_http_info(body, _request_timeout=a.timeout),
            # With a unique key a repeated create is refused, never duplicated: safe to retry in
            # UPSERT mode. Without one (SEARCH), a 5xx may follow a create HubSpot made: retried
            # later, after a search.
            idempotent=self.mode is TaskIdempotency.UPSERT,
        )
        keys = {i: tasks[i].key for i in part}
        return match(part, keys, data, self.settings.task_key_property, what="tasks.batch.create")

    def _properties(self, task: TaskWrite, before: _Prior | None) -> dict[str, str]:
        values = {
            self.settings.task_key_property: task.key,
            "hs_timestamp": iso_ms(task.due_at),
            "hs_task_subject": task.subject,
            "hs_task_body": task.body,
            "hs_task_type": _TASK_TYPE[task.kind],
            "hs_task_priority": "HIGH" if task.kind is TaskKind.CALL else "MEDIUM",
        }
        owner = self._owner_for(task.owner_queue)
        if owner is not None:
            values["hubspot_owner_id"] = owner
        status = status_to_write(task.state, before.status if before else None, new=before is None)
        if status is not None:
            values["hs_task_status"] = status
        return values

    def _upsert(
        self,
        tasks: Sequence[TaskWrite],
        writes: dict[int, dict[str, str]],
        outcomes: list[WriteOutcome | None],
    ) -> dict[int, tuple[str, bool]]:
        keyp = self.settings.task_key_property

        def send(part: list[int]) -> dict[int, Any]:
            body = TasksUpsert(
                inputs=[
                    {"idProperty": keyp, "id": tasks[i].key, "properties": writes[i], TRACE: tasks[i].key} for i in part
                ]
            )
            data = self.edge.call(
                "tasks.batch.upsert",
                lambda a: a.tasks_batch.upsert_with_http_info(body, _request_timeout=a.timeout),
            )
            return match(part, {i: tasks[i].key for i in part}, data, keyp, what="tasks.batch.upsert")

        sent, refused = isolate(list(writes), send, lambda i, f: sets_any(writes[i], f))
        done: dict[int, tuple[str, bool]] = {}
        for i, result in sent.items():
            if result is None:
                outcomes[i] = written(tasks[i].key, None)
            else:
                done[i] = (str(result.id), bool(result.new))
                self._remember(tasks[i].key, str(result.id))
        for i, failure in refused.items():
            outcomes[i] = rejected(tasks[i].key, failure)
        return done

    def _associate(
        self,
        tasks: Sequence[TaskWrite],
        done: dict[int, tuple[str, bool]],
        outcomes: list[WriteOutcome | None],
    ) -> None:
        """Link every written task to its contact (v4 default association, task→contact 204).
        Existing tasks are linked again too: it is idempotent, costs no extra call (one per batch
        either way) and repairs a task whose first link was lost to a crash between the calls."""

        def send(part: list[int]) -> dict[int, Any]:
            body = BatchInputPublicDefaultAssociationMultiPost(
                inputs=[{"from": {"id": done[i][0]}, "to": {"id": tasks[i].lead_crm_id}} for i in part]
            )
            self.edge.call(
                "associations.tasks.contacts.create_default",
                lambda a: a.associations.create_default_with_http_info(
                    "tasks", "contacts", body, _request_timeout=a.timeout
                ),
            )
            return dict.fromkeys(part, True)

        sent, refused = isolate(list(done), send, lambda i, f: False)
        for i in sent:
            crm_id, created = done[i]
            outcomes[i] = WriteOutcome(key=tasks[i].key, ok=True, crm_id=crm_id, created=created)
        for i, failure in refused.items():
            outcomes[i] = WriteOutcome(
                key=tasks[i].key,
                ok=False,
                crm_id=done[i][0],
                code=failure.code,
                retriable=True,
                message="the task was written but HubSpot refused to link it to its contact",
            )

    def _create_or_update(
        self,
        tasks: Sequence[TaskWrite],
        writes: dict[int, dict[str, str]],
        prior: Mapping[str, _Prior],
        outcomes: list[WriteOutcome | None],
    ) -> None:
        def create(part: list[int]) -> dict[int, Any]:
            return self._create(tasks, writes, part)

        def update(part: list[int]) -> dict[int, Any]:
            body = TasksUpdate(inputs=[{"id": prior[tasks[i].key].id, "properties": writes[i]} for i in part])
            data = self.edge.call(
                "tasks.batch.update",
                lambda a: a.tasks_batch.update_with_http_info(body, _request_timeout=a.timeout),
            )
            by_id = {str(r.id): r for r in data.results or []}
            return {i: by_id.get(prior[tasks[i].key].id) for i in part}

        creates = [i for i in writes if tasks[i].key not in prior]
        updates = [i for i in writes if tasks[i].key in prior]
        for indices, send, created in ((creates, create, True), (updates, update, False)):
            if not indices:
                continue
            sent, refused = isolate(indices, send, lambda i, f: sets_any(writes[i], f))
            for i, result in sent.items():
                outcomes[i] = written(tasks[i].key, result, created=created)
                if result is not None:
                    self._remember(tasks[i].key, str(result.id))
            for i, failure in refused.items():
                outcomes[i] = (
                    _contact_gone(tasks[i].key) if _association_refused(failure) else rejected(tasks[i].key, failure)
                )

    # --- finding existing tasks ---------------------------------------------------------------

    def _read_by_key(self, keys: list[str]) -> dict[str, _Prior]:
        """Existing tasks by key: one batch read by the unique key property (read-your-writes)."""
        keyp = self.settings.task_key_property
        body = TasksRead(id_property=keyp, inputs=[{"id": k} for k in keys], properties=[keyp, "hs_task_status"])
        data = self.edge.call(
            "tasks.batch.read",
            lambda a: a.tasks_batch.read_with_http_info(body, _request_timeout=a.timeout),
        )
        return _priors(data.results, keyp, set(keys))

    def _search_by_key(self, keys: list[str]) -> dict[str, _Prior]:
        """Existing tasks by key without a unique property: one search (``IN``) per batch, plus a
        read by id of the tasks this process wrote that the search index does not show yet."""
        keyp = self.settings.task_key_property
        request = TasksSearch(
            filter_groups=[{"filters": [{"propertyName": keyp, "operator": "IN", "values": keys}]}],
            sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            properties=[keyp, "hs_task_status"],
            limit=PAGE,
        )
        data = self.edge.call(
            "tasks.search",
            lambda a: a.tasks_search.do_search_with_http_info(request, _request_timeout=a.timeout),
            search=True,
        )
        found = _priors(data.results, keyp, set(keys))
        if int(data.total or 0) > len(found):
            logger.warning(
                "hubspot: %d tasks carry %d task keys (duplicates made by a race); the oldest is used",
                data.total, len(found),
            )  # fmt: skip
        unseen = {self._written[k]: k for k in keys if k not in found and k in self._written}
        if unseen:
            body = TasksRead(inputs=[{"id": i} for i in unseen], properties=[keyp, "hs_task_status"])
            read = self.edge.call(
                "tasks.batch.read",
                lambda a: a.tasks_batch.read_with_http_info(body, _request_timeout=a.timeout),
            )
            for result in read.results or []:
                key = unseen.get(str(result.id))
                if key is not None:
                    found[key] = _Prior(id=str(result.id), status=(result.properties or {}).get("hs_task_status"))
        return found

    def _remember(self, key: str, crm_id: str) -> None:
        self._written[key] = crm_id
        self._written.move_to_end(key)
        while len(self._written) > _REMEMBERED:
            self._written.popitem(last=False)

    def resolve_mode(self) -> TaskIdempotency:
        """The idempotency mode, from the task key property's definition (read once)."""
        if self.mode is None:
            keyp = self.settings.task_key_property
            definition = self.edge.call(
                f"properties.tasks.{keyp}",
                lambda a: a.properties.get_by_name_with_http_info("tasks", keyp, _request_timeout=a.timeout),
            )
            self.mode = TaskIdempotency.UPSERT if definition.has_unique_value else TaskIdempotency.SEARCH
            logger.info("hubspot: task keys are idempotent by %s", self.mode.value)
        return self.mode

    # --- owners -------------------------------------------------------------------------------

    def _owner_for(self, queue: str) -> str | None:
        ref = self.settings.owners.get(queue, self.settings.default_owner)
        if ref is None or ref.isdigit():
            return ref
        if self._owner_ids is None:
            self._owner_ids = self._owners_by_email()
        found = self._owner_ids.get(ref.lower())
        if found is None:
            raise ConfigError(
                [f"hubspot owners.{queue}: no active HubSpot owner has the configured email"],
                source="hubspot",
            )
        return found

    def _owners_by_email(self) -> dict[str, str]:
        """Every active owner by email, page by page. A cursor HubSpot already answered ends the
        walk (a server repeating its ``after`` would otherwise be paged forever)."""
        found: dict[str, str] = {}
        after: str | None = None
        seen: set[str] = set()
        while True:
            data = self._owners_page(after)
            for owner in data.results or []:
                if owner.email:
                    found[str(owner.email).lower()] = str(owner.id)
            nxt = data.paging.next if data.paging is not None else None
            after = str(nxt.after) if nxt is not None and nxt.after else None
            if after is None:
                return found
            if after in seen:
                logger.warning("hubspot owners: the server repeated paging cursor %s; stopping", after)
                return found
            seen.add(after)

    def _owners_page(self, after: str | None) -> Any:
        # archived=false is the API's default and is not sent; ``after`` only when paging on.
        extra: dict[str, Any] = {"after": after} if after is not None else {}
        return self.edge.call(
            "owners.page",
            lambda a: a.owners.get_page_with_http_info(limit=500, _request_timeout=a.timeout, **extra),
        )

    # --- reading ------------------------------------------------------------------------------

    def read_changes(self, since: datetime | None) -> Iterator[TaskChange]:
        """The hub's tasks (those with a key) modified at or after ``since``, oldest first, each with
        the contact it is linked to (one v4 batch read per 200 tasks)."""
        keyp, outp = self.settings.task_key_property, self.settings.task_outcome_property
        properties = [keyp, outp, "hs_task_status", "hs_task_completion_date", "hs_lastmodifieddate"]
        rows = walk_modified(
            searcher(self.edge, "tasks", properties, "hs_lastmodifieddate"),
            modified="hs_lastmodifieddate",
            since_ms=epoch_ms(since) if since is not None else None,
            extra=[{"propertyName": keyp, "operator": "HAS_PROPERTY"}],
        )
        for chunk in chunked(rows, PAGE):
            contacts = self._contacts_of([str(r.item.id) for r in chunk])
            for row in chunk:
                values = row.item.properties or {}
                state = _STATES.get(values.get("hs_task_status") or "", TaskState.OPEN)
                modified = from_ms(row.stamp)
                completed = parse_time(values.get("hs_task_completion_date")) or modified
                yield TaskChange(
                    key=values.get(keyp) or None,
                    crm_id=str(row.item.id),
                    lead_crm_id=contacts.get(str(row.item.id)),
                    state=state,
                    outcome=values.get(outp) or None,
                    completed_at=completed if state is TaskState.COMPLETED else None,
                    modified_at=modified,
                )

    def _contacts_of(self, task_ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        # Batch inputs are capped at 100 per call, as on every CRM batch endpoint.
        for chunk in chunked(task_ids, 100):
            data = self.edge.call("associations.tasks.contacts.read", _read_links(chunk))
            for result in data.results or []:
                targets = sorted((str(t.to_object_id) for t in result.to or []), key=lambda v: (len(v), v))
                if targets:
                    found[str(result._from.id)] = targets[0]  # the SDK names "from" `_from`
        return found


def _association_refused(failure: Failure) -> bool:
    """Whether HubSpot refused an input because the record it was to be associated with does not
    exist (the task's contact was deleted or merged away)."""
    return failure.category == "OBJECT_NOT_FOUND" or failure.bad_association


def _contact_gone(key: str) -> WriteOutcome:
    return WriteOutcome(
        key=key, ok=False, code="CONTACT_NOT_FOUND", message="the contact does not exist in HubSpot (deleted or merged)"
    )


def _read_links(task_ids: list[str]) -> Any:
    body = BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": i} for i in task_ids])
    return lambda a: a.associations.get_page_with_http_info("tasks", "contacts", body, _request_timeout=a.timeout)


def _priors(results: Sequence[Any] | None, key_property: str, keys: set[str]) -> dict[str, _Prior]:
    """Existing tasks by key; when a key has several tasks (a race in SEARCH mode), the oldest."""
    found: dict[str, _Prior] = {}
    for result in sorted(results or [], key=lambda r: int(r.id)):
        values = result.properties or {}
        key = values.get(key_property)
        if key in keys and key not in found:
            found[key] = _Prior(id=str(result.id), status=values.get("hs_task_status"))
    return found


def status_to_write(state: TaskState, current: str | None, *, new: bool) -> str | None:
    """The ``hs_task_status`` to send, or None to leave the task's status as it is.

    New tasks start NOT_STARTED (DEFERRED when cancelled). Existing ones change only when the hub's
    state differs: cancelled → DEFERRED, reopened after a cancel → NOT_STARTED. Staff's
    IN_PROGRESS / WAITING is left alone, and COMPLETED tasks are never written at all.
    """
    if state is TaskState.CANCELLED:
        return None if current == "DEFERRED" else "DEFERRED"
    if new or current == "DEFERRED":
        return "NOT_STARTED"
    return None
