"""Settings of the Salesforce connector: one frozen value, checked where it is defined, every problem
reported at once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from connectors.limits import RetryPolicy
from connectors.salesforce.soql import IDENTIFIER
from nurture.clock import zone
from nurture.errors import ConfigError

__all__ = ["MIN_API_VERSION", "SalesforceSettings"]

#: Collections upsert by external id needs API 46.0 or later.
MIN_API_VERSION: Final = 46.0
_VERSION: Final = re.compile(r"\d{2,3}\.0\Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class SalesforceSettings:
    """How the hub uses one Salesforce org. Every problem is reported at once, as a ConfigError.

    Attributes:
        connection_name: names this connection in errors ("salesforce").
        api_version: REST API version, "46.0" or later (collections upsert by external id).
        lead_object: "Lead", "Contact" or "Account": where the hub's leads live. "Account" means
            Person Accounts (Health Cloud orgs keep patients as Person Accounts): records are
            written with the person-account record type, reads keep ``IsPersonAccount = true``,
            and tasks relate to the account (``WhatId``).
        person_record_type: with "Account", the DeveloperName (or the Id) of the person-account
            record type new records get.
        external_id_field: the external-id field holding the hub's lead id.
        task_key_field: the Task external-id field holding the hub's task key.
        owner_queue_field: the lead field the mapping fills with the hub queue name; with
            ``lead_queue_owners`` the connector sets ``OwnerId`` from it.
        task_owners: hub queue name → the User Id or Username that owns that queue's tasks
            (a Group Id is passed through for orgs that allow Task queues).
        default_task_owner: owner of tasks whose queue is not in ``task_owners``; None leaves the
            integration user as owner.
        lead_queue_owners: hub queue name → Group Id, DeveloperName or Name of the Salesforce queue
            that should own the lead (Lead only: Contacts cannot be queue-owned).
        task_date_timezone: IANA zone for a task's ``ActivityDate`` (the date shown as due); None
            takes the date in the zone ``due_at`` carries.
        requests_per_second, burst: the client-side token bucket.
        max_retries: transient failures (429, 5xx, network) retried before RetryLater.
        max_wait_s: longest Retry-After the connector sleeps; longer becomes RetryLater.
        backoff_s: first backoff when the server gives no Retry-After (doubles each retry).
        timeout_s: HTTP timeout of each call.
        budget_pause_s: after the daily allowance runs out, calls fail fast this long.
        allow_duplicate_save: send ``Sforce-Duplicate-Rule-Header: allowSave=true``.
        verify: CA bundle path, or True for the system store.
        describe_ttl_s: how long an object's describe (fields, lengths, lead statuses) is reused.
    """

    connection_name: str = "salesforce"
    api_version: str = "59.0"
    lead_object: str = "Lead"
    person_record_type: str = "PersonAccount"
    external_id_field: str = "Nurture_Id__c"
    task_key_field: str = "Nurture_Task_Key__c"
    owner_queue_field: str = "Owner_Queue__c"
    task_owners: Mapping[str, str] = field(default_factory=dict)
    default_task_owner: str | None = None
    lead_queue_owners: Mapping[str, str] = field(default_factory=dict)
    task_date_timezone: str | None = None
    requests_per_second: float = 20.0
    burst: int = 25
    max_retries: int = 5
    max_wait_s: float = 60.0
    backoff_s: float = 0.5
    timeout_s: float = 30.0
    budget_pause_s: float = 900.0
    allow_duplicate_save: bool = False
    verify: str | bool = True
    describe_ttl_s: float = 3600.0

    @property
    def retry_policy(self) -> RetryPolicy:
        """How one call retries in place (connectors.limits)."""
        return RetryPolicy(self.max_retries, self.max_wait_s, self.backoff_s)

    def __post_init__(self) -> None:
        object.__setattr__(self, "task_owners", MappingProxyType(dict(self.task_owners)))
        object.__setattr__(self, "lead_queue_owners", MappingProxyType(dict(self.lead_queue_owners)))
        problems: list[str] = []
        if not self.connection_name.strip():
            problems.append("connection_name: must not be empty")
        if not _VERSION.match(self.api_version) or float(self.api_version) < MIN_API_VERSION:
            problems.append(f"api_version: {self.api_version!r} is not a REST version of 46.0 or later")
        if self.lead_object not in {"Lead", "Contact", "Account"}:
            problems.append(
                f"lead_object: {self.lead_object!r} is not 'Lead', 'Contact' or 'Account' (Person Accounts)"
            )
        if not IDENTIFIER.match(self.person_record_type):
            problems.append(f"person_record_type: {self.person_record_type!r} is not a DeveloperName or an Id")
        for name in ("external_id_field", "task_key_field", "owner_queue_field"):
            value = getattr(self, name)
            if not IDENTIFIER.match(value):
                problems.append(f"{name}: {value!r} is not a Salesforce API name")
        for queue, owner in self.task_owners.items():
            if not queue.strip() or not owner.strip():
                problems.append(f"task_owners: {queue!r} → {owner!r} needs a queue name and an owner")
        if self.default_task_owner is not None and not self.default_task_owner.strip():
            problems.append("default_task_owner: must not be empty (None means the integration user)")
        if self.lead_queue_owners and self.lead_object != "Lead":
            problems.append(f"lead_queue_owners: only Leads can be owned by a queue, not {self.lead_object}s")
        for queue, owner in self.lead_queue_owners.items():
            if not queue.strip() or not owner.strip():
                problems.append(f"lead_queue_owners: {queue!r} → {owner!r} needs a queue name and a queue")
        if self.task_date_timezone is not None:
            try:
                zone(self.task_date_timezone)
            except ValueError as exc:
                problems.append(f"task_date_timezone: {exc}")
        if self.requests_per_second <= 0:
            problems.append("requests_per_second: must be positive")
        if self.burst < 1:
            problems.append("burst: must be at least 1")
        if self.max_retries < 0:
            problems.append("max_retries: must not be negative")
        for name in ("max_wait_s", "backoff_s", "budget_pause_s", "describe_ttl_s"):
            if getattr(self, name) < 0:
                problems.append(f"{name}: must not be negative")
        if self.timeout_s <= 0:
            problems.append("timeout_s: must be positive")
        if isinstance(self.verify, str) and not self.verify.strip():
            problems.append("verify: a CA bundle path, or true")
        if problems:
            raise ConfigError(problems, source=f"Salesforce settings ({self.connection_name})")
