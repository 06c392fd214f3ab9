"""The Salesforce connector: the CRM protocol of ``connectors.base`` over Salesforce's REST API,
through simple-salesforce (the only module of the hub that imports it).

- leads upsert by the hub's external id through sObject Collections (200 records a call);
- changes are read with SOQL on ``SystemModstamp`` and paged through ``nextRecordsUrl``;
- follow-ups are Tasks upserted by ``Nurture_Task_Key__c``; a task staff completed is never touched;
  a task the connector has not written before is sent create-only first (its create-only
  ``TaskSubtype`` makes Salesforce refuse it if the key exists), so new tasks cost no lookup;
- a converted lead (``IsConverted``) is followed to its Contact and Account: reads and refused
  writes say where it went (:class:`~connectors.base.Conversion`), and nothing is written to it;
- text longer than a field's describe ``length`` is shortened (email, phone, URL: left out), with a
  note on the outcome, instead of failing the record;
- every call waits its turn in a :class:`~connectors.limits.TokenBucket`, and every failure is
  translated once, by the table in :mod:`connectors.salesforce_errors`, into the hub's error tree.

Logs carry object names, ids, counts and error codes; never field values, messages that may echo
them, or tokens. ``docs/connector-salesforce.md`` maps each method to its REST calls.

Example:
    settings = SalesforceSettings(task_owners={"Front Desk": "dana.whitfield@clinic.example"})
    crm = SalesforceConnector(settings, tokens)
    outcomes = crm.upsert([RecordWrite(external_id="nh_01", fields={"LastName": "…", "Company": "…"})])
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, tzinfo
from datetime import time as time_of_day
from typing import Any, Final, TypeVar
from urllib.parse import quote_plus, urlsplit

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError

from connectors import salesforce_soql as soql
from connectors.base import (
    Change,
    ConnectionStatus,
    Conversion,
    FieldInfo,
    OAuthToken,
    RecordWrite,
    TaskChange,
    TaskState,
    TaskWrite,
    TokenSource,
    WriteOutcome,
)
from connectors.limits import TokenBucket
from connectors.salesforce_errors import (
    Action,
    VendorError,
    classify,
    field_from_message,
    object_from_message,
    record_outcome,
    redact,
)
from connectors.salesforce_settings import SalesforceSettings
from connectors.salesforce_tasks import CREATE_ONLY, ExistingTask, task_change, task_payload
from nurture.clock import require_aware, zone
from nurture.errors import BudgetExhausted, ConfigError, FatalError, HubError, RetryLater

__all__ = ["SalesforceConnector", "SalesforceSettings"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Records one sObject Collections call takes.
MAX_BATCH: Final = 200


class _RecordRefused(Exception):
    """A whole collections call refused because of one record's value (JSON_PARSER_ERROR)."""

    def __init__(self, error: VendorError) -> None:
        super().__init__(error.code)
        self.error = error


