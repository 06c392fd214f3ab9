"""Running mappings: webhook payload → inquiry JSON, lead view → CRM record and back, and a preview.

* :func:`apply` maps one payload with every rule of a source mapping (or the outbound rules of a CRM
  mapping). Bad values never raise: each becomes a :class:`FieldError` in the result, next to the values
  that did map.
* :func:`apply_outbound` / :func:`apply_inbound` map a lead's plain view to a CRM record and a CRM record
  back to lead-view fields, honouring each rule's direction.
* :func:`reverse` undoes every reversible rule of a CRM mapping (see :func:`mapping.spec.is_reversible`):
  the CRM value is run through the inverse of each transform, last first. Rules that cannot be reversed
  leave their raw CRM value in ``observed`` so a sync can still notice that it changed.
* :func:`preview` applies a mapping to several payloads and lays the results out field by field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from mapping.errors import TransformError
from mapping.paths import ABSENT, Path, resolve
from mapping.schemas import record_problems
from mapping.shapes import CONSENT_KEYS
from mapping.spec import FieldMapping, MappingKind, Rule, TransformStep, is_reversible
from mapping.transforms import is_empty
from nurture.vocab import ContactChannel

__all__ = [
    "FieldError",
    "MappingResult",
    "Preview",
    "PreviewCell",
    "PreviewRow",
    "apply",
    "apply_inbound",
    "apply_outbound",
    "nest",
    "preview",
    "reverse",
    "run_chain",
]


class FieldError(NamedTuple):
    """A problem with one field of one record: the target (or hub field) and what is wrong.

    The message names the transform or rule at fault and never repeats the value.
    """

    target: str
    message: str


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True, slots=True, kw_only=True)
class MappingResult:
    """What mapping one record produced.

    Attributes:
        values: target → value, for every field that mapped (targets are dotted: ``consent.sms.granted``;
            for :func:`reverse` they are lead-view paths such as ``consent.sms.state``).
        errors: fields that could not be mapped, each with its message, in rule order.
        sources: target → the path (or, for :func:`reverse`, the CRM field) the value came from.
        absent: optional targets that found no value (not errors).
        observed: :func:`reverse` only: CRM field → raw value, for rules that cannot be reversed (a
            many-to-one status table, a constant) so a sync can notice a change it cannot map back.
        warnings: :func:`reverse` only: hub fields that two CRM fields disagreed about (the first won).
    """

    values: Mapping[str, Any] = field(default_factory=dict)
    errors: tuple[FieldError, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict)
    absent: tuple[str, ...] = ()
    observed: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[FieldError, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _frozen(self.values))
        object.__setattr__(self, "sources", _frozen(self.sources))
        object.__setattr__(self, "observed", _frozen(self.observed))
        object.__setattr__(self, "errors", tuple(FieldError(*e) for e in self.errors))
        object.__setattr__(self, "warnings", tuple(FieldError(*e) for e in self.warnings))
        object.__setattr__(self, "absent", tuple(self.absent))
        clash = set(self.values) & set(self.absent)
        if clash:
            raise ValueError(f"MappingResult targets both mapped and absent: {sorted(clash)}")

    @property
    def ok(self) -> bool:
        """True when no field failed."""
        return not self.errors

    def record(self) -> dict[str, Any]:
        """The values as a nested record: ``{"consent": {"sms": {"granted": True}}, ...}``."""
        return nest(self.values)

    def errors_for(self, target: str) -> list[str]:
        """Messages of the errors on ``target`` or on a field inside it."""
        return [e.message for e in self.errors if e.target == target or e.target.startswith(target + ".")]


def nest(values: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys to nested dicts: ``{"consent.sms.granted": True}`` → ``{"consent": {"sms": {...}}}``."""
    out: dict[str, Any] = {}
    for dotted, value in values.items():
        *parents, last = dotted.split(".")
        node = out
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[last] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


# --- running one rule --------------------------------------------------------------------------------


def run_chain(steps: Iterable[TransformStep], value: Any, data: object) -> Any:
    """Run ``value`` through ``steps``; ``data`` is the record other paths (``concat``) are read from.

    Empty values skip every transform that does not fill empties.

    Raises:
        TransformError: the message is prefixed with the transform's name (``e164: not a valid …``).
    """

    def lookup(path: Path) -> Any:
        return resolve(data, path)

    for step in steps:
        definition = step.definition
        if is_empty(value) and not definition.fills_empty:
            continue
        try:
            value = definition.run(value, step.options, lookup)
        except TransformError as exc:
            raise TransformError(f"{step.name}: {exc}") from None
    return value


def _first_present(rule: Rule, data: object) -> tuple[Any, str | None]:
    for path in rule.paths:
        value = resolve(data, path)
        if not is_empty(value):
            return value, path.text
    return ABSENT, None


