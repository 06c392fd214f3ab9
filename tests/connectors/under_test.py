"""What the connector contract suite needs from each implementation's fixture."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from connectors.base import CrmConnector


class Staff(Protocol):
    """Acts in the CRM the way a person would, through the vendor's own API (not the connector)."""

    def edit(self, crm_id: str, fields: dict[str, Any]) -> None: ...

    def complete_task(self, crm_id: str, outcome: str | None) -> None: ...

    def delete(self, crm_id: str) -> None: ...


@dataclass
class CrmUnderTest:
    """One connector and the facts about its CRM the contract suite needs.

    Attributes:
        connector: the connector, connected to a fresh CRM.
        staff: acts as a CRM user.
        record: builds valid lead fields for record ``n`` (required fields included).
        name_field: a writable text field (its value is read back to check updates).
        picklist_field: a restricted picklist field.
        good_value, bad_value: a value it allows and one it does not.
        settle: called between a write and a read when the CRM's search needs a moment (no-op
            for all current implementations; kept so a real CRM's indexing lag has a place).
    """

    connector: CrmConnector
    staff: Staff
    record: Callable[[int], dict[str, Any]]
    name_field: str
    picklist_field: str
    good_value: str
    bad_value: str
    settle: Callable[[], None] = lambda: None
