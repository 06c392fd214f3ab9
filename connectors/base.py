"""The CRM connector protocol: a handful of methods every CRM connector implements, an in-memory
fake implements too, and one contract suite (``tests/connectors/test_contract.py``, each
implementation's fixture a ``tests.connectors.under_test.CrmUnderTest``) checks them all.

Values crossing this boundary are plain: CRM field names and values (strings, numbers, booleans,
None) in, outcomes out. The hub decides *what* to write (through field mappings); connectors decide
*how* (batches, paging, rate limits, retries, vendor errors). Vendor exceptions never leave a
connector: each translates them once, at its edge, into the error tree in ``nurture.errors``:

- a record the CRM refused (bad picklist value, duplicate, validation rule) is a failed
  :class:`WriteOutcome` (a value, not an exception), with the vendor's code, message and field;
- a transient fault (429, 5xx, network) that outlasts the connector's own retries raises
  :class:`~nurture.errors.RetryLater` (with ``retry_after`` when the CRM said);
- a spent daily allowance raises :class:`~nurture.errors.BudgetExhausted`;
- bad credentials that a token refresh cannot fix, or a missing field or object, raise
  :class:`~nurture.errors.ConfigError`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from nurture.clock import require_aware

__all__ = [
    "Change",
    "ConnectionStatus",
    "Conversion",
    "CrmConnector",
    "FieldInfo",
    "RecordWrite",
    "TaskChange",
    "TaskKind",
    "TaskState",
    "TaskWrite",
    "WriteOutcome",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionStatus:
    """What ``check`` found.

    Attributes:
        ok: the connection works.
        detail: one sentence for the admin ("connected to org 00D… as nurturehub@…").
        api_used, api_limit: the CRM's own count of today's API calls, when it reports one.
    """

    ok: bool
    detail: str
    api_used: int | None = None
    api_limit: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldInfo:
    """One field of a CRM object, as the CRM describes it.

    Attributes:
        name: the API name (``Intent__c``, ``nurturehub_intent``).
        label: what admins see.
        type: the CRM's type name (picklist, string, boolean, datetime, enumeration …).
        writable: can be set on create or update through the API.
        required: must be set on create.
        picklist: active values for picklist/enumeration fields, else None.
        restricted: only picklist values are accepted.
        unique: values are unique (usable as an external id / idProperty).
        length: the most characters a text value may have, when the CRM says (Salesforce
            ``length``); longer values are shortened for this CRM, with a note.
        default: the picklist value the CRM gives new records (Salesforce ``defaultValue`` /
            LeadStatus ``IsDefault``), if any.
        reserved: picklist values only the CRM itself may set — Salesforce's converted lead
            statuses (LeadStatus ``IsConverted``): writing one makes a record look converted.
    """

    name: str
    label: str
    type: str
    writable: bool
    required: bool = False
    picklist: tuple[str, ...] | None = None
    restricted: bool = False
    unique: bool = False
    length: int | None = None
    default: str | None = None
    reserved: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordWrite:
    """One record to upsert by the hub's external id.

    Attributes:
        external_id: the hub's lead id, stored in the CRM's external-id field.
        fields: CRM field → value (the mapping's output). The external-id field is added by the
            connector.
    """

    external_id: str
    fields: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteOutcome:
    """What happened to one record or task of a batch.

    Attributes:
        key: the external id (records) or task key (tasks) the outcome is for.
        ok: written.
        crm_id: the CRM's id of the record or task.
        created: True when the write created it.
        code: the vendor's error code (``INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST``, ``INVALID_OPTION`` …).
        message: the vendor's message, with record values removed.
        field: the field at fault, when the vendor says.
        retriable: the failure is transient (the batch was rolled back, a lock, a 5xx for this record).
        duplicate_of: the CRM refused to make a second record of someone it already holds (HubSpot's
            409 "Contact already exists" on an email): that record's id, for the hub to link.
        notes: what the connector changed so the record fits the CRM, value-free (``FirstName
            shortened to 40 characters``); the record was written.
        converted: the record was converted in the CRM (a Salesforce lead that became a Contact
            and Account): where it went. Writes to it stop; tasks follow it.
    """

    key: str
    ok: bool
    crm_id: str | None = None
    created: bool = False
    code: str = ""
    message: str = ""
    field: str | None = None
    retriable: bool = False
    duplicate_of: str | None = None
    notes: tuple[str, ...] = ()
    converted: Conversion | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Conversion:
    """A lead record the CRM converted (Salesforce lead conversion): read-only from then on.

    Attributes:
        contact_id: the Contact it became (for a Person Account, the account's person contact):
            where the lead's tasks go (``WhoId``).
        account_id: the Account it joined, or the Person Account it became.
        person_account: the lead became a Person Account.
        converted_at: when, if the CRM says (aware).
    """

    contact_id: str
    account_id: str | None = None
    person_account: bool = False
    converted_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.contact_id:
            raise ValueError("Conversion.contact_id must not be empty")
        if self.converted_at is not None:
            require_aware(self.converted_at, "Conversion.converted_at")


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """A CRM record as it is now, read because it changed.

    Attributes:
        crm_id: the CRM's id.
        external_id: the hub id stored on it, if any (records made in the CRM have none).
        modified_at: the CRM's last-modified stamp (SystemModstamp / lastmodifieddate), aware.
        fields: field → value for the fields asked for.
        converted: the record was converted (Salesforce lead conversion) and where it went; its
            fields are the lead's as they were at conversion.
    """

    crm_id: str
    external_id: str | None
    modified_at: datetime
    fields: Mapping[str, Any] = field(default_factory=dict)
    converted: Conversion | None = None

    def __post_init__(self) -> None:
        require_aware(self.modified_at, "Change.modified_at")


class TaskKind(StrEnum):
    CALL = "call"
    EMAIL = "email"
    SMS = "sms"
    TODO = "todo"


class TaskState(StrEnum):
    """A task's state as the hub sees it. The hub never deletes tasks: it cancels them, which CRMs
    show as Deferred, and staff complete them."""

    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskWrite:
    """A follow-up task to create or update, idempotently by ``key``.

    Attributes:
        key: ``<lead id>:<step key>`` — the same key always addresses the same task.
        lead_crm_id: the CRM id of the lead/contact the task is about.
        subject: what staff read; never PHI (step label and lead id only).
        body: instructions; never PHI.
        kind: call, email, sms or to-do.
        due_at: when it is due, aware.
        owner_queue: the hub's queue name; the connector maps it to a CRM owner or queue.
        state: open, or cancelled (the hub never completes a task on staff's behalf).
    """

    key: str
    lead_crm_id: str
    subject: str
    body: str
    kind: TaskKind
    due_at: datetime
    owner_queue: str
    state: TaskState = TaskState.OPEN

    def __post_init__(self) -> None:
        require_aware(self.due_at, "TaskWrite.due_at")
        if ":" not in self.key:
            raise ValueError("TaskWrite.key is '<lead id>:<step key>'")
        if self.state is TaskState.COMPLETED:
            raise ValueError("the hub never completes a task on staff's behalf")


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskChange:
    """A task as it is now, read because it changed.

    Attributes:
        key: the hub's task key, when the task is the hub's.
        crm_id: the CRM's id.
        lead_crm_id: the lead/contact it is about.
        state: open, completed or cancelled.
        outcome: what staff recorded: no_answer, left_voicemail, reached, booked, declined, or
            None (from Salesforce's CallDisposition, or HubSpot's nurturehub_outcome property).
        completed_at: when it was completed, if it was.
        modified_at: the CRM's last-modified stamp.
    """

    key: str | None
    crm_id: str
    lead_crm_id: str | None
    state: TaskState
    outcome: str | None
    completed_at: datetime | None
    modified_at: datetime


#: The outcomes a completed task can carry, in the hub's words.
TASK_OUTCOMES = ("no_answer", "left_voicemail", "reached", "booked", "declined")


@runtime_checkable
class CrmConnector(Protocol):
    """What the sync engine needs from a CRM."""

    #: "salesforce" or "hubspot" (the destination name in the outbox).
    system: str
    #: The object leads live in (Salesforce "Lead"/"Contact", HubSpot "contacts").
    lead_object: str
    #: The external-id field holding the hub's lead id (``Nurture_Id__c``, ``nurturehub_id``).
    external_id_field: str
    #: Most records one upsert call takes (200 Salesforce, 100 HubSpot).
    max_batch: int

    def check(self) -> ConnectionStatus:
        """Whether the connection works, and the API usage the CRM reports."""
        ...

    def describe(self, object_name: str) -> Mapping[str, FieldInfo]:
        """The fields of ``object_name``, with picklist values."""
        ...

    def upsert(self, records: Sequence[RecordWrite]) -> list[WriteOutcome]:
        """Upsert leads by the hub's external id, in calls of at most ``max_batch``; one outcome per
        record, in order. One bad record never fails the others."""
        ...

    def read_changes(self, since: datetime | None, fields: Sequence[str]) -> Iterator[Change]:
        """Every lead record modified at or after ``since`` (all of them when None), oldest first
        (ties by id), each with ``fields``. The caller applies its overlap window to ``since``."""
        ...

    def upsert_tasks(self, tasks: Sequence[TaskWrite]) -> list[WriteOutcome]:
        """Create or update tasks by their key; one outcome per task, in order."""
        ...

    def read_task_changes(self, since: datetime | None) -> Iterator[TaskChange]:
        """Every task modified at or after ``since``, oldest first."""
        ...

    def existing(self, crm_ids: Sequence[str]) -> set[str]:
        """Which of ``crm_ids`` still exist (a merge or delete in the CRM removes them)."""
        ...

    def link(self, links: Sequence[tuple[str, str]]) -> list[WriteOutcome]:
        """Write the hub's id onto records that already exist in the CRM: ``(crm_id, external_id)``
        pairs, for a record made in the CRM that turned out to be a hub lead. Later upserts by the
        hub's id then update that record instead of creating a second one. One outcome per pair,
        keyed by the external id."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class OAuthToken:
    """An access token and what came with it.

    Attributes:
        access_token: the bearer token (a secret: never logged).
        instance_url: Salesforce's instance URL for this org (None for HubSpot).
        expires_at: when it stops working, if the server said.
    """

    access_token: str
    instance_url: str | None = None
    expires_at: datetime | None = None

    def __repr__(self) -> str:
        return f"OAuthToken(instance_url={self.instance_url!r}, expires_at={self.expires_at!r})"


class TokenSource(Protocol):
    """Where a connector gets its access token, and a new one when the CRM says it expired.

    The hub's implementation keeps tokens encrypted in the store and refreshes them with Authlib;
    tests use :class:`StaticTokens`.
    """

    def token(self) -> OAuthToken:
        """The current token."""
        ...

    def refresh(self) -> OAuthToken:
        """A fresh token (raises ConfigError when the refresh token is no longer accepted)."""
        ...


class StaticTokens:
    """A token source that hands out fixed tokens (tests, the demo's pre-connected sandboxes).

    Args:
        tokens: handed out in order; ``refresh`` moves to the next one.
    """

    def __init__(self, *tokens: OAuthToken) -> None:
        if not tokens:
            raise ValueError("StaticTokens needs at least one token")
        self._tokens = list(tokens)
        self._index = 0
        self.refreshes = 0

    def token(self) -> OAuthToken:
        return self._tokens[self._index]

    def refresh(self) -> OAuthToken:
        self.refreshes += 1
        self._index = min(self._index + 1, len(self._tokens) - 1)
        return self._tokens[self._index]