class SalesforceConnector:
    """The CRM protocol over one Salesforce org.

    Args:
        settings: how the org is used.
        tokens: the access token and its refresh; ``instance_url`` comes from the token.
        session: the HTTP session (tests pass one that trusts the sandbox CA); by default one is
            made with ``settings.verify``.
        sleep, monotonic: how the connector waits and tells time (tests inject a virtual clock).
    """

    system = "salesforce"
    max_batch = MAX_BATCH

    def __init__(
        self,
        settings: SalesforceSettings,
        tokens: TokenSource,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.lead_object = settings.lead_object
        self.external_id_field = settings.external_id_field
        self._tokens = tokens
        self._own_session = session is None
        self._session = session if session is not None else _new_session(settings.verify)
        self._session.hooks["response"].append(self._remember_retry_after)
        self._monotonic = monotonic
        self._bucket = TokenBucket(settings.requests_per_second, settings.burst, monotonic=monotonic, sleep=sleep)
        self._task_zone: tzinfo | None = zone(settings.task_date_timezone) if settings.task_date_timezone else None
        self._lock = threading.Lock()
        self._local = threading.local()
        self._client: Salesforce | None = None
        self._paused_until: float | None = None
        self._person_type_id: str | None = None
        self._task_link = "WhatId" if settings.lead_object == "Account" else "WhoId"
        self._lead_owner_ids: dict[str, str] | None = None
        self._task_owner_ids: dict[str, str] | None = None
        self._described: dict[str, tuple[float, Mapping[str, FieldInfo]]] = {}
        # Task keys this process wrote (or found): sent as updates, not create-only, next time.
        self._known_tasks: set[str] = set()
        self.api_used: int | None = None
        #: Requests sent so far, retries included (for the hub's API-call metric).
        self.requests_sent = 0
        self.api_limit: int | None = None

    # --- the protocol -------------------------------------------------------------------------

    def check(self) -> ConnectionStatus:
        """Calls the API's version root (one API call) and reports the org's usage header."""
        try:
            self._call("check", lambda sf: sf.restful("", timeout=self.settings.timeout_s))
        except HubError as exc:
            return ConnectionStatus(ok=False, detail=_first_line(exc), api_used=self.api_used, api_limit=self.api_limit)
        what = self.lead_object
        if self.persons:
            try:
                self._person_record_type()
            except HubError as exc:
                return ConnectionStatus(
                    ok=False, detail=_first_line(exc), api_used=self.api_used, api_limit=self.api_limit
                )
            what = f"Person Accounts ({self.settings.person_record_type})"
        host = urlsplit(self._tokens.token().instance_url or "").netloc or "?"
        return ConnectionStatus(
            ok=True,
            detail=f"connected to Salesforce at {host} (API v{self.settings.api_version}, "
            f"{what} by {self.external_id_field})",
            api_used=self.api_used,
            api_limit=self.api_limit,
        )

    @property
    def persons(self) -> bool:
        """Leads are Person Accounts."""
        return self.lead_object == "Account"

    def describe(self, object_name: str) -> Mapping[str, FieldInfo]:
        """The object's fields (one call, reused for ``describe_ttl_s``). For Lead, the describe and
        the org's ``LeadStatus`` rows come in one Composite call (one API call): the Status field
        then knows its converted values (``reserved``) and its default."""
        name = self._name(object_name, "object")
        now = self._monotonic()
        with self._lock:
            cached = self._described.get(name)
        if cached is not None and now - cached[0] < self.settings.describe_ttl_s:
            return cached[1]
        fields = self._describe_lead() if name == "Lead" else self._describe_plain(name)
        with self._lock:
            self._described[name] = (now, fields)
        return fields

    def _describe_plain(self, name: str) -> dict[str, FieldInfo]:
        body = self._call(
            f"{name} describe",
            lambda sf: sf.restful(f"sobjects/{name}/describe", timeout=self.settings.timeout_s),
        )
        return _fields_of(body)

    def _describe_lead(self) -> dict[str, FieldInfo]:
        base = f"/services/data/v{self.settings.api_version}"
        query = soql.select(["ApiName", "IsConverted", "IsDefault"], "LeadStatus")
        body = {
            "allOrNone": False,
            "compositeRequest": [
                {"method": "GET", "url": f"{base}/sobjects/Lead/describe", "referenceId": "describe"},
                {"method": "GET", "url": f"{base}/query?q={quote_plus(query)}", "referenceId": "statuses"},
            ],
        }
        timeout = self.settings.timeout_s
        answer = self._call(
            "Lead describe", lambda sf: sf.restful("composite", method="POST", json=body, timeout=timeout)
        )
        parts = {str(r.get("referenceId")): r for r in (answer or {}).get("compositeResponse", [])}
        described = parts.get("describe") or {}
        if described.get("httpStatusCode") != 200:
            error = VendorError.of(int(described.get("httpStatusCode") or 500), described.get("body"))
            raise self._translate(classify(error), error, "Lead describe")
        fields = _fields_of(described.get("body"))
        statuses = parts.get("statuses") or {}
        status = fields.get("Status")
        if status is not None and statuses.get("httpStatusCode") == 200:
            rows = (statuses.get("body") or {}).get("records", [])
            reserved = tuple(str(r["ApiName"]) for r in rows if r.get("IsConverted"))
            default = next((str(r["ApiName"]) for r in rows if r.get("IsDefault")), status.default)
            fields["Status"] = replace(status, reserved=reserved, default=default)
        return fields

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

    def read_changes(self, since: datetime | None, fields: Sequence[str]) -> Iterator[Change]:
        """Lead records changed since ``since``; a converted lead is read too (once more after its
        conversion), with ``converted`` saying where it went."""
        wanted = [self._name(f, "field") for f in fields]
        if since is not None:
            require_aware(since, "read_changes since")
        conversion = list(_CONVERSION_FIELDS) if self.lead_object == "Lead" else []
        select = _unique(["Id", self.external_id_field, "SystemModstamp", *wanted, *conversion])
        conditions = ["IsPersonAccount = true"] if self.persons else []  # business accounts are not leads
        if since is not None:
            conditions.append(f"SystemModstamp >= {soql.datetime_literal(since)}")
        where = " AND ".join(conditions)
        query = soql.select(select, self.lead_object, where=where, order_by=("SystemModstamp", "Id"))
        return self._changes(query, since, wanted)

    def upsert_tasks(self, tasks: Sequence[TaskWrite]) -> list[WriteOutcome]:
        if not tasks:
            return []
        owners = self._task_owners()
        outcomes: list[WriteOutcome] = []
        for start in range(0, len(tasks), MAX_BATCH):
            outcomes.extend(self._upsert_task_batch(tasks[start : start + MAX_BATCH], owners))
        _log_outcomes("Task", outcomes)
        return outcomes

    def read_task_changes(self, since: datetime | None) -> Iterator[TaskChange]:
        if since is not None:
            require_aware(since, "read_task_changes since")
        key = self.settings.task_key_field
        where = f"{key} != null"
        if since is not None:
            where += f" AND SystemModstamp >= {soql.datetime_literal(since)}"
        fields = ("Id", key, self._task_link, "Status", "IsClosed", "CallDisposition", "CompletedDateTime")
        query = soql.select((*fields, "SystemModstamp"), "Task", where=where, order_by=("SystemModstamp", "Id"))
        return self._task_changes(query, since)

    def existing(self, crm_ids: Sequence[str]) -> set[str]:
        wanted = [i for i in dict.fromkeys(crm_ids) if soql.is_id(i)]
        found: set[str] = set()
        for chunk in soql.in_chunks(wanted):
            query = soql.select(["Id"], self.lead_object, where=f"Id IN {soql.in_list(chunk)}")
            found.update(str(r["Id"])[:15] for r in self._query(query, f"{self.lead_object} existing"))
        return {i for i in crm_ids if soql.is_id(i) and i[:15] in found}

    # --- lifecycle ----------------------------------------------------------------------------

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

    def close(self) -> None:
        """Close the HTTP session if the connector made it."""
        if self._own_session:
            self._session.close()

    # --- reads --------------------------------------------------------------------------------

    def _changes(self, query: str, since: datetime | None, wanted: list[str]) -> Iterator[Change]:
        for records in _pages(self._query(query, f"{self.lead_object} changes"), 200):
            persons = self._person_accounts(
                [str(r["ConvertedAccountId"]) for r in records if r.get("IsConverted") and r.get("ConvertedAccountId")]
            )
            for record in records:
                stamp = soql.parse_datetime(str(record["SystemModstamp"]))
                if since is not None and stamp < since:
                    continue  # the SOQL literal is floored to the second
                values = {k.lower(): v for k, v in record.items() if k != "attributes"}
                external = values.get(self.external_id_field.lower())
                yield Change(
                    crm_id=str(record["Id"]),
                    external_id=str(external) if external is not None else None,
                    modified_at=stamp,
                    fields={name: values.get(name.lower()) for name in wanted},
                    converted=_conversion(record, persons),
                )

    def _task_changes(self, query: str, since: datetime | None) -> Iterator[TaskChange]:
        for record in self._query(query, "Task changes"):
            change = task_change(record, key_field=self.settings.task_key_field)
            if since is None or change.modified_at >= since:
                yield change

    def _query(self, query: str, what: str) -> Iterator[dict[str, Any]]:
        """Every record of ``query``, page by page through ``nextRecordsUrl``."""
        timeout = self.settings.timeout_s
        page = self._call(what, lambda sf: sf.query(query, timeout=timeout))
        while True:
            yield from page.get("records", [])
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            page = self._call(what, functools.partial(_query_more, url=next_url, timeout=timeout))

    # --- writes -------------------------------------------------------------------------------

    def _person_record_type(self) -> str:
        """The Id of the person-account record type (one SOQL query, then remembered).

        Raises:
            ConfigError: the org has no such active person-account record type.
        """
        if self._person_type_id is None:
            wanted = self.settings.person_record_type
            if soql.is_id(wanted, "012"):
                self._person_type_id = wanted
            else:
                query = soql.select(
                    ["Id"],
                    "RecordType",
                    where=f"SobjectType = 'Account' AND IsPersonType = true AND IsActive = true "
                    f"AND DeveloperName = {soql.quote(wanted)}",
                )
                rows = list(self._query(query, "RecordType person account"))
                if not rows:
                    raise ConfigError(
                        [
                            f"object: Account means Person Accounts, but this org has no active person-account "
                            f"record type {wanted!r} (enable Person Accounts, or set person_record_type)"
                        ],
                        source=f"Salesforce settings ({self.settings.connection_name})",
                    )
                self._person_type_id = str(rows[0]["Id"])
        return self._person_type_id

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

    # --- converted leads ----------------------------------------------------------------------

    def _follow_conversions(
        self, outcomes: list[WriteOutcome], *, by: str, tasks: Sequence[TaskWrite] = ()
    ) -> list[WriteOutcome]:
        """Outcomes Salesforce refused with ``CANNOT_UPDATE_CONVERTED_LEAD`` get the conversion
        (one SOQL on Lead for the batch): where the lead went, so the hub stops writing to it and
        sends its tasks to the contact. ``by`` is how the lead is found: its external id (lead
        upserts) or the task's ``WhoId``."""
        refused = [i for i, o in enumerate(outcomes) if o.code == "CANNOT_UPDATE_CONVERTED_LEAD"]
        if not refused or self.lead_object != "Lead":
            return outcomes
        if by == "WhoId":
            wanted = {i: tasks[i].lead_crm_id for i in refused}
            field, column = "Id", "id"
        else:
            wanted = {i: outcomes[i].key for i in refused}
            field, column = self.external_id_field, self.external_id_field.lower()
        found: dict[str, dict[str, Any]] = {}
        for chunk in soql.in_chunks(sorted(set(wanted.values()))):
            query = soql.select(
                _unique(["Id", self.external_id_field, *_CONVERSION_FIELDS]), "Lead",
                where=f"{field} IN {soql.in_list(chunk)} AND IsConverted = true",
            )  # fmt: skip
            for record in self._query(query, "Lead conversions"):
                values = {k.lower(): v for k, v in record.items()}
                key = str(values.get(column) or "")
                found[key[:15] if by == "WhoId" else key] = record
        persons = self._person_accounts(
            [str(r["ConvertedAccountId"]) for r in found.values() if r.get("ConvertedAccountId")]
        )
        out = list(outcomes)
        for i, ref in wanted.items():
            row = found.get(ref[:15] if by == "WhoId" else ref)
            conversion = _conversion(row, persons)
            if row is not None and conversion is not None:
                out[i] = replace(
                    out[i],
                    crm_id=out[i].crm_id or (str(row["Id"]) if by != "WhoId" else None),
                    converted=conversion,
                    retriable=False,
                    message="the lead was converted in Salesforce; it is read-only now",
                )
        return out

    def _person_accounts(self, account_ids: Sequence[str]) -> set[str]:
        """Which of ``account_ids`` are Person Accounts (15-character ids); no call when none."""
        wanted = sorted({a for a in account_ids if soql.is_id(a, "001")})
        found: set[str] = set()
        for chunk in soql.in_chunks(wanted):
            query = soql.select(["Id", "IsPersonAccount"], "Account", where=f"Id IN {soql.in_list(chunk)}")
            try:
                rows = list(self._query(query, "Account person check"))
            except ConfigError:
                return set()  # an org without Person Accounts has no IsPersonAccount field
            found.update(str(r["Id"])[:15] for r in rows if r.get("IsPersonAccount"))
        return found

    # --- owners -------------------------------------------------------------------------------

    def _lead_owners(self) -> dict[str, str]:
        """Hub queue → Group Id, resolved with one SOQL on Group the first time, then cached."""
        if self._lead_owner_ids is not None:
            return self._lead_owner_ids
        wanted = self.settings.lead_queue_owners
        ids = {queue: target for queue, target in wanted.items() if soql.is_id(target, "00G")}
        if len(ids) < len(wanted):
            names: dict[str, str] = {}
            query = soql.select(["Id", "Name", "DeveloperName"], "Group", where="Type = 'Queue'")
            for group in self._query(query, "Group queues"):
                for key in ("DeveloperName", "Name"):
                    if group.get(key):
                        names.setdefault(str(group[key]).casefold(), str(group["Id"]))
            problems = []
            for queue, target in wanted.items():
                if queue in ids:
                    continue
                if target.casefold() in names:
                    ids[queue] = names[target.casefold()]
                else:
                    problems.append(f"lead_queue_owners.{queue}: no Salesforce queue named {target!r}")
            if problems:
                raise ConfigError(problems, source=self.settings.connection_name)
        self._lead_owner_ids = ids
        return ids

    def _task_owners(self) -> dict[str, str]:
        """Hub queue → User Id ("" for the default owner); usernames are resolved with one SOQL on
        User the first time, then cached."""
        if self._task_owner_ids is not None:
            return self._task_owner_ids
        wanted = dict(self.settings.task_owners)
        if self.settings.default_task_owner:
            wanted[""] = self.settings.default_task_owner
        ids = {queue: owner for queue, owner in wanted.items() if soql.is_id(owner, "005", "00G")}
        usernames = sorted({owner for queue, owner in wanted.items() if queue not in ids})
        if usernames:
            users: dict[str, tuple[str, bool]] = {}
            for chunk in soql.in_chunks(usernames):
                where = f"Username IN {soql.in_list(chunk)}"
                query = soql.select(["Id", "Username", "IsActive"], "User", where=where)
                for user in self._query(query, "User owners"):
                    users[str(user["Username"]).casefold()] = (str(user["Id"]), bool(user.get("IsActive")))
            problems = []
            for queue, owner in wanted.items():
                if queue in ids:
                    continue
                key = f"task_owners.{queue}" if queue else "default_task_owner"
                match = users.get(owner.casefold())
                if match is None:
                    problems.append(f"{key}: no Salesforce user with username {owner!r}")
                elif not match[1]:
                    problems.append(f"{key}: Salesforce user {owner!r} is inactive and cannot own tasks")
                else:
                    ids[queue] = match[0]
            if problems:
                raise ConfigError(problems, source=self.settings.connection_name)
        self._task_owner_ids = ids
        return ids

    # --- every call goes through here ---------------------------------------------------------

    def _call(self, what: str, call: Callable[[Salesforce], T], *, split_on_record: bool = False) -> T:
        """Run ``call`` with the current client: through the token bucket, refreshing an expired
        session once, waiting out transient failures, and translating the rest (see
        ``connectors.salesforce_errors``)."""
        refreshed = False
        failures = 0
        while True:
            self._stop_if_paused()
            self._bucket.acquire()
            client = self._current_client()
            self.requests_sent += 1
            self._local.retry_after = None
            error: VendorError | None = None
            network = ""
            try:
                result = call(client)
            except SalesforceError as exc:
                error = VendorError.of(exc.status, exc.content)
                action = classify(error)
            except requests.exceptions.SSLError:
                raise ConfigError(
                    [f"verify: the TLS certificate of {self._host()} was not trusted"],
                    source=self.settings.connection_name,
                ) from None
            except (
                requests.exceptions.ConnectionError,
                requests.exceptions.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                action = Action.WAIT
                network = type(exc).__name__
            else:
                self._note_usage(client)
                return result
            if action is Action.REFRESH:
                if refreshed:
                    raise ConfigError(
                        [
                            "token: Salesforce refused a freshly refreshed access token "
                            "(INVALID_SESSION_ID); reconnect the org"
                        ],
                        source=self.settings.connection_name,
                    )
                refreshed = True
                logger.info("salesforce %s: session expired; refreshing the token", what)
                self._refresh(client)
                continue
            if action is Action.WAIT:
                failures += 1
                policy = self.settings.retry_policy
                wait = policy.wait(failures, self._local.retry_after)
                reason = f"HTTP {error.status} {error.code}".rstrip() if error else network
                if policy.gives_up(failures, wait):
                    raise RetryLater(
                        f"Salesforce {what}: {reason} after {failures} attempt(s)", retry_after=wait
                    ) from None
                logger.warning(
                    "salesforce %s: %s; waiting %.1fs (retry %d of %d)",
                    what,
                    reason,
                    wait,
                    failures,
                    self.settings.max_retries,
                )
                self._bucket.hold_until(wait)
                continue
            assert error is not None
            if action is Action.RECORD and split_on_record:
                raise _RecordRefused(error)
            raise self._translate(action, error, what) from None

    def _translate(self, action: Action, error: VendorError, what: str) -> HubError:
        source = self.settings.connection_name
        code = f"{error.status} {error.code}".strip()
        if action is Action.BUDGET:
            with self._lock:
                self._paused_until = self._monotonic() + self.settings.budget_pause_s
            logger.error("salesforce %s: daily API allowance spent (%s); pausing calls", what, code)
            return BudgetExhausted(
                f"Salesforce {what}: the org's daily API allowance is spent ({code})",
                retry_after=self.settings.budget_pause_s,
            )
        if action is Action.RETRY_LATER:
            return RetryLater(f"Salesforce {what}: {code}; start again")
        if action is Action.CONFIG:
            if error.code == "INVALID_FIELD":
                name = error.fields[0] if error.fields else field_from_message(error.message)
                problem = f"fields: Salesforce has no field {name or '?'!r} for {what} (INVALID_FIELD)"
            elif error.code == "INVALID_TYPE":
                name = object_from_message(error.message)
                problem = f"objects: Salesforce has no object {name or '?'!r} for {what} (INVALID_TYPE)"
            elif error.status == 404:
                problem = (
                    f"{what}: Salesforce answered 404 {error.code or 'NOT_FOUND'}: the object or "
                    "external-id field does not exist in this org"
                )
            else:
                problem = f"{what}: Salesforce refused the request ({code}); check the integration user"
            return ConfigError([problem], source=source)
        if action is Action.RECORD:
            return FatalError(f"Salesforce {what}: {code}: {error.message}")
        return FatalError(f"Salesforce {what}: unexpected {code}: {error.message}")

    def _stop_if_paused(self) -> None:
        with self._lock:
            until = self._paused_until
        if until is None:
            return
        left = until - self._monotonic()
        if left > 0:
            raise BudgetExhausted("Salesforce: the org's daily API allowance is spent", retry_after=left)
        with self._lock:
            self._paused_until = None

    def _current_client(self) -> Salesforce:
        with self._lock:
            if self._client is None:
                self._client = self._build(self._tokens.token())
            return self._client

    def _refresh(self, failed: Salesforce) -> None:
        with self._lock:
            if self._client is not failed:
                return  # another thread refreshed already
            try:
                token = self._tokens.refresh()
            except HubError:
                raise
            except Exception as exc:
                raise ConfigError(
                    [f"token: refreshing the access token failed ({type(exc).__name__})"],
                    source=self.settings.connection_name,
                ) from None
            self._client = self._build(token)

    def _build(self, token: OAuthToken) -> Salesforce:
        if not token.instance_url:
            raise ConfigError(["token: the access token carries no instance_url"], source=self.settings.connection_name)
        return Salesforce(
            instance_url=token.instance_url,
            session_id=token.access_token,
            session=self._session,
            version=self.settings.api_version,
        )

    def _note_usage(self, client: Salesforce) -> None:
        usage = client.api_usage.get("api-usage")
        if usage is not None:
            self.api_used, self.api_limit = int(usage.used), int(usage.total)

    def _remember_retry_after(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        # simple-salesforce's exceptions keep the body but not the headers.
        self._local.retry_after = response.headers.get("Retry-After")

    def _host(self) -> str:
        return urlsplit(self._tokens.token().instance_url or "").netloc or "the org"

    def _name(self, name: str, what: str) -> str:
        try:
            return soql.check_name(name, what)
        except ValueError as exc:
            raise ConfigError([str(exc)], source=self.settings.connection_name) from None


# --- helpers ----------------------------------------------------------------------------------


#: What a converted lead says about its conversion.
_CONVERSION_FIELDS: Final = ("IsConverted", "ConvertedContactId", "ConvertedAccountId", "ConvertedDate")


def _conversion(record: Mapping[str, Any] | None, persons: set[str]) -> Conversion | None:
    """Where a converted lead went, from a Lead row with :data:`_CONVERSION_FIELDS`; None when the
    lead is not converted (or its contact is unknown)."""
    if not record or not record.get("IsConverted") or not record.get("ConvertedContactId"):
        return None
    account = str(record.get("ConvertedAccountId") or "") or None
    converted_on = record.get("ConvertedDate")
    return Conversion(
        contact_id=str(record["ConvertedContactId"]),
        account_id=account,
        person_account=bool(account and account[:15] in persons),
        converted_at=(
            datetime.combine(date.fromisoformat(str(converted_on)[:10]), time_of_day.min, tzinfo=UTC)
            if converted_on
            else None
        ),
    )


def _fields_of(body: Any) -> dict[str, FieldInfo]:
    fields: dict[str, FieldInfo] = {}
    for raw in (body or {}).get("fields", []):
        info = soql.field_info(raw)
        fields[info.name] = info
    return fields


#: Field types whose too-long values are left out rather than shortened (a cut email, phone or URL
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


def _pages(records: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    page: list[dict[str, Any]] = []
    for record in records:
        page.append(record)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


def _query_more(sf: Salesforce, *, url: str, timeout: float) -> Any:
    return sf.query_more(url, identifier_is_url=True, timeout=timeout)


def _new_session(verify: str | bool) -> requests.Session:
    session = requests.Session()
    session.verify = verify
    if isinstance(verify, str):
        # Otherwise REQUESTS_CA_BUNDLE in the environment silently wins over the configured bundle.
        session.trust_env = False
    return session


def _values(payload: Mapping[str, Any]) -> list[Any]:
    return [v for k, v in payload.items() if k != "attributes" and not isinstance(v, (dict, list))]


def _unique(names: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        if name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out


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


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, ConfigError) and exc.problems:
        return f"{exc.source}: {exc.problems[0]}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
