"""HubSpot's vocabulary for the sandbox: object types, standard property definitions, seeded owners,
association types and the exact error bodies HubSpot answers with.

Everything here is data and pure functions; ``store`` keeps state and ``server`` serves HTTP.
Where a wire detail comes from, and how sure we are of it, is recorded in ``docs/sandbox-hubspot.md``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "ASSOCIATION_TYPES",
    "OBJECT_TYPES",
    "SEED_OWNERS",
    "AssociationType",
    "HubSpotError",
    "ObjectType",
    "from_epoch_ms",
    "iso_ms",
    "parse_datetime_ms",
    "standard_groups",
    "standard_properties",
]

Json = dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectType:
    """One CRM object type the sandbox serves.

    Attributes:
        name: the plural name used in URLs (``contacts``).
        type_id: HubSpot's object type id (``0-1``).
        singular: the name HubSpot uses in messages and association labels (``contact``).
        created_property: the property holding the creation time (``createdate`` / ``hs_createdate``).
        modified_property: the property holding the last write time.
        default_properties: properties returned when a read names none.
        required_on_create: properties a create must carry.
        search_text_properties: properties the free-text ``query`` of a search looks at.
    """

    name: str
    type_id: str
    singular: str
    created_property: str
    modified_property: str
    default_properties: tuple[str, ...]
    required_on_create: tuple[str, ...] = ()
    search_text_properties: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not re.fullmatch(r"\d+-\d+", self.type_id):
            raise ValueError(f"ObjectType.type_id must look like '0-1', got {self.type_id!r}")


CONTACTS = ObjectType(
    name="contacts",
    type_id="0-1",
    singular="contact",
    created_property="createdate",
    modified_property="lastmodifieddate",
    default_properties=("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    search_text_properties=("firstname", "lastname", "email", "phone", "mobilephone"),
)
TASKS = ObjectType(
    name="tasks",
    type_id="0-27",
    singular="task",
    created_property="hs_createdate",
    modified_property="hs_lastmodifieddate",
    default_properties=("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    required_on_create=("hs_timestamp",),
    search_text_properties=("hs_task_subject", "hs_task_body"),
)

OBJECT_TYPES: Mapping[str, ObjectType] = {t.name: t for t in (CONTACTS, TASKS)}

_ALIASES: Mapping[str, str] = {
    **{t.name: t.name for t in (CONTACTS, TASKS)},
    **{t.singular: t.name for t in (CONTACTS, TASKS)},
    **{t.type_id: t.name for t in (CONTACTS, TASKS)},
}


def resolve_object_type(name: str) -> ObjectType | None:
    """The object type a URL segment names (``contacts``, ``contact`` or ``0-1``), or None."""
    canonical = _ALIASES.get(name.lower())
    return OBJECT_TYPES[canonical] if canonical else None


@dataclass(frozen=True, slots=True, kw_only=True)
class AssociationType:
    """A HUBSPOT_DEFINED association type between two object types.

    Attributes:
        from_type: plural name of the source object type.
        to_type: plural name of the target object type.
        type_id: HubSpot's association type id (204 for task to contact).
        name: HubSpot's v3 name for it (``task_to_contact``).
        inverse_id: the type id of the opposite direction.
    """

    from_type: str
    to_type: str
    type_id: int
    name: str
    inverse_id: int


ASSOCIATION_TYPES: tuple[AssociationType, ...] = (
    AssociationType(from_type="contacts", to_type="tasks", type_id=203, name="contact_to_task", inverse_id=204),
    AssociationType(from_type="tasks", to_type="contacts", type_id=204, name="task_to_contact", inverse_id=203),
)


def default_association(from_type: str, to_type: str) -> AssociationType | None:
    """The default (unlabelled) association type from one object type to another, if any."""
    for a in ASSOCIATION_TYPES:
        if a.from_type == from_type and a.to_type == to_type:
            return a
    return None


def association_by_id(type_id: int) -> AssociationType | None:
    """The HUBSPOT_DEFINED association type with this id, if the sandbox knows it."""
    for a in ASSOCIATION_TYPES:
        if a.type_id == type_id:
            return a
    return None


# --- time --------------------------------------------------------------------------------------------


def iso_ms(epoch_ms: int) -> str:
    """HubSpot's timestamp format, ``2026-11-26T10:00:00.000Z``."""
    moment = from_epoch_ms(epoch_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def from_epoch_ms(epoch_ms: int) -> datetime:
    """An aware UTC datetime from milliseconds since the epoch."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$")


def parse_datetime_ms(value: str) -> int | None:
    """Milliseconds since the epoch from what HubSpot accepts for datetime values (epoch ms or ISO 8601)."""
    text = value.strip()
    if re.fullmatch(r"-?\d{1,16}", text):
        return int(text)
    if not _ISO.match(text):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


# --- property definitions ----------------------------------------------------------------------------


def _option(value: str, label: str, order: int) -> Json:
    return {"label": label, "value": value, "displayOrder": order, "hidden": False, "description": ""}


def _prop(
    name: str,
    label: str,
    *,
    type_: str = "string",
    field_type: str = "text",
    group: str,
    options: Sequence[tuple[str, str]] = (),
    read_only_value: bool = False,
    unique: bool = False,
    external_options: bool = False,
    referenced_object_type: str | None = None,
    order: int = -1,
) -> Json:
    definition: Json = {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "description": "",
        "groupName": group,
        "options": [_option(v, lab, i) for i, (v, lab) in enumerate(options)],
        "displayOrder": order,
        "calculated": False,
        "externalOptions": external_options,
        "hasUniqueValue": unique,
        "hidden": False,
        "hubspotDefined": True,
        "showCurrencySymbol": False,
        "modificationMetadata": {
            "archivable": False,
            "readOnlyDefinition": True,
            "readOnlyValue": read_only_value,
        },
        "formField": not read_only_value,
        "dataSensitivity": "non_sensitive",
    }
    if referenced_object_type is not None:
        definition["referencedObjectType"] = referenced_object_type
    return definition


LEAD_STATUSES = (
    ("NEW", "New"),
    ("OPEN", "Open"),
    ("IN_PROGRESS", "In Progress"),
    ("OPEN_DEAL", "Open Deal"),
    ("UNQUALIFIED", "Unqualified"),
    ("ATTEMPTED_TO_CONTACT", "Attempted to Contact"),
    ("CONNECTED", "Connected"),
    ("BAD_TIMING", "Bad Timing"),
)
LIFECYCLE_STAGES = (
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
)
LANGUAGES = (
    ("en", "English"),
    ("es", "Spanish"),
    ("fr", "French"),
    ("de", "German"),
    ("pt-br", "Portuguese - Brazil"),
    ("zh-cn", "Chinese - China"),
    ("zh-tw", "Chinese - Taiwan"),
    ("vi", "Vietnamese"),
    ("ko", "Korean"),
    ("tl", "Tagalog"),
    ("ru", "Russian"),
    ("ar", "Arabic"),
)
TASK_STATUSES = (
    ("NOT_STARTED", "Not started"),
    ("IN_PROGRESS", "In progress"),
    ("WAITING", "Waiting"),
    ("COMPLETED", "Completed"),
    ("DEFERRED", "Deferred"),
)
TASK_TYPES = (("CALL", "Call"), ("EMAIL", "Email"), ("TODO", "To-do"))
TASK_PRIORITIES = (("NONE", "None"), ("LOW", "Low"), ("MEDIUM", "Medium"), ("HIGH", "High"))


def standard_properties(object_type: str) -> list[Json]:
    """HubSpot-defined properties the sandbox knows for an object type."""
    owner = _prop(
        "hubspot_owner_id",
        "Contact owner" if object_type == "contacts" else "Assigned to",
        type_="enumeration",
        field_type="select",
        group="contactinformation" if object_type == "contacts" else "task",
        external_options=True,
        referenced_object_type="OWNER",
    )
    if object_type == "contacts":
        g = "contactinformation"
        return [
            _prop("firstname", "First Name", group=g, order=0),
            _prop("lastname", "Last Name", group=g, order=1),
            _prop("email", "Email", group=g, order=2),
            _prop("phone", "Phone Number", field_type="phonenumber", group=g, order=3),
            _prop("mobilephone", "Mobile Phone Number", field_type="phonenumber", group=g, order=4),
            _prop(
                "hs_lead_status",
                "Lead Status",
                type_="enumeration",
                field_type="radio",
                group="sales_properties",
                options=LEAD_STATUSES,
            ),
            _prop(
                "lifecyclestage",
                "Lifecycle Stage",
                type_="enumeration",
                field_type="radio",
                group=g,
                options=LIFECYCLE_STAGES,
            ),
            owner,
            _prop(
                "hs_language",
                "Preferred language",
                type_="enumeration",
                field_type="select",
                group=g,
                options=LANGUAGES,
            ),
            _prop(
                "hs_email_optout",
                "Unsubscribed from all email",
                type_="bool",
                field_type="booleancheckbox",
                group="emailinformation",
                options=(("true", "Yes"), ("false", "No")),
                read_only_value=True,  # set by HubSpot's subscription preferences, never by the API
            ),
            _prop(
                "hs_object_id",
                "Record ID",
                type_="number",
                field_type="number",
                group=g,
                read_only_value=True,
            ),
            _prop("createdate", "Create Date", type_="datetime", field_type="date", group=g),
            _prop(
                "lastmodifieddate",
                "Last Modified Date",
                type_="datetime",
                field_type="date",
                group=g,
                read_only_value=True,
            ),
        ]
    if object_type == "tasks":
        g = "task"
        return [
            _prop("hs_timestamp", "Due date", type_="datetime", field_type="date", group=g),
            _prop("hs_task_subject", "Task Title", group=g),
            _prop("hs_task_body", "Notes", field_type="html", group=g),
            _prop(
                "hs_task_status",
                "Task Status",
                type_="enumeration",
                field_type="select",
                group=g,
                options=TASK_STATUSES,
            ),
            _prop(
                "hs_task_type",
                "Task Type",
                type_="enumeration",
                field_type="select",
                group=g,
                options=TASK_TYPES,
            ),
            _prop(
                "hs_task_priority",
                "Priority",
                type_="enumeration",
                field_type="select",
                group=g,
                options=TASK_PRIORITIES,
            ),
            owner,
            _prop(
                "hs_task_completion_date",
                "Completed at",
                type_="datetime",
                field_type="date",
                group=g,
                read_only_value=True,
            ),
            _prop(
                "hs_object_id",
                "Record ID",
                type_="number",
                field_type="number",
                group=g,
                read_only_value=True,
            ),
            _prop(
                "hs_createdate",
                "Create date",
                type_="datetime",
                field_type="date",
                group=g,
                read_only_value=True,
            ),
            _prop(
                "hs_lastmodifieddate",
                "Last modified date",
                type_="datetime",
                field_type="date",
                group=g,
                read_only_value=True,
            ),
        ]
    raise ValueError(f"no standard properties for object type {object_type!r}")


def standard_groups(object_type: str) -> list[Json]:
    """HubSpot-defined property groups for an object type."""
    names = {
        "contacts": [("contactinformation", "Contact information"), ("sales_properties", "Sales properties")],
        "tasks": [("task", "Task information")],
    }[object_type]
    return [{"name": n, "label": lab, "displayOrder": i, "archived": False} for i, (n, lab) in enumerate(names)]


@dataclass(frozen=True, slots=True, kw_only=True)
class SeedOwner:
    """An owner (HubSpot user) every sandbox portal starts with; ids only are logged."""

    id: str
    user_id: int
    email: str
    first_name: str
    last_name: str
    team: str


SEED_OWNERS: tuple[SeedOwner, ...] = (
    SeedOwner(
        id="70000101",
        user_id=9100101,
        email="frontdesk@clinic.example",
        first_name="Front",
        last_name="Desk",
        team="Front office",
    ),
    SeedOwner(
        id="70000102",
        user_id=9100102,
        email="triage.nurse@clinic.example",
        first_name="Clinical",
        last_name="Triage Nurse",
        team="Clinical",
    ),
    SeedOwner(
        id="70000103",
        user_id=9100103,
        email="bilingual@clinic.example",
        first_name="Bilingual",
        last_name="Coordinator",
        team="Front office",
    ),
    SeedOwner(
        id="70000104",
        user_id=9100104,
        email="insurance@clinic.example",
        first_name="Insurance",
        last_name="Desk",
        team="Billing",
    ),
    SeedOwner(
        id="70000105",
        user_id=9100105,
        email="referrals@clinic.example",
        first_name="Referral",
        last_name="Coordinator",
        team="Clinical",
    ),
)


# --- errors ------------------------------------------------------------------------------------------


def correlation_id() -> str:
    """A fresh correlation id (HubSpot's are UUIDs)."""
    return str(uuid.uuid4())


class HubSpotError(Exception):
    """An error answer: the HTTP status, HubSpot's JSON body and any extra headers."""

    def __init__(self, status: int, body: Json, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {body.get('category') or body.get('status')}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    @classmethod
    def of(
        cls,
        status: int,
        category: str,
        message: str,
        *,
        errors: list[Json] | None = None,
        context: Mapping[str, list[str]] | None = None,
        sub_category: str | None = None,
    ) -> HubSpotError:
        """HubSpot's standard error body: ``status``, ``message``, ``correlationId``, ``category`` ..."""
        body: Json = {"status": "error", "message": message, "correlationId": correlation_id()}
        if errors is not None:
            body["errors"] = errors
        if context is not None:
            body["context"] = dict(context)
        body["category"] = category
        if sub_category is not None:
            body["subCategory"] = sub_category
        return cls(status, body)


def validation_error(message: str) -> HubSpotError:
    """A 400 VALIDATION_ERROR with a plain message."""
    return HubSpotError.of(400, "VALIDATION_ERROR", message)


def not_found() -> HubSpotError:
    """The 404 HubSpot answers for an unknown or archived record."""
    return HubSpotError.of(404, "OBJECT_NOT_FOUND", "resource not found")


@dataclass(frozen=True, slots=True, kw_only=True)
class PropertyProblem:
    """One invalid property value, as HubSpot's ``Property values were not valid`` error lists it.

    Attributes:
        name: the property at fault.
        code: HubSpot's error code (``PROPERTY_DOESNT_EXIST``, ``INVALID_OPTION`` ...).
        message: HubSpot's message for it.
    """

    name: str
    code: str
    message: str


def property_values_error(problems: Iterable[PropertyProblem], portal_id: int) -> HubSpotError:
    """HubSpot's 400 for invalid property values: a legacy JSON list inside ``message`` plus ``errors[]``."""
    items = list(problems)
    legacy = [
        {
            "isValid": False,
            "message": p.message,
            "error": p.code,
            "name": p.name,
            "localizedErrorMessage": p.message,
            "portalId": portal_id,
        }
        for p in items
    ]
    errors = [{"message": p.message, "code": p.code, "context": {"propertyName": [p.name]}} for p in items]
    return HubSpotError.of(
        400,
        "VALIDATION_ERROR",
        "Property values were not valid: " + json.dumps(legacy, separators=(",", ":")),
        errors=errors,
    )


def options_listing(options: Sequence[Json]) -> str:
    """How HubSpot lists allowed options in an INVALID_OPTION message (protobuf text format)."""
    parts = [
        f'label: "{o["label"]}"\nvalue: "{o["value"]}"\ndisplay_order: {o.get("displayOrder", 0)}\n'
        f"hidden: {str(o.get('hidden', False)).lower()}\nread_only: false\n"
        for o in options
    ]
    return "[" + ", ".join(parts) + "]"


def rate_limit_error(policy: str, retry_after_s: int | None) -> HubSpotError:
    """HubSpot's 429 body for the named policy (SECONDLY, TEN_SECONDLY_ROLLING, DAILY)."""
    label = {"SECONDLY": "secondly", "TEN_SECONDLY_ROLLING": "ten_secondly_rolling", "DAILY": "daily"}[policy]
    body: Json = {
        "status": "error",
        "message": f"You have reached your {label} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy,
    }
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else {}
    return HubSpotError(429, body, headers)


AUTH_MISSING_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more "
    "details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


def invalid_authentication() -> HubSpotError:
    """HubSpot's 401 for a missing or unknown token."""
    return HubSpotError.of(401, "INVALID_AUTHENTICATION", AUTH_MISSING_MESSAGE)


def expired_authentication(expired_at_ms: int, now_ms: int) -> HubSpotError:
    """HubSpot's 401 for an expired OAuth access token."""
    ago = max(0, (now_ms - expired_at_ms) // 1000)
    return HubSpotError.of(
        401,
        "EXPIRED_AUTHENTICATION",
        f"The OAuth token used to make this call expired {ago} second(s) ago.",
        context={"expire time": [iso_ms(expired_at_ms)]},
    )


def oauth_error(status_code: str, message: str) -> HubSpotError:
    """The token endpoint's own error shape: ``{"status": "BAD_AUTH_CODE", "message": ...}``."""
    return HubSpotError(400, {"status": status_code, "message": message, "correlationId": correlation_id()})
