"""The Salesforce sandbox's metadata types: API versions, :class:`FieldSpec`, :class:`ObjectSpec` and
:class:`PicklistValue`, and the field builders the object tables (``objects``) are written with.

The metadata is a data structure, not code per field: an :class:`ObjectSpec` holds
:class:`FieldSpec` values, and everything the server does (describe, validation, SOQL type
checks, defaults) is derived from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypedDict

API_VERSION: Final = "59.0"
#: The versions ``GET /services/data/`` lists (Summer '14 .. Winter '24); requests may name any of them.
SUPPORTED_VERSIONS: Final = tuple(f"{v}.0" for v in range(31, 60))


def release_label(version: str) -> str:
    """The release name of an API version: 59.0 is "Winter '24", 58.0 "Summer '23", 57.0 "Spring '23"."""
    cycles, rem = divmod(59 - int(float(version)), 3)
    season, year = (("Winter", 24), ("Summer", 23), ("Spring", 23))[rem]
    return f"{season} '{year - cycles:02d}"


FIELD_TYPES: Final = frozenset(
    {
        "id",
        "string",
        "email",
        "phone",
        "url",
        "picklist",
        "multipicklist",
        "combobox",
        "boolean",
        "date",
        "datetime",
        "reference",
        "textarea",
        "double",
        "int",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PicklistValue:
    """One entry of a picklist field.

    Attributes:
        value: the API value stored in the record.
        label: what a user sees.
        default: whether Salesforce fills this value in on create when the field is omitted.
        active: inactive values are kept in describe but rejected by restricted picklists.
    """

    value: str
    label: str
    default: bool = False
    active: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldSpec:
    """One field of an sObject, as ``describe`` reports it and as the server enforces it.

    Attributes:
        name: API name, e.g. ``LastName`` or ``Nurture_Id__c``.
        label: the label Salesforce puts in error messages ("Last Name: data value too large ...").
        type: a describe field type (``string``, ``picklist``, ``datetime``, ``reference`` ...).
        length: maximum characters for text-like types (0 for others).
        nillable: whether null is accepted; a createable, non-nillable field without a default is
            required on create.
        createable: whether a create request may set it (else INVALID_FIELD_FOR_INSERT_UPDATE).
        updateable: whether an update request may set it.
        defaulted_on_create: Salesforce fills it in on create (e.g. OwnerId, Status).
        default: the value filled in on create when omitted (picklist defaults come from ``picklist``).
        external_id: usable for upsert and get-by-external-id.
        unique: duplicate values are rejected with DUPLICATE_VALUE (case-insensitive).
        restricted: restricted picklist: only listed active values are accepted.
        picklist: the picklist values (picklist, multipicklist and combobox types).
        reference_to: sObject names a reference field may point at.
        relationship_name: the relationship name of a reference field (``Owner``, ``Who``).
        name_field: the record's name field (``Name``).
        precision: total digits of a double; scale: digits after the decimal point.
    """

    name: str
    label: str
    type: str
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted_on_create: bool = False
    default: Any = None
    external_id: bool = False
    unique: bool = False
    restricted: bool = False
    picklist: tuple[PicklistValue, ...] = ()
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    name_field: bool = False
    precision: int = 0
    scale: int = 0

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"FieldSpec {self.name}: unknown type {self.type!r}")
        if self.type == "reference" and not self.reference_to:
            raise ValueError(f"FieldSpec {self.name}: a reference needs reference_to")
        if self.restricted and self.type not in {"picklist", "multipicklist"}:
            raise ValueError(f"FieldSpec {self.name}: only picklists can be restricted")

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    @property
    def fills_on_create(self) -> bool:
        """Salesforce gives the field a value on create when the request omits it."""
        return self.defaulted_on_create or self.picklist_default is not None

    @property
    def required_on_create(self) -> bool:
        """Missing or null on create fails with REQUIRED_FIELD_MISSING."""
        return self.createable and not self.nillable and not self.fills_on_create

    @property
    def picklist_default(self) -> str | None:
        for entry in self.picklist:
            if entry.default and entry.active:
                return entry.value
        return None

    def active_values(self) -> frozenset[str]:
        return frozenset(entry.value for entry in self.picklist if entry.active)


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectSpec:
    """One sObject type of the org.

    Attributes:
        name: API name (``Lead``).
        label / label_plural: user-facing names.
        key_prefix: the three characters every record id of this type starts with (``00Q``).
        fields: the fields, in describe order.
        createable / updateable / deletable: whether the API may write it (User and Group are
            read-only in this sandbox).
        name_expression: how the compound ``Name`` is computed from other fields, if it is.
    """

    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: tuple[FieldSpec, ...]
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    name_expression: tuple[str, ...] = ()
    _by_lower: Mapping[str, FieldSpec] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.key_prefix) != 3:
            raise ValueError(f"ObjectSpec {self.name}: key prefix must have 3 characters")
        by_lower = {f.name.lower(): f for f in self.fields}
        if len(by_lower) != len(self.fields):
            raise ValueError(f"ObjectSpec {self.name}: duplicate field names")
        object.__setattr__(self, "_by_lower", by_lower)

    def field(self, name: str) -> FieldSpec | None:
        """The field called ``name`` (case-insensitive, as Salesforce resolves names)."""
        return self._by_lower.get(name.lower())

    def require(self, name: str) -> FieldSpec:
        """The field called ``name``; KeyError if this object has none."""
        spec = self.field(name)
        if spec is None:
            raise KeyError(f"{self.name}.{name}")
        return spec

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


# --------------------------------------------------------------------------------------------------
# Field builders: short helpers so that the object tables below read like the Object Reference.


class _ReadOnly(TypedDict):
    createable: bool
    updateable: bool


#: Spread into a FieldSpec for fields no API call may write.
_RO: Final[_ReadOnly] = {"createable": False, "updateable": False}


def _label_for(value: str) -> str:
    return value.replace("_", " ").capitalize()


def _values(
    *values: str, default: str | None = None, labels: Mapping[str, str] | None = None
) -> tuple[PicklistValue, ...]:
    labels = labels or {}
    return tuple(PicklistValue(value=v, label=labels.get(v, v), default=(v == default)) for v in values)


def _snake(*values: str, default: str | None = None) -> tuple[PicklistValue, ...]:
    return tuple(PicklistValue(value=v, label=_label_for(v), default=(v == default)) for v in values)


def _system() -> tuple[FieldSpec, ...]:
    """Audit fields every sObject carries; none of them can be written through the API."""
    return (
        FieldSpec(
            name="CreatedDate",
            label="Created Date",
            type="datetime",
            nillable=False,
            defaulted_on_create=True,
            **_RO,
        ),
        FieldSpec(
            name="CreatedById",
            label="Created By ID",
            type="reference",
            nillable=False,
            defaulted_on_create=True,
            reference_to=("User",),
            relationship_name="CreatedBy",
            **_RO,
        ),
        FieldSpec(
            name="LastModifiedDate",
            label="Last Modified Date",
            type="datetime",
            nillable=False,
            defaulted_on_create=True,
            **_RO,
        ),
        FieldSpec(
            name="LastModifiedById",
            label="Last Modified By ID",
            type="reference",
            nillable=False,
            defaulted_on_create=True,
            reference_to=("User",),
            relationship_name="LastModifiedBy",
            **_RO,
        ),
        FieldSpec(
            name="SystemModstamp",
            label="System Modstamp",
            type="datetime",
            nillable=False,
            defaulted_on_create=True,
            **_RO,
        ),
    )


def _id() -> FieldSpec:
    return FieldSpec(
        name="Id",
        label="Record ID",
        type="id",
        length=18,
        nillable=False,
        createable=False,
        updateable=False,
        defaulted_on_create=True,
    )


def _is_deleted() -> FieldSpec:
    return FieldSpec(
        name="IsDeleted",
        label="Deleted",
        type="boolean",
        nillable=False,
        createable=False,
        updateable=False,
        defaulted_on_create=True,
        default=False,
    )


def _bool(name: str, label: str) -> FieldSpec:
    return FieldSpec(name=name, label=label, type="boolean", nillable=False, defaulted_on_create=True, default=False)


def _text(name: str, label: str, length: int, **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, label=label, type="string", length=length, **kw)


def _pick(
    name: str, label: str, values: tuple[PicklistValue, ...], *, restricted: bool = False, **kw: Any
) -> FieldSpec:
    return FieldSpec(name=name, label=label, type="picklist", length=255, picklist=values, restricted=restricted, **kw)
