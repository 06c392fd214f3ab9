"""What a mapping is: field rules for one source (a form tool's webhook) or one CRM object.

A :class:`Rule` says where a value comes from (source paths, first present wins), what happens to it
(a chain of transforms), where it goes (a target field) and — for CRM objects — which way it flows and
who wins a conflict. A :class:`FieldMapping` is a named, versioned list of rules of one kind.

Construction validates: an invalid rule or mapping raises :class:`~mapping.errors.MappingError` with
every problem as a ``rules[3].transforms[0].params.region: …`` line. To validate a mapping *document*
(TOML or the web UI's JSON) use :func:`mapping.schemas.load_mapping`, which reports the same problems.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from marshmallow import ValidationError

from mapping.errors import MappingError, PathSyntaxError
from mapping.flatten import flatten_pairs
from mapping.paths import Path, parse_path
from mapping.shapes import inquiry_target_problem, lead_view_path_problem
from mapping.transforms import TRANSFORMS, TransformDef, load_options

__all__ = [
    "CRM_OBJECTS",
    "Conflict",
    "CrmSystem",
    "Direction",
    "FieldMapping",
    "MappingKind",
    "Rule",
    "SourceType",
    "TransformStep",
    "header_problems",
    "is_reversible",
    "mapping_problems",
    "rule_problems",
    "target_overlaps",
]


class MappingKind(StrEnum):
    """What a mapping maps: a source's webhook payload, or a CRM object."""

    SOURCE = "source"
    CRM_OBJECT = "crm_object"


class SourceType(StrEnum):
    """The webhook sources the hub understands."""

    TYPEFORM = "typeform"
    JOTFORM = "jotform"
    CALCOM = "calcom"
    CALENDLY = "calendly"
    STANDARD_WEBHOOK = "standard_webhook"
    HUBSPOT_WEBHOOK = "hubspot_webhook"


class CrmSystem(StrEnum):
    SALESFORCE = "salesforce"
    HUBSPOT = "hubspot"


#: The CRM objects a mapping can target, by system (names as each API spells them).
CRM_OBJECTS: Mapping[CrmSystem, tuple[str, ...]] = MappingProxyType(
    {CrmSystem.SALESFORCE: ("Lead", "Contact", "Account"), CrmSystem.HUBSPOT: ("contacts",)}
)


class Direction(StrEnum):
    """Which way a CRM rule's value flows."""

    HUB_TO_CRM = "hub_to_crm"
    CRM_TO_HUB = "crm_to_hub"
    BOTH = "both"

    @property
    def outbound(self) -> bool:
        return self is not Direction.CRM_TO_HUB

    @property
    def inbound(self) -> bool:
        return self is not Direction.HUB_TO_CRM


class Conflict(StrEnum):
    """Who wins when the hub and the CRM disagree about a field (see :func:`mapping.conflicts.resolve`)."""

    HUB_WINS = "hub_wins"
    CRM_WINS = "crm_wins"
    NEWEST_WINS = "newest_wins"
    FILL_IF_BLANK = "fill_if_blank"


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class TransformStep:
    """One transform in a rule's chain.

    Attributes:
        name: a name registered in :data:`mapping.transforms.TRANSFORMS`.
        params: its parameters as written in the mapping (read-only; exported to TOML as they are).
        options: the parameters loaded and checked by the transform's schema (defaults filled in,
            patterns compiled): what the transform runs with. Derived, not compared.
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _freeze(self.params))
        try:
            options = load_options(self.name, self.params)
        except ValidationError as exc:
            messages: dict[str, Any] = exc.normalized_messages()  # type: ignore[no-untyped-call]
            if "name" not in messages:
                messages = {"params": messages}
            raise MappingError(flatten_pairs(messages), source=f"transform {self.name!r}") from None
        object.__setattr__(self, "options", options)

    @property
    def definition(self) -> TransformDef:
        """The registered :class:`~mapping.transforms.TransformDef`."""
        return TRANSFORMS[self.name]

    @property
    def is_reversible(self) -> bool:
        return TRANSFORMS[self.name].is_reversible(self.options)


_TARGET = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_:\-]+)*")
_CRM_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One field rule.

    Attributes:
        target: the field the value goes to: an inquiry key for source mappings (``email``,
            ``consent.sms.granted``, ``external_ids.calcom``), a CRM field name for CRM mappings
            (``Email``, ``nurturehub_score``).
        sources: paths to read, first present value wins (``payload.attendees[0].email``); for CRM
            mappings, paths into the lead's plain view (``consent.sms.state``). May be empty when the
            chain starts with a transform that fills empties (``default``, ``concat``).
        transforms: the chain applied to the value, in order.
        required: an empty result is an error for this record rather than an absent optional field.
        direction: CRM mappings only: which way the value flows.
        conflict: CRM mappings only: who wins a disagreement. Optional for one-way rules (the writing
            side wins), required for ``both``.
        paths: the parsed ``sources``. Derived, not compared.
    """

    target: str
    sources: tuple[str, ...] = ()
    transforms: tuple[TransformStep, ...] = ()
    required: bool = False
    direction: Direction | None = None
    conflict: Conflict | None = None
    paths: tuple[Path, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.sources, str):
            raise MappingError([("sources", "must be a list of paths")], source=f"rule for {self.target!r}")
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(self, "transforms", tuple(self.transforms))
        if self.direction is not None:
            object.__setattr__(self, "direction", Direction(self.direction))
        if self.conflict is not None:
            object.__setattr__(self, "conflict", Conflict(self.conflict))
        problems = _own_problems(self)
        if problems:
            raise MappingError(problems, source=f"rule for {self.target!r}")
        object.__setattr__(self, "paths", tuple(parse_path(s) for s in self.sources))

    @property
    def effective_conflict(self) -> Conflict:
        """The conflict rule, with one-way rules defaulting to "the writing side wins"."""
        if self.conflict is not None:
            return self.conflict
        return Conflict.CRM_WINS if self.direction is Direction.CRM_TO_HUB else Conflict.HUB_WINS


