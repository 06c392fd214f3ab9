"""marshmallow schemas at the mapping engine's edges.

* :class:`MappingSchema` validates a mapping *document* (parsed TOML, or the web UI's JSON) and builds a
  :class:`~mapping.spec.FieldMapping`. Every problem is reported at once, keyed by where it is::

      rules[3].transforms[0].params.region: must be a supported ISO 3166 region code, e.g. 'US' or 'MX'
      rules[5].target: the same target as rules[1]
      rules[7].conflict: only CRM mappings have a conflict rule

* :class:`InquiryRecordSchema` checks the types of the record a source mapping produces against the
  hub's inquiry JSON (the hub runs its own, stricter schema afterwards; ``mapping`` does not import it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from mapping.errors import MappingError, PathSyntaxError
from mapping.flatten import flatten_pairs
from mapping.paths import parse_path
from mapping.spec import (
    Conflict,
    CrmSystem,
    Direction,
    FieldMapping,
    MappingKind,
    Rule,
    SourceType,
    TransformStep,
    header_problems,
    rule_problems,
    target_overlaps,
)
from mapping.transforms import TRANSFORMS, load_options
from nurture.clock import zone
from nurture.vocab import Channel, ContactChannel, ContactWindow, Intent, Need

__all__ = [
    "InquiryRecordSchema",
    "MappingSchema",
    "dump_mapping",
    "load_mapping",
    "record_problems",
]


def _valid_path(text: str) -> None:
    try:
        parse_path(text)
    except PathSyntaxError as exc:
        raise ValidationError(f"bad path: {exc}") from None


class TransformStepSchema(Schema):
    """``{name = "e164", params = {region = "US"}}``"""

    name = fields.String(required=True)
    params = fields.Dict(keys=fields.String(), load_default=dict)

    @validates_schema
    def _known(self, data: Mapping[str, Any], **_: Any) -> None:
        name = data.get("name")
        if not isinstance(name, str) or name not in TRANSFORMS:
            raise ValidationError(f"unknown transform; known: {', '.join(sorted(TRANSFORMS))}", "name")
        try:
            load_options(name, data.get("params", {}))
        except ValidationError as exc:
            raise ValidationError({"params": exc.messages}) from None


class RuleSchema(Schema):
    """One rule: target, sources, transforms, required, and for CRM rules direction and conflict."""

    target = fields.String(required=True, validate=validate.Length(min=1, max=200))
    sources = fields.List(fields.String(validate=_valid_path), load_default=list)
    transforms = fields.List(fields.Nested(TransformStepSchema), load_default=list)
    required = fields.Boolean(load_default=False)
    direction = fields.Enum(Direction, by_value=True, load_default=None)
    conflict = fields.Enum(Conflict, by_value=True, load_default=None)


class MappingSchema(Schema):
    """A whole mapping document; ``load`` returns a :class:`~mapping.spec.FieldMapping`."""

    name = fields.String(required=True)
    kind = fields.Enum(MappingKind, by_value=True, required=True)
    version = fields.Integer(load_default=1, strict=True)
    source_type = fields.Enum(SourceType, by_value=True, load_default=None)
    system = fields.Enum(CrmSystem, by_value=True, load_default=None)
    object = fields.String(load_default=None)
    rules = fields.List(fields.Raw(), required=True)

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _whole(self, data: Mapping[str, Any], original: Mapping[str, Any], **_: Any) -> None:
        errors: dict[str, Any] = {}
        kind = data.get("kind")
        if isinstance(kind, MappingKind):
            for key, message in header_problems(
                name=data.get("name", ""),
                kind=kind,
                version=data.get("version", 1),
                source_type=data.get("source_type"),
                system=data.get("system"),
                object_name=data.get("object"),
                rule_count=len(data.get("rules", [None])),
            ):
                if key in data or key not in original:  # else the field itself was already refused
                    errors.setdefault(key, []).append(message)
        rule_errors: dict[int, dict[str, list[str]]] = {}
        built: list[tuple[int, Rule]] = []
        for index, raw in enumerate(data.get("rules", [])):
            rule, problems = _build_rule(raw)
            if rule is not None:
                built.append((index, rule))
            for key, message in problems:
                rule_errors.setdefault(index, {}).setdefault(key, []).append(message)
        if isinstance(kind, MappingKind):
            for index, rule in built:
                for key, message in rule_problems(rule, kind):
                    rule_errors.setdefault(index, {}).setdefault(key, []).append(message)
        raw_targets = [
            (i, raw["target"])
            for i, raw in enumerate(data.get("rules", []))
            if isinstance(raw, Mapping) and isinstance(raw.get("target"), str)
        ]
        for index, (key, message) in target_overlaps(raw_targets).items():
            rule_errors.setdefault(index, {}).setdefault(key, []).append(message)
        if rule_errors:
            errors["rules"] = dict(sorted(rule_errors.items()))
        if errors:
            raise ValidationError(errors)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> FieldMapping:
        rules = [rule for rule, _problems in map(_build_rule, data["rules"]) if rule is not None]
        return FieldMapping(
            name=data["name"],
            kind=data["kind"],
            version=data["version"],
            source_type=data["source_type"],
            system=data["system"],
            object=data["object"],
            rules=tuple(rules),
        )


def _build_rule(raw: object) -> tuple[Rule | None, list[tuple[str, str]]]:
    if not isinstance(raw, Mapping):
        return None, [("(rule)", "must be a table of rule fields")]
    try:
        loaded = RuleSchema().load(raw)
    except ValidationError as exc:
        return None, flatten_pairs(exc.messages)
    try:
        rule = Rule(
            target=loaded["target"],
            sources=tuple(loaded["sources"]),
            transforms=tuple(TransformStep(name=t["name"], params=t["params"]) for t in loaded["transforms"]),
            required=loaded["required"],
            direction=loaded["direction"],
            conflict=loaded["conflict"],
        )
    except MappingError as exc:
        return None, list(exc.pairs)
    return rule, []


def load_mapping(data: Mapping[str, Any], *, source: str = "mapping") -> FieldMapping:
    """Validate a mapping document and build the :class:`~mapping.spec.FieldMapping`.

    Args:
        data: the document as plain data (parsed TOML or JSON).
        source: what to call it in the error (``"typeform.toml"``).

    Raises:
        MappingError: with every problem as a ``key.path: message`` line.
    """
    if not isinstance(data, Mapping):
        raise MappingError([("(top level)", "a mapping must be a table of fields")], source=source)
    try:
        result: FieldMapping = MappingSchema().load(data)
    except ValidationError as exc:
        raise MappingError(flatten_pairs(exc.messages), source=source) from None
    return result


def dump_mapping(mapping: FieldMapping) -> dict[str, Any]:
    """The mapping as plain data (what :func:`load_mapping` reads back); defaults are left out."""
    out: dict[str, Any] = {"name": mapping.name, "kind": mapping.kind.value, "version": mapping.version}
    if mapping.source_type is not None:
        out["source_type"] = mapping.source_type.value
    if mapping.system is not None:
        out["system"] = mapping.system.value
    if mapping.object is not None:
        out["object"] = mapping.object
    out["rules"] = [_dump_rule(rule) for rule in mapping.rules]
    return out


def _dump_rule(rule: Rule) -> dict[str, Any]:
    out: dict[str, Any] = {"target": rule.target}
    if rule.sources:
        out["sources"] = list(rule.sources)
    if rule.required:
        out["required"] = True
    if rule.direction is not None:
        out["direction"] = rule.direction.value
    if rule.conflict is not None:
        out["conflict"] = rule.conflict.value
    if rule.transforms:
        out["transforms"] = [
            {"name": t.name, **({"params": _plain(t.params)} if t.params else {})} for t in rule.transforms
        ]
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


# --- the records a source mapping produces ------------------------------------------------------------


class _StrictBoolean(fields.Field[bool]):
    default_error_messages = {"invalid": "must be true or false"}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class _AwareDateTimeText(fields.Field[str]):
    default_error_messages = {"invalid": "must be an ISO 8601 date and time with a UTC offset"}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise self.make_error("invalid") from None
        if parsed.tzinfo is None:
            raise self.make_error("invalid")
        return value


def _zone(name: str) -> None:
    try:
        zone(name)
    except ValueError:
        raise ValidationError("not a known IANA time zone") from None


class _ConsentStatementRecord(Schema):
    granted = _StrictBoolean(required=True)
    wording = fields.String(validate=validate.Length(max=2000))
    source = fields.String(validate=validate.Length(max=120))


class InquiryRecordSchema(Schema):
    """The types of the hub's inquiry JSON (``hub.inbound.inquiry_schema`` is the authority; this mirrors it)."""

    channel = fields.Enum(Channel, by_value=True)
    first_name = fields.String(validate=validate.Length(max=200))
    last_name = fields.String(validate=validate.Length(max=200))
    phone = fields.String(validate=validate.Length(max=40))
    email = fields.String(validate=validate.Length(max=254))
    language = fields.String(validate=validate.Regexp(r"^[a-z]{2}$", error="must be like 'en' or 'es'"))
    contact_window = fields.Enum(ContactWindow, by_value=True)
    callback_at = _AwareDateTimeText()
    timezone = fields.String(validate=_zone)
    region = fields.String(validate=validate.Regexp(r"^[A-Z]{2}$", error="must be like 'TX'"))
    location = fields.String()
    service = fields.String()
    campaign = fields.String(validate=validate.Length(max=200))
    referral_source = fields.String(validate=validate.Length(max=200))
    text = fields.String(validate=validate.Length(max=10000))
    intent = fields.Enum(Intent, by_value=True)
    needs = fields.List(fields.Enum(Need, by_value=True))
    consent = fields.Dict(
        keys=fields.String(validate=validate.OneOf([c.value for c in ContactChannel])),
        values=fields.Nested(_ConsentStatementRecord),
    )
    external_ids = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=64)),
        values=fields.String(validate=validate.Length(min=1, max=200)),
    )


def record_problems(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Type problems of an inquiry record, as ``(key.path, message)`` pairs; messages never echo values."""
    try:
        InquiryRecordSchema().load(record)
    except ValidationError as exc:
        return flatten_pairs(exc.messages)
    return []
