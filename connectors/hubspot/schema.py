"""The HubSpot properties nurturehub writes, and how HubSpot's property definitions read as
:class:`~connectors.base.FieldInfo`.

``nurturehub crm setup`` creates a ``nurturehub`` property group on contacts and tasks and, in it,
every property below that is missing. Enumeration options use the hub's own snake_case words
(``nurture.vocab``), so the values the mapping writes are the values HubSpot stores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.base import TASK_OUTCOMES, FieldInfo
from nurture.vocab import Channel, ConsentState, ContactChannel, Intent, NextActionKind, Score, Stage

__all__ = ["GROUP", "PropertySpec", "contact_properties", "field_info", "task_properties"]

#: The property group the hub's properties live in, on every object.
GROUP = "nurturehub"
_GROUP_LABEL = "nurturehub"

#: Properties HubSpot requires on create (and so ``FieldInfo.required``), by object.
_REQUIRED = {"tasks": frozenset({"hs_timestamp"})}


@dataclass(frozen=True, slots=True, kw_only=True)
class PropertySpec:
    """One property the hub needs in HubSpot.

    Attributes:
        name: the internal name.
        label: what admins see.
        type: HubSpot's type (``string``, ``enumeration``, ``datetime``, ``bool``).
        field_type: HubSpot's field type (``text``, ``select``, ``date``, ``booleancheckbox``).
        options: enumeration values (labels are derived), in display order.
        unique: ``hasUniqueValue`` (usable as an upsert ``idProperty``).
        description: shown in HubSpot's property settings.
    """

    name: str
    label: str
    type: str = "string"
    field_type: str = "text"
    options: tuple[str, ...] = ()
    unique: bool = False
    description: str = field(default="Written by nurturehub.")

    def __post_init__(self) -> None:
        if self.type in ("enumeration", "bool") and not self.options:
            raise ValueError(f"PropertySpec {self.name}: {self.type} properties need options")
        if self.unique and self.type not in ("string", "number"):
            raise ValueError(f"PropertySpec {self.name}: only string and number properties can be unique")

    def option_inputs(self) -> list[dict[str, Any]]:
        """The options as HubSpot's ``OptionInput`` JSON."""
        return [
            {"label": _option_label(self, v), "value": v, "displayOrder": i, "hidden": False}
            for i, v in enumerate(self.options)
        ]

    def create_body(self) -> dict[str, Any]:
        """The ``PropertyCreate`` arguments (SDK attribute names)."""
        body: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "field_type": self.field_type,
            "group_name": GROUP,
            "description": self.description,
            "form_field": False,
        }
        if self.options:
            body["options"] = self.option_inputs()
        if self.unique:
            body["has_unique_value"] = True
        return body


def _option_label(spec: PropertySpec, value: str) -> str:
    if spec.type == "bool":
        return "Yes" if value == "true" else "No"
    return value if len(value) == 1 else value.replace("_", " ").capitalize()


def _enum(name: str, label: str, values: Sequence[str]) -> PropertySpec:
    return PropertySpec(name=name, label=label, type="enumeration", field_type="select", options=tuple(values))


def contact_properties(id_property: str) -> tuple[PropertySpec, ...]:
    """The contact properties the hub writes (``id_property`` is the unique external id)."""
    consent = tuple(
        _enum(f"nurturehub_{c.value}_consent", f"nurturehub {c.value} consent", [s.value for s in ConsentState])
        for c in (ContactChannel.SMS, ContactChannel.CALL, ContactChannel.EMAIL, ContactChannel.VOICEMAIL)
    )
    return (
        PropertySpec(
            name=id_property,
            label="nurturehub id",
            unique=True,
            description="The nurturehub lead id (unique). nurturehub upserts contacts by it.",
        ),
        _enum("nurturehub_intent", "nurturehub intent", [v.value for v in Intent]),
        _enum("nurturehub_next_action", "nurturehub next action", [v.value for v in NextActionKind]),
        PropertySpec(
            name="nurturehub_next_action_due",
            label="nurturehub next action due",
            type="datetime",
            field_type="date",
        ),
        PropertySpec(name="nurturehub_owner_queue", label="nurturehub owner queue"),
        _enum("nurturehub_score", "nurturehub score", [v.value for v in Score]),
        _enum("nurturehub_stage", "nurturehub stage", [v.value for v in Stage]),
        *consent,
        _enum("nurturehub_channel", "nurturehub channel", [v.value for v in Channel]),
        PropertySpec(
            name="nurturehub_urgent",
            label="nurturehub urgent",
            type="bool",
            field_type="booleancheckbox",
            options=("true", "false"),
        ),
    )


def task_properties(key_property: str, outcome_property: str, *, unique_key: bool) -> tuple[PropertySpec, ...]:
    """The task properties the hub writes: its task key (unique when HubSpot allows) and the outcome
    staff record when they complete a task."""
    return (
        PropertySpec(
            name=key_property,
            label="nurturehub task key",
            unique=unique_key,
            description="<lead id>:<step key>. nurturehub creates or updates its tasks by it.",
        ),
        _enum(outcome_property, "nurturehub outcome", TASK_OUTCOMES),
    )


def field_info(object_name: str, definition: Any) -> FieldInfo:
    """A HubSpot property definition (the SDK's ``Property``) as a :class:`FieldInfo`.

    Enumerations with options are picklists, and restricted: HubSpot refuses any other value
    (``INVALID_OPTION``). Enumerations whose values live elsewhere (owners) have no picklist.
    """
    metadata = getattr(definition, "modification_metadata", None)
    read_only = bool(getattr(metadata, "read_only_value", False)) or bool(getattr(definition, "calculated", False))
    options = list(getattr(definition, "options", None) or [])
    picklist: tuple[str, ...] | None = None
    if definition.type == "enumeration" and options and not getattr(definition, "external_options", False):
        picklist = tuple(str(o.value) for o in options)
    return FieldInfo(
        name=definition.name,
        label=definition.label or definition.name,
        type=definition.type,
        writable=not read_only,
        required=definition.name in _REQUIRED.get(object_name, frozenset()),
        picklist=picklist,
        restricted=picklist is not None,
        unique=bool(getattr(definition, "has_unique_value", False)),
    )


def missing_options(spec: PropertySpec, definition: Any) -> list[str]:
    """Options of ``spec`` that an existing enumeration property lacks (vocabulary grew)."""
    have = {str(o.value) for o in getattr(definition, "options", None) or []}
    return [v for v in spec.options if v not in have]


def existing_options(definition: Any) -> list[dict[str, Any]]:
    """An existing property's options as ``OptionInput`` JSON (to extend them without loss)."""
    return [
        {
            "label": o.label,
            "value": o.value,
            "displayOrder": o.display_order if o.display_order is not None else i,
            "hidden": bool(o.hidden),
        }
        for i, o in enumerate(getattr(definition, "options", None) or [])
    ]


def group_body() -> Mapping[str, Any]:
    """The ``PropertyGroupCreate`` arguments of the hub's group."""
    return {"name": GROUP, "label": _GROUP_LABEL, "display_order": -1}