def _own_problems(rule: Rule) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if not isinstance(rule.target, str) or not _TARGET.fullmatch(rule.target):
        problems.append(("target", "must be a field name, optionally dotted (consent.sms.granted)"))
    for i, source in enumerate(rule.sources):
        try:
            parse_path(source)
        except PathSyntaxError as exc:
            problems.append((f"sources[{i}]", f"bad path: {exc}"))
        except TypeError:
            problems.append((f"sources[{i}]", "a path must be text"))
    for i, step in enumerate(rule.transforms):
        if not isinstance(step, TransformStep):
            problems.append((f"transforms[{i}]", "must be a TransformStep"))
    if not rule.sources and not (
        rule.transforms and isinstance(rule.transforms[0], TransformStep) and rule.transforms[0].definition.fills_empty
    ):
        problems.append(("sources", "give a source path, or start the chain with default or concat"))
    return problems


def is_reversible(rule: Rule) -> bool:
    """True when :func:`mapping.apply.reverse` can turn the CRM field back into the hub field.

    That needs one plain source path (a place to write to) and a chain whose every transform can be
    undone: no transforms (identity); ``trim``, ``e164``, ``normalize_email``, ``boolean`` (idempotent,
    reversed by applying them to the CRM value); ``lower``, ``upper``, ``to_string`` (reversed as-is);
    ``map_values`` with a one-to-one table (its default reverses to "no information"); ``default``
    (its constant reverses to "no information").
    """
    if len(rule.sources) != 1 or not parse_path(rule.sources[0]).is_plain:
        return False
    return all(step.is_reversible for step in rule.transforms)


def rule_problems(rule: Rule, kind: MappingKind) -> list[tuple[str, str]]:
    """Problems of ``rule`` inside a mapping of ``kind``, as (field key, message) pairs."""
    problems: list[tuple[str, str]] = []
    if kind is MappingKind.SOURCE:
        if rule.direction is not None:
            problems.append(("direction", "only CRM mappings have a direction"))
        if rule.conflict is not None:
            problems.append(("conflict", "only CRM mappings have a conflict rule"))
        target_problem = inquiry_target_problem(rule.target)
        if target_problem:
            problems.append(("target", target_problem))
        return problems
    if not _CRM_FIELD.fullmatch(rule.target):
        problems.append(("target", "must be a CRM field name (letters, digits, _)"))
    for i, path in enumerate(rule.paths):
        path_problem = lead_view_path_problem(path)
        if path_problem:
            problems.append((f"sources[{i}]", path_problem))
    if rule.direction is None:
        problems.append(("direction", "a CRM rule needs a direction: hub_to_crm, crm_to_hub or both"))
        return problems
    if rule.direction is Direction.BOTH and rule.conflict is None:
        problems.append(("conflict", "a rule that syncs both ways needs a conflict rule"))
    if rule.direction is Direction.HUB_TO_CRM and rule.conflict is Conflict.CRM_WINS:
        problems.append(("conflict", "crm_wins on a hub_to_crm rule would never write anything"))
    if rule.direction is Direction.CRM_TO_HUB and rule.conflict is Conflict.HUB_WINS:
        problems.append(("conflict", "hub_wins on a crm_to_hub rule would never write anything"))
    if rule.direction is Direction.CRM_TO_HUB and not is_reversible(rule):
        where = "transforms" if rule.transforms and len(rule.sources) == 1 else "sources"
        problems.append(
            (where, "a crm_to_hub rule must be reversible: one plain source path and reversible transforms")
        )
    return problems