def _map_rules(
    rules: Sequence[Rule], data: object
) -> tuple[dict[str, Any], list[FieldError], dict[str, str], list[str]]:
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    sources: dict[str, str] = {}
    absent: list[str] = []
    for rule in rules:
        raw, used = _first_present(rule, data)
        try:
            value = run_chain(rule.transforms, raw, data)
        except TransformError as exc:
            errors.append(FieldError(rule.target, str(exc)))
            continue
        if is_empty(value):
            if rule.required:
                looked = ", ".join(rule.sources) or "its default"
                errors.append(FieldError(rule.target, f"required, but there is no value (looked at {looked})"))
            else:
                absent.append(rule.target)
            continue
        values[rule.target] = _plain(value)
        if used is not None:
            sources[rule.target] = used
    return values, errors, sources, absent


def _drop_undecided_consent(values: dict[str, Any], absent: list[str], sources: dict[str, str]) -> None:
    """A consent statement needs its decision: wording or source without ``granted`` is dropped."""
    for channel in ContactChannel:
        prefix = f"consent.{channel.value}"
        if f"{prefix}.granted" in values:
            continue
        for key in CONSENT_KEYS:
            target = f"{prefix}.{key}"
            if target in values:
                del values[target]
                sources.pop(target, None)
                absent.append(target)


def apply(mapping: FieldMapping, payload: object) -> MappingResult:
    """Map one record with ``mapping``.

    For a source mapping the payload is the webhook body (as parsed JSON) and the result's
    :meth:`~MappingResult.record` is the hub's inquiry JSON; its types are checked too, and type
    problems are field errors. For a CRM mapping this is :func:`apply_outbound`.

    Args:
        mapping: the mapping to run.
        payload: the record to read from.

    Returns:
        The mapped values, the per-field errors, the paths used and the absent optional fields.
    """
    if mapping.kind is MappingKind.CRM_OBJECT:
        return apply_outbound(mapping, payload)
    values, errors, sources, absent = _map_rules(mapping.rules, payload)
    _drop_undecided_consent(values, absent, sources)
    failed = {e.target for e in errors}
    for key, message in record_problems(nest(values)):
        if key not in failed:
            errors.append(FieldError(key, message))
        for target in [t for t in values if _overlaps(t, key)]:  # a refused value is not a value
            del values[target]
            sources.pop(target, None)
    return MappingResult(values=values, errors=tuple(errors), sources=sources, absent=tuple(absent))


def _overlaps(target: str, key: str) -> bool:
    return target == key or key.startswith(target + ".") or target.startswith(key + ".")


def apply_outbound(mapping: FieldMapping, lead_view: object) -> MappingResult:
    """Map a lead's plain view to CRM fields with the rules that write the CRM (hub_to_crm, both).

    Raises:
        ValueError: ``mapping`` is not a CRM mapping.
    """
    _require_crm(mapping, "apply_outbound")
    values, errors, sources, absent = _map_rules(mapping.outbound_rules(), lead_view)
    return MappingResult(values=values, errors=tuple(errors), sources=sources, absent=tuple(absent))


def apply_inbound(mapping: FieldMapping, crm_record: Mapping[str, Any]) -> MappingResult:
    """Map a CRM record back to lead-view fields with the rules that read the CRM (crm_to_hub, both).

    Rules that cannot be reversed are skipped; their raw CRM values are in ``observed``.

    Raises:
        ValueError: ``mapping`` is not a CRM mapping.
    """
    _require_crm(mapping, "apply_inbound")
    return _reverse(mapping.inbound_rules(), crm_record)


def reverse(mapping: FieldMapping, crm_record: Mapping[str, Any]) -> MappingResult:
    """Turn a CRM record back into lead-view fields with every reversible rule, whatever its direction.

    The result's values are keyed by lead-view path (``contact.email``, ``consent.sms.state``) and its
    sources name the CRM field each came from. A CRM value that a transform's inverse reads as "no
    information" (a ``map_values`` or ``default`` constant) leaves the hub field absent.

    Raises:
        ValueError: ``mapping`` is not a CRM mapping.
    """
    _require_crm(mapping, "reverse")
    return _reverse(mapping.rules, crm_record)


def _require_crm(mapping: FieldMapping, what: str) -> None:
    if mapping.kind is not MappingKind.CRM_OBJECT:
        raise ValueError(f"{what} needs a CRM mapping; {mapping.name!r} is a source mapping")


