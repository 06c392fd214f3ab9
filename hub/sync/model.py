"""What the sync engine works with: a connected CRM (Destination), why a write failed (Problem),
the push and pull reports, and an outbox item taken for sending."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from connectors.base import (
    CrmConnector,
    FieldInfo,
)
from mapping.defaults import default_crm_mapping
from mapping.spec import FieldMapping

#: The repair task's step key: "set the next action" for a lead contacted without one.
REPAIR_STEP = "set_next_action"


#: The CRM field showing the hub's next action, per CRM (read for the "contacted without a next
#: action" rule).
NEXT_ACTION_FIELD = {"salesforce": "Next_Action__c", "hubspot": "nurturehub_next_action"}


@dataclass(slots=True, kw_only=True)
class Destination:
    """One connected CRM.

    Attributes:
        name: the destination name in the outbox ("salesforce", "hubspot").
        connector: how to reach it.
        mapping: the CRM object mapping (lead view ↔ CRM fields).
        next_action_field: the CRM field showing the hub's next action (read for the repair rule).
        overlap: how far before the saved cursor each pull starts again.

    An outbox item is dead-lettered after ``[inbox] max_attempts`` attempts, as inbox events are.
    """

    name: str
    connector: CrmConnector
    mapping: FieldMapping
    next_action_field: str
    overlap: timedelta = timedelta(minutes=5)
    describe_ttl: timedelta = timedelta(hours=1)
    _describe: tuple[datetime, Mapping[str, FieldInfo]] | None = field(default=None, repr=False)

    @classmethod
    def default(cls, name: str, connector: CrmConnector, *, obj: str | None = None) -> Destination:
        """A CRM with the built-in mapping of its object (Salesforce ``Lead`` unless ``obj``; HubSpot
        contacts) and its next-action field."""
        obj = obj or ("Lead" if name == "salesforce" else "contacts")
        return cls(
            name=name, connector=connector, mapping=default_crm_mapping(name, obj),
            next_action_field=NEXT_ACTION_FIELD[name],
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Problem:
    """Why an outbox item did not go through, as data: the code Sync errors groups it by (ours, or
    the CRM's), the field at fault when one is, and a sentence (ids and field names, never values).
    Stored as columns beside the message, so nothing reads the code back out of the text."""

    code: str
    text: str
    field: str | None = None

    @property
    def message(self) -> str:
        return f"{self.code}: {self.text}"

    def columns(self) -> dict[str, str | None]:
        return {
            "last_error": self.message[:2000],
            "error_code": self.code[:80],
            "error_field": self.field[:200] if self.field else None,
        }


@dataclass(slots=True)
class PushReport:
    written: int = 0
    failed: int = 0
    retrying: int = 0
    dead: int = 0
    calls: int = 0
    paused: bool = False
    #: Lead writes not sent because the CRM converted the record (read-only there).
    skipped: int = 0


@dataclass(slots=True)
class PullReport:
    records: int = 0
    changed: int = 0
    violations: int = 0
    tasks: int = 0
    touches: int = 0


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """An outbox item taken for sending."""

    id: int
    kind: str
    key: str
    lead_id: str
    attempts: int