def _targets_overlap(a: str, b: str) -> bool:
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def target_overlaps(targets: Iterable[tuple[int, str]]) -> dict[int, tuple[str, str]]:
    """Rules whose target repeats or overlaps an earlier one (``consent`` and ``consent.sms.granted``).

    Args:
        targets: (rule index, target) pairs, in document order.
    """
    found: dict[int, tuple[str, str]] = {}
    seen: list[tuple[int, str]] = []
    for i, target in targets:
        for j, other in seen:
            if _targets_overlap(target, other):
                same = "the same target as" if target == other else "a target overlapping that of"
                found[i] = ("target", f"{same} rules[{j}]")
                break
        seen.append((i, target))
    return found


def mapping_problems(kind: MappingKind, rules: Iterable[tuple[int, Rule]]) -> dict[int, list[tuple[str, str]]]:
    """Every rule's problems within a mapping of ``kind``, by rule index (overlapping targets included).

    Args:
        kind: the mapping's kind.
        rules: (index, rule) pairs: the index is the rule's position in the mapping document, so that
            rules that failed to load can be left out without renumbering the rest.
    """
    indexed = list(rules)
    found: dict[int, list[tuple[str, str]]] = {}
    for i, rule in indexed:
        problems = rule_problems(rule, kind)
        if problems:
            found[i] = problems
    for i, problem in target_overlaps((i, r.target) for i, r in indexed).items():
        found.setdefault(i, []).append(problem)
    return dict(sorted(found.items()))


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,79}")


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldMapping:
    """A named, versioned list of field rules for one source or one CRM object.

    Attributes:
        name: a short identifier (``typeform_default``); letters, digits, ``_ . -``.
        kind: ``source`` (webhook payload → inquiry JSON) or ``crm_object`` (lead view ↔ CRM record).
        rules: the field rules, in order (order matters only for the preview and for reverse rules
            that fill the same hub field: the first value wins).
        version: increases with every saved change, starting at 1.
        source_type: for ``source`` mappings, which webhook source.
        system: for ``crm_object`` mappings, which CRM.
        object: for ``crm_object`` mappings, the CRM object (``Lead``, ``Contact``, ``contacts``).
    """

    name: str
    kind: MappingKind
    rules: tuple[Rule, ...]
    version: int = 1
    source_type: SourceType | None = None
    system: CrmSystem | None = None
    object: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", MappingKind(self.kind))
        object.__setattr__(self, "rules", tuple(self.rules))
        if self.source_type is not None:
            object.__setattr__(self, "source_type", SourceType(self.source_type))
        if self.system is not None:
            object.__setattr__(self, "system", CrmSystem(self.system))
        header = header_problems(
            name=self.name,
            kind=self.kind,
            version=self.version,
            source_type=self.source_type,
            system=self.system,
            object_name=self.object,
            rule_count=len(self.rules),
        )
        problems = list(header)
        for index, items in mapping_problems(self.kind, enumerate(self.rules)).items():
            problems += [(f"rules[{index}].{key}", message) for key, message in items]
        if problems:
            raise MappingError(problems, source=f"mapping {self.name!r}")

    @property
    def is_source(self) -> bool:
        return self.kind is MappingKind.SOURCE

    def outbound_rules(self) -> tuple[Rule, ...]:
        """CRM rules that write the CRM (``hub_to_crm`` and ``both``)."""
        return tuple(r for r in self.rules if r.direction is not None and r.direction.outbound)

    def inbound_rules(self) -> tuple[Rule, ...]:
        """CRM rules that read the CRM back (``crm_to_hub`` and ``both``)."""
        return tuple(r for r in self.rules if r.direction is not None and r.direction.inbound)

    def rule_for(self, target: str) -> Rule:
        """The rule whose target is ``target``. Raises KeyError when there is none."""
        for rule in self.rules:
            if rule.target == target:
                return rule
        raise KeyError(target)


def header_problems(
    *,
    name: object,
    kind: MappingKind,
    version: object,
    source_type: SourceType | None,
    system: CrmSystem | None,
    object_name: object,
    rule_count: int,
) -> list[tuple[str, str]]:
    """Problems of a mapping's own fields (not its rules), as (field key, message) pairs."""
    problems: list[tuple[str, str]] = []
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        problems.append(("name", "must be 1-80 letters, digits, _ . - starting with a letter or digit"))
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        problems.append(("version", "must be a whole number from 1"))
    if rule_count == 0:
        problems.append(("rules", "a mapping needs at least one rule"))
    if kind is MappingKind.SOURCE:
        if source_type is None:
            problems.append(("source_type", f"required for a source mapping: {', '.join(SourceType)}"))
        if system is not None:
            problems.append(("system", "only CRM mappings have a system"))
        if object_name is not None:
            problems.append(("object", "only CRM mappings have an object"))
    else:
        if source_type is not None:
            problems.append(("source_type", "only source mappings have a source type"))
        if system is None:
            problems.append(("system", f"required for a CRM mapping: {', '.join(CrmSystem)}"))
        elif object_name not in CRM_OBJECTS[system]:
            known = ", ".join(CRM_OBJECTS[system])
            problems.append(("object", f"{system} objects that can be mapped: {known}"))
    return problems