def _reverse(rules: Sequence[Rule], crm_record: Mapping[str, Any]) -> MappingResult:
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    sources: dict[str, str] = {}
    maybe_absent: list[str] = []
    observed: dict[str, Any] = {}
    warnings: list[FieldError] = []
    for rule in rules:
        raw = crm_record.get(rule.target, ABSENT) if isinstance(crm_record, Mapping) else ABSENT
        if not is_reversible(rule):
            if raw is not ABSENT:
                observed[rule.target] = _plain(raw)
            continue
        hub_path = rule.sources[0]
        try:
            value = _invert(rule, raw)
        except TransformError as exc:
            errors.append(FieldError(hub_path, f"from {rule.target}: {exc}"))
            continue
        if is_empty(value):
            maybe_absent.append(hub_path)
            continue
        value = _plain(value)
        if hub_path in values:
            if values[hub_path] != value:
                warnings.append(
                    FieldError(hub_path, f"{sources[hub_path]} and {rule.target} disagree; kept {sources[hub_path]}")
                )
            continue
        values[hub_path] = value
        sources[hub_path] = rule.target
    failed = {e.target for e in errors}
    absent = tuple(dict.fromkeys(p for p in maybe_absent if p not in values and p not in failed))
    return MappingResult(
        values=values,
        errors=tuple(errors),
        sources=sources,
        absent=absent,
        observed=observed,
        warnings=tuple(warnings),
    )


def _invert(rule: Rule, value: Any) -> Any:
    for step in reversed(rule.transforms):
        if is_empty(value):
            return ABSENT
        inverse = step.definition.inverse
        assert inverse is not None  # is_reversible checked it
        try:
            value = inverse(value, step.options)
        except TransformError as exc:
            raise TransformError(f"{step.name}: {exc}") from None
    return value


# --- preview -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PreviewCell:
    """One field of one payload in a preview.

    Attributes:
        status: ``value`` (mapped), ``absent`` (optional, nothing found) or ``error``.
        value: the mapped value, when status is ``value``.
        error: the messages, joined, when status is ``error``.
        source: the path the value came from, if any.
    """

    status: Literal["value", "absent", "error"]
    value: Any = None
    error: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if (self.status == "error") != (self.error is not None):
            raise ValueError("PreviewCell.error is set exactly when status is 'error'")


@dataclass(frozen=True, slots=True, kw_only=True)
class PreviewRow:
    """One target across every previewed payload.

    Attributes:
        target: the rule's target field.
        sources: the rule's source paths, as written.
        cells: one cell per payload, in payload order.
    """

    target: str
    sources: tuple[str, ...]
    cells: tuple[PreviewCell, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(self, "cells", tuple(self.cells))

    @property
    def has_errors(self) -> bool:
        return any(c.status == "error" for c in self.cells)


@dataclass(frozen=True, slots=True, kw_only=True)
class Preview:
    """A field-by-field table of a mapping applied to N payloads (what the mapping editor renders).

    Attributes:
        mapping: the mapping's name.
        rows: one row per rule, in rule order.
        results: the full result for each payload, in payload order.
    """

    mapping: str
    rows: tuple[PreviewRow, ...]
    results: tuple[MappingResult, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", tuple(self.rows))
        object.__setattr__(self, "results", tuple(self.results))
        if any(len(row.cells) != len(self.results) for row in self.rows):
            raise ValueError("every PreviewRow needs one cell per previewed payload")

    @property
    def error_count(self) -> int:
        return sum(len(r.errors) for r in self.results)

    def as_table(self) -> list[dict[str, Any]]:
        """Plain rows for a template or JSON: target, sources, and per payload status/value/error/source."""
        return [
            {
                "target": row.target,
                "sources": list(row.sources),
                "has_errors": row.has_errors,
                "cells": [
                    {"status": c.status, "value": c.value, "error": c.error, "source": c.source} for c in row.cells
                ],
            }
            for row in self.rows
        ]


def preview(mapping: FieldMapping, payloads: Sequence[object]) -> Preview:
    """Apply ``mapping`` to each of ``payloads`` and lay the results out field by field.

    Args:
        mapping: the mapping being edited.
        payloads: sample payloads (source mappings) or lead views (CRM mappings: outbound rules).
    """
    results = tuple(apply(mapping, p) for p in payloads)
    rules = mapping.rules if mapping.kind is MappingKind.SOURCE else mapping.outbound_rules()
    rows = []
    for rule in rules:
        cells = []
        for result in results:
            messages = result.errors_for(rule.target)
            if messages:
                cells.append(PreviewCell(status="error", error="; ".join(messages)))
            elif rule.target in result.values:
                cells.append(
                    PreviewCell(
                        status="value",
                        value=result.values[rule.target],
                        source=result.sources.get(rule.target),
                    )
                )
            else:
                cells.append(PreviewCell(status="absent"))
        rows.append(PreviewRow(target=rule.target, sources=rule.sources, cells=tuple(cells)))
    return Preview(mapping=mapping.name, rows=tuple(rows), results=results)
