"""Picklist pre-flight, the pure part: given what the CRM says about its fields (the connector's
``describe``), list every way a CRM mapping would be refused before a single record is sent.

For each rule it checks that the target field exists, that outbound rules can write it, and that every
value the rule can produce is an active picklist value. The values a rule can produce are worked out
by running the rule's transforms over what can come in: the whole vocabulary when the source is a
fixed-vocabulary lead-view field (``stage``, ``consent.sms.state`` …), else the constants of its value
tables and defaults. A vocabulary value that a transform refuses (a stage missing from a value table
without a default) is reported too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mapping.apply import FieldError
from mapping.errors import TransformError
from mapping.paths import ABSENT, as_text
from mapping.shapes import vocabulary_of
from mapping.spec import FieldMapping, MappingKind, Rule, TransformStep
from mapping.transforms import is_empty

__all__ = ["FieldInfo", "picklist_problems", "producible_values"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldInfo:
    """What the CRM says about one field (from Salesforce ``describe`` or HubSpot's properties API).

    Attributes:
        exists: the field exists on the object.
        writable: the integration user can create and update it (not a formula or read-only field).
        picklist_values: the *active* picklist values when the field is a picklist (or HubSpot
            enumeration), None when any value is accepted.
        reserved_values: values only the CRM itself may set (Salesforce's converted lead statuses,
            LeadStatus ``IsConverted``): a mapping that can write one is refused.
        default_value: the value the CRM gives new records (LeadStatus ``IsDefault``): a rule
            writing the hub's ``stage`` must give new leads this value.
    """

    exists: bool = True
    writable: bool = True
    picklist_values: frozenset[str] | None = None
    reserved_values: frozenset[str] = frozenset()
    default_value: str | None = None

    def __post_init__(self) -> None:
        if self.picklist_values is not None:
            object.__setattr__(self, "picklist_values", frozenset(self.picklist_values))
            if not all(isinstance(v, str) for v in self.picklist_values):
                raise ValueError("FieldInfo.picklist_values must be text")
        object.__setattr__(self, "reserved_values", frozenset(self.reserved_values))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Produced:
    """What a rule can write.

    Attributes:
        values: the values found (may hold ABSENT: "writes nothing").
        complete: every possible value is listed (the input was a fixed vocabulary).
        refused: vocabulary values a transform refuses, with the transform's message.
    """

    values: tuple[Any, ...]
    complete: bool
    refused: tuple[tuple[Any, str], ...]


def producible_values(rule: Rule) -> tuple[tuple[Any, ...], bool]:
    """The values ``rule`` can write, and whether that list is complete.

    Complete when the rule reads one fixed-vocabulary lead-view field; otherwise the list holds only
    the constants its transforms can produce (value tables, defaults).
    """
    produced = _produce(rule)
    return produced.values, produced.complete


def _produce(rule: Rule) -> _Produced:
    vocabulary = vocabulary_of(rule.sources[0]) if len(rule.sources) == 1 else None
    values: list[Any] = [*vocabulary, ABSENT] if vocabulary is not None else []
    complete = vocabulary is not None
    refused: list[tuple[Any, str]] = []
    origins: list[Any] = list(values)
    for step in rule.transforms:
        definition = step.definition
        if definition.name == "concat":
            return _Produced(values=(), complete=False, refused=tuple(refused))
        next_values: list[Any] = []
        next_origins: list[Any] = []
        for origin, value in zip(origins, values, strict=True):
            try:
                out = _run(step, value)
            except TransformError as exc:
                if complete:
                    refused.append((origin, f"{step.name}: {exc}"))
                continue
            for item in out:
                next_values.append(item)
                next_origins.append(origin)
        if not complete and definition.produces is not None:
            constants = definition.produces(step.options)
            next_values += constants
            next_origins += constants
        values, origins = next_values, next_origins
    return _Produced(values=tuple(values), complete=complete, refused=tuple(refused))


def _run(step: TransformStep, value: Any) -> list[Any]:
    definition = step.definition
    if is_empty(value) and not definition.fills_empty:
        return [value]
    out = definition.run(value, step.options, lambda _path: ABSENT)
    if isinstance(out, list | tuple):
        return list(out)
    return [out]


def picklist_problems(mapping: FieldMapping, describe: Mapping[str, FieldInfo]) -> list[FieldError]:
    """Every problem the CRM would raise for ``mapping``, before any record is sent.

    Args:
        mapping: a CRM mapping.
        describe: target field name → what the CRM says about it. A field missing from ``describe``
            is reported as not existing.

    Returns:
        One :class:`FieldError` per problem; each message names the field and, for picklists, the
        value. Empty when the mapping fits the CRM.

    Raises:
        ValueError: ``mapping`` is not a CRM mapping.
    """
    if mapping.kind is not MappingKind.CRM_OBJECT:
        raise ValueError(f"picklist_problems needs a CRM mapping; {mapping.name!r} is a source mapping")
    where = f"{mapping.system} {mapping.object}"
    problems: list[FieldError] = []
    for rule in mapping.rules:
        info = describe.get(rule.target)
        if info is None or not info.exists:
            problems.append(FieldError(rule.target, f"{rule.target} does not exist on {where}"))
            continue
        assert rule.direction is not None
        if not rule.direction.outbound:
            continue
        if not info.writable:
            problems.append(FieldError(rule.target, f"{rule.target} is not writable on {where}"))
        produced = _produce(rule)
        for origin, message in produced.refused:
            problems.append(
                FieldError(
                    rule.target,
                    f"{rule.target}: hub value {_show(origin)} of {rule.sources[0]} cannot be written ({message})",
                )
            )
        if info.picklist_values is not None:
            problems += _not_in_picklist(rule.target, produced.values, info.picklist_values)
        problems += _reserved(rule.target, produced.values, info.reserved_values, where)
        if info.default_value is not None and rule.sources == ("stage",):
            problems += _new_leads_status(rule, info.default_value, where)
    return problems


def _reserved(target: str, values: Iterable[Any], reserved: frozenset[str], where: str) -> list[FieldError]:
    found = sorted({text for v in values if not is_empty(v) and (text := as_text(v)) in reserved})
    return [
        FieldError(
            target,
            f"{target}: {value!r} is a converted status in {where}: only the CRM's lead conversion may set it",
        )
        for value in found
    ]


def _new_leads_status(rule: Rule, default: str, where: str) -> list[FieldError]:
    """A rule writing the stage must give a new lead the org's default status (where the org's
    assignment rules and queues expect new leads)."""
    written: list[Any] = ["new"]
    for step in rule.transforms:
        try:
            written = [item for value in written for item in _run(step, value)]
        except TransformError:
            return []  # reported with the refused values
    values = [as_text(v) for v in written if not is_empty(v)]
    if not values or values == [default]:
        return []
    return [
        FieldError(
            rule.target,
            f"{rule.target}: new leads would get {values[0]!r}, but the default status of {where} is {default!r}",
        )
    ]


def _not_in_picklist(target: str, values: Iterable[Any], allowed: frozenset[str]) -> list[FieldError]:
    out: list[FieldError] = []
    seen: set[str] = set()
    for value in values:
        if is_empty(value):
            continue
        text = as_text(value)
        if text is None or text in allowed or text in seen:
            continue
        seen.add(text)
        out.append(FieldError(target, f"{target}: {_show(value)} is not an active picklist value"))
    return out


def _show(value: Any) -> str:
    return "(no value)" if value is ABSENT else repr(as_text(value) if as_text(value) is not None else value)
