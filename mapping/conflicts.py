"""Conflict resolution for one CRM field that the hub and the CRM both hold (pure: times are arguments).

:func:`resolve` applies the rule's conflict policy, then its direction: a side the rule never writes to
cannot be overwritten, whoever "wins".

=============  ==========================================================================================
policy         outcome
=============  ==========================================================================================
hub_wins       the hub's value
crm_wins       the CRM's value
newest_wins    the value changed last; a side without a change time loses to one with; a tie goes to
               the hub
fill_if_blank  a blank side takes the other side's value; two non-blank values are both left alone
=============  ==========================================================================================

Blank means ``None``, absent, empty text or an empty list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from mapping.spec import Conflict, Rule
from mapping.transforms import is_empty

__all__ = ["Resolution", "Winner", "resolve"]


class Winner(StrEnum):
    """Which side's value should stand on both sides."""

    HUB = "hub"  # write the hub's value to the CRM
    CRM = "crm"  # write the CRM's value to the hub
    NEITHER = "neither"  # nothing to write (equal values, or the policy keeps both)


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolution:
    """The outcome of :func:`resolve`.

    Attributes:
        winner: whose value stands.
        value: the value that stands (the hub's when nothing is written).
        reason: a short code saying why (``equal``, ``hub_wins``, ``crm_newer``, ``fill_crm`` …).
    """

    winner: Winner
    value: Any
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "winner", Winner(self.winner))
        if not self.reason:
            raise ValueError("Resolution.reason must say why")

    @property
    def writes_crm(self) -> bool:
        return self.winner is Winner.HUB

    @property
    def writes_hub(self) -> bool:
        return self.winner is Winner.CRM


def _aware(value: datetime | None, what: str) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{what} must be a timezone-aware datetime")


def resolve(
    rule: Rule,
    hub_value: Any,
    hub_changed_at: datetime | None,
    crm_value: Any,
    crm_changed_at: datetime | None,
) -> Resolution:
    """Decide which side's value of one field stands.

    Args:
        rule: the CRM rule (its conflict policy and direction are used).
        hub_value: the hub's value.
        hub_changed_at: when the hub's value last changed, aware; None when unknown.
        crm_value: the CRM's value, in the same spelling as ``hub_value``: both CRM-side (the hub's
            through ``apply_outbound``) or both hub-side (the CRM's through ``apply_inbound``).
        crm_changed_at: when the CRM's value last changed (e.g. ``LastModifiedDate``), aware; None
            when unknown.

    Raises:
        ValueError: ``rule`` has no direction (it belongs to a source mapping) or a time is naive.
    """
    if rule.direction is None:
        raise ValueError(f"rule for {rule.target!r} has no direction: conflicts concern CRM rules only")
    _aware(hub_changed_at, "hub_changed_at")
    _aware(crm_changed_at, "crm_changed_at")
    if _same(hub_value, crm_value):
        return Resolution(winner=Winner.NEITHER, value=hub_value, reason="equal")
    winner, reason = _policy(rule.effective_conflict, hub_value, hub_changed_at, crm_value, crm_changed_at)
    if winner is Winner.HUB and not rule.direction.outbound:
        winner, reason = Winner.NEITHER, "direction_crm_to_hub"
    if winner is Winner.CRM and not rule.direction.inbound:
        winner, reason = Winner.NEITHER, "direction_hub_to_crm"
    value = crm_value if winner is Winner.CRM else hub_value
    return Resolution(winner=winner, value=value, reason=reason)


def _same(a: Any, b: Any) -> bool:
    if is_empty(a) and is_empty(b):
        return True
    return bool(a == b)


def _policy(
    policy: Conflict,
    hub_value: Any,
    hub_changed_at: datetime | None,
    crm_value: Any,
    crm_changed_at: datetime | None,
) -> tuple[Winner, str]:
    if policy is Conflict.HUB_WINS:
        return Winner.HUB, "hub_wins"
    if policy is Conflict.CRM_WINS:
        return Winner.CRM, "crm_wins"
    if policy is Conflict.FILL_IF_BLANK:
        if is_empty(crm_value):
            return Winner.HUB, "fill_crm"
        if is_empty(hub_value):
            return Winner.CRM, "fill_hub"
        return Winner.NEITHER, "both_filled"
    if crm_changed_at is None and hub_changed_at is None:
        return Winner.HUB, "no_change_times"
    if crm_changed_at is None:
        return Winner.HUB, "hub_newer"
    if hub_changed_at is None:
        return Winner.CRM, "crm_newer"
    if crm_changed_at > hub_changed_at:
        return Winner.CRM, "crm_newer"
    return Winner.HUB, "hub_newer" if hub_changed_at > crm_changed_at else "tie_hub"
