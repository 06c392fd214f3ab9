"""Org metadata for the Salesforce sandbox: which sObjects exist, their fields, and Salesforce ids.

The metadata is a data structure, not code per field: an :class:`ObjectSpec` holds
:class:`FieldSpec` values, and everything the server does (describe, validation, SOQL type
checks, defaults) is derived from it. To add a field, append a ``FieldSpec`` to the object's
tuple; to add a picklist value, extend its ``picklist``.

The standard fields follow the Salesforce Object Reference (Lead, Contact, Task, User, Group) at
API version 59.0; the custom fields (``__c``) are the ones nurturehub's connector expects an org to
have after installing its package.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypedDict

__all__ = [
    "API_VERSION",
    "LEAD_STATUSES",
    "OBJECTS",
    "SUPPORTED_VERSIONS",
    "FieldSpec",
    "ObjectSpec",
    "PicklistValue",
    "describe_global",
    "describe_sobject",
    "id15",
    "is_person_record_type",
    "is_salesforce_id",
    "make_id",
    "normalize_id",
    "object_for_prefix",
    "record_type_id",
    "sobject_root_info",
]

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


_CONSENT = _snake("granted", "denied", "unknown", default="unknown")

INTENTS: Final = (
    "ready_to_schedule",
    "service_fit",
    "insurance_authorization",
    "clinical_question",
    "language_support",
    "referral_coordination",
    "not_ready_yet",
    "unknown",
)
NEXT_ACTIONS: Final = (
    "book_appointment",
    "call_back_requested_time",
    "send_prep_info",
    "route_clinical_question",
    "verify_insurance",
    "request_referral_documents",
    "add_to_nurture",
    "close_declined",
    "close_not_a_fit",
    "triage",
)
STAGES: Final = (
    "new",
    "attempting",
    "reached",
    "scheduled",
    "prepared",
    "kept",
    "no_show",
    "declined",
    "not_a_fit",
    "unreachable",
    "duplicate",
)
#: The hub's channel map (nurture.vocab.Channel), as the org's picklist values.
CHANNELS: Final = (
    "organic_search",
    "gbp_call",
    "paid_search",
    "website_form",
    "appointment_request",
    "social_message",
    "newsletter_reply",
    "webinar",
    "referral_partner",
    "review_platform",
    "phone_call",
    "other",
)
LANGUAGES: Final = ("en", "es", "zh", "vi", "ko", "tl", "ru", "ar", "fr", "ht", "pt")


def _nurture_fields() -> tuple[FieldSpec, ...]:
    """The custom fields nurturehub's package adds to Lead, Contact and Account (Person Accounts)."""
    return (
        _text("Nurture_Id__c", "Nurture ID", 64, external_id=True, unique=True),
        _pick("Intent__c", "Intent", _snake(*INTENTS), restricted=True),
        _pick("Next_Action__c", "Next Action", _snake(*NEXT_ACTIONS), restricted=True),
        _pick("Score__c", "Score", _values("A", "B", "C", "D", "E"), restricted=True),
        _pick("Stage__c", "Stage", _snake(*STAGES), restricted=True),
        _pick("SMS_Consent__c", "SMS Consent", _CONSENT, restricted=True),
        _pick("Call_Consent__c", "Call Consent", _CONSENT, restricted=True),
        _pick("Email_Consent__c", "Email Consent", _CONSENT, restricted=True),
        _pick("Voicemail_Consent__c", "Voicemail Consent", _CONSENT, restricted=True),
        FieldSpec(name="Next_Action_Due__c", label="Next Action Due", type="datetime"),
        _text("Owner_Queue__c", "Owner Queue", 80),
        _pick(
            "Preferred_Language__c",
            "Preferred Language",
            _values(
                *LANGUAGES,
                labels={
                    "en": "English",
                    "es": "Spanish",
                    "zh": "Chinese",
                    "vi": "Vietnamese",
                    "ko": "Korean",
                    "tl": "Tagalog",
                    "ru": "Russian",
                    "ar": "Arabic",
                    "fr": "French",
                    "ht": "Haitian Creole",
                    "pt": "Portuguese",
                },
            ),
        ),
        _pick("Channel__c", "Channel", _snake(*CHANNELS), restricted=True),
        _bool("Urgent__c", "Urgent"),
    )


_OWNER_LEAD = FieldSpec(
    name="OwnerId",
    label="Owner ID",
    type="reference",
    nillable=False,
    defaulted_on_create=True,
    reference_to=("Group", "User"),
    relationship_name="Owner",
)
_OWNER_USER = FieldSpec(
    name="OwnerId",
    label="Owner ID",
    type="reference",
    nillable=False,
    defaulted_on_create=True,
    reference_to=("User",),
    relationship_name="Owner",
)
_LEAD_SOURCE = _pick(
    "LeadSource",
    "Lead Source",
    _values("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"),
)
_NAME = FieldSpec(
    name="Name",
    label="Full Name",
    type="string",
    length=121,
    createable=False,
    updateable=False,
    name_field=True,
)

LEAD: Final = ObjectSpec(
    name="Lead",
    label="Lead",
    label_plural="Leads",
    key_prefix="00Q",
    name_expression=("FirstName", "LastName"),
    fields=(
        _id(),
        _is_deleted(),
        _text("LastName", "Last Name", 80, nillable=False),
        _text("FirstName", "First Name", 40),
        _NAME,
        _text("Title", "Title", 128),
        _text("Company", "Company", 255, nillable=False),
        FieldSpec(name="Phone", label="Phone", type="phone", length=40),
        FieldSpec(name="MobilePhone", label="Mobile Phone", type="phone", length=40),
        FieldSpec(name="Email", label="Email", type="email", length=80),
        FieldSpec(name="Description", label="Description", type="textarea", length=32000),
        _LEAD_SOURCE,
        _pick(
            "Status",
            "Status",
            _values(
                "Open - Not Contacted",
                "Working - Contacted",
                "Closed - Converted",
                "Closed - Not Converted",
                default="Open - Not Contacted",
            ),
            restricted=True,
            nillable=False,
            defaulted_on_create=True,
        ),
        _OWNER_LEAD,
        _bool("HasOptedOutOfEmail", "Email Opt Out"),
        _bool("DoNotCall", "Do Not Call"),
        FieldSpec(
            name="IsConverted",
            label="Converted",
            type="boolean",
            nillable=False,
            defaulted_on_create=True,
            default=False,
            updateable=False,
        ),
        # Set by lead conversion only (SalesforceSandbox.convert_lead); read-only through the API.
        FieldSpec(
            name="ConvertedAccountId",
            label="Converted Account ID",
            type="reference",
            reference_to=("Account",),
            relationship_name="ConvertedAccount",
            **_RO,
        ),
        FieldSpec(
            name="ConvertedContactId",
            label="Converted Contact ID",
            type="reference",
            reference_to=("Contact",),
            relationship_name="ConvertedContact",
            **_RO,
        ),
        FieldSpec(name="ConvertedDate", label="Converted Date", type="date", **_RO),
        *_system(),
        *_nurture_fields(),
    ),
)

#: The org's lead statuses (LeadStatus rows): (value, IsConverted, IsDefault). Values match the
#: Lead.Status picklist; "Closed - Converted" is what conversion sets.
LEAD_STATUSES: Final = (
    ("Open - Not Contacted", False, True),
    ("Working - Contacted", False, False),
    ("Closed - Converted", True, False),
    ("Closed - Not Converted", False, False),
)

LEAD_STATUS: Final = ObjectSpec(
    name="LeadStatus",
    label="Lead Status Value",
    label_plural="Lead Status Values",
    key_prefix="01J",
    createable=False,
    updateable=False,
    deletable=False,
    fields=(
        _id(),
        FieldSpec(name="ApiName", label="API Name", type="string", length=255, nillable=False, **_RO),
        FieldSpec(name="MasterLabel", label="Master Label", type="string", length=255, name_field=True, **_RO),
        FieldSpec(name="IsConverted", label="Is Converted", type="boolean", nillable=False, **_RO),
        FieldSpec(name="IsDefault", label="Is Default", type="boolean", nillable=False, **_RO),
        FieldSpec(name="SortOrder", label="Sort Order", type="int", precision=9, **_RO),
        *_system(),
    ),
)

CONTACT: Final = ObjectSpec(
    name="Contact",
    label="Contact",
    label_plural="Contacts",
    key_prefix="003",
    name_expression=("FirstName", "LastName"),
    fields=(
        _id(),
        _is_deleted(),
        FieldSpec(
            name="AccountId",
            label="Account ID",
            type="reference",
            reference_to=("Account",),
            relationship_name="Account",
        ),
        _text("LastName", "Last Name", 80, nillable=False),
        _text("FirstName", "First Name", 40),
        _NAME,
        FieldSpec(name="Phone", label="Business Phone", type="phone", length=40),
        FieldSpec(name="MobilePhone", label="Mobile Phone", type="phone", length=40),
        FieldSpec(name="Email", label="Email", type="email", length=80),
        _text("Title", "Title", 128),
        _LEAD_SOURCE,
        FieldSpec(name="Description", label="Contact Description", type="textarea", length=32000),
        _OWNER_USER,
        _bool("HasOptedOutOfEmail", "Email Opt Out"),
        _bool("DoNotCall", "Do Not Call"),
        *_system(),
        *_nurture_fields(),
    ),
)

#: The Account record types of the org: (record number, DeveloperName, Name, IsPersonType); their
#: ids are ``make_id("012", n)``. Person Accounts are enabled, as in Health Cloud orgs, where
#: patients are Person Accounts.
RECORD_TYPES: Final = (
    (1, "Business_Account", "Business Account", False),
    (2, "PersonAccount", "Person Account", True),
)
#: Fields that exist only on person accounts: setting one on a business account is refused.
PERSON_FIELDS: Final = frozenset(
    {
        "FirstName",
        "LastName",
        "Salutation",
        "PersonEmail",
        "PersonMobilePhone",
        "PersonHasOptedOutOfEmail",
        "PersonDoNotCall",
        "PersonLeadSource",
    }
)

ACCOUNT: Final = ObjectSpec(
    name="Account",
    label="Account",
    label_plural="Accounts",
    key_prefix="001",
    fields=(
        _id(),
        _is_deleted(),
        # Name: given for a business account; for a person account Salesforce composes it from
        # the person's names (the sandbox checks which applies on create).
        FieldSpec(
            name="Name", label="Account Name", type="string", length=255, defaulted_on_create=True, name_field=True
        ),
        FieldSpec(
            name="RecordTypeId",
            label="Record Type ID",
            type="reference",
            defaulted_on_create=True,
            reference_to=("RecordType",),
            relationship_name="RecordType",
        ),
        FieldSpec(
            name="IsPersonAccount",
            label="Is Person Account",
            type="boolean",
            nillable=False,
            defaulted_on_create=True,
            default=False,
            **_RO,
        ),
        FieldSpec(
            name="PersonContactId",
            label="Person Contact ID",
            type="reference",
            reference_to=("Contact",),
            relationship_name="PersonContact",
            **_RO,
        ),
        _text("Salutation", "Salutation", 40),
        _text("FirstName", "First Name", 40),
        _text("LastName", "Last Name", 80),
        FieldSpec(name="Phone", label="Account Phone", type="phone", length=40),
        FieldSpec(name="PersonMobilePhone", label="Mobile", type="phone", length=40),
        FieldSpec(name="PersonEmail", label="Email", type="email", length=80),
        FieldSpec(name="Description", label="Account Description", type="textarea", length=32000),
        _pick(
            "AccountSource",
            "Account Source",
            _values("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"),
        ),
        _pick(
            "PersonLeadSource",
            "Lead Source",
            _values("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"),
        ),
        _OWNER_USER,
        _bool("PersonHasOptedOutOfEmail", "Email Opt Out"),
        _bool("PersonDoNotCall", "Do Not Call"),
        *_system(),
        *_nurture_fields(),
    ),
)

RECORD_TYPE: Final = ObjectSpec(
    name="RecordType",
    label="Record Type",
    label_plural="Record Types",
    key_prefix="012",
    createable=False,
    updateable=False,
    deletable=False,
    fields=(
        _id(),
        FieldSpec(name="Name", label="Name", type="string", length=80, nillable=False, name_field=True, **_RO),
        FieldSpec(name="DeveloperName", label="Record Type Name", type="string", length=80, nillable=False, **_RO),
        FieldSpec(name="SobjectType", label="SObject Type Name", type="picklist", length=40, nillable=False,
                  picklist=_values("Account"), **_RO),
        FieldSpec(name="IsPersonType", label="Is Person Type", type="boolean", nillable=False, **_RO),
        FieldSpec(name="IsActive", label="Active", type="boolean", nillable=False, **_RO),
        *_system(),
    ),
)  # fmt: skip

TASK_STATUSES: Final = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
#: Statuses whose TaskStatus.IsClosed is true in a new org.
CLOSED_TASK_STATUSES: Final = frozenset({"Completed"})

TASK: Final = ObjectSpec(
    name="Task",
    label="Task",
    label_plural="Tasks",
    key_prefix="00T",
    fields=(
        _id(),
        FieldSpec(
            name="WhoId",
            label="Name ID",
            type="reference",
            reference_to=("Contact", "Lead"),
            relationship_name="Who",
        ),
        FieldSpec(
            name="WhatId",
            label="Related To ID",
            type="reference",
            reference_to=("Account", "Case", "Opportunity"),
            relationship_name="What",
        ),
        FieldSpec(
            name="Subject",
            label="Subject",
            type="combobox",
            length=255,
            picklist=_values("Call", "Send Letter", "Send Quote", "Other"),
        ),
        FieldSpec(name="ActivityDate", label="Due Date Only", type="date"),
        _pick(
            "Status",
            "Status",
            _values(*TASK_STATUSES, default="Not Started"),
            restricted=True,
            nillable=False,
            defaulted_on_create=True,
        ),
        _pick(
            "Priority",
            "Priority",
            _values("High", "Normal", "Low", default="Normal"),
            restricted=True,
            nillable=False,
            defaulted_on_create=True,
        ),
        _OWNER_USER,
        FieldSpec(name="Description", label="Description", type="textarea", length=32000),
        _is_deleted(),
        FieldSpec(
            name="IsClosed",
            label="Closed",
            type="boolean",
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
            default=False,
        ),
        *_system(),
        _pick("CallType", "Call Type", _values("Internal", "Inbound", "Outbound"), restricted=True),
        _text("CallDisposition", "Call Result", 255),
        FieldSpec(name="CallDurationInSeconds", label="Call Duration", type="int", precision=9),
        FieldSpec(name="ReminderDateTime", label="Reminder Date/Time", type="datetime"),
        _bool("IsReminderSet", "Reminder Set"),
        _pick(
            "TaskSubtype",
            "Task Subtype",
            _values("Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"),
            restricted=True,
            updateable=False,
        ),
        FieldSpec(
            name="CompletedDateTime",
            label="Completed Date/Time",
            type="datetime",
            createable=False,
            updateable=False,
        ),
        _text("Nurture_Task_Key__c", "Nurture Task Key", 120, external_id=True, unique=True),
    ),
)


USER: Final = ObjectSpec(
    name="User",
    label="User",
    label_plural="Users",
    key_prefix="005",
    createable=False,
    updateable=False,
    deletable=False,
    name_expression=("FirstName", "LastName"),
    fields=(
        _id(),
        FieldSpec(
            name="Username",
            label="Username",
            type="string",
            length=80,
            nillable=False,
            unique=True,
            **_RO,
        ),
        FieldSpec(name="LastName", label="Last Name", type="string", length=80, nillable=False, **_RO),
        FieldSpec(name="FirstName", label="First Name", type="string", length=40, **_RO),
        FieldSpec(name="Name", label="Full Name", type="string", length=121, name_field=True, **_RO),
        FieldSpec(name="Alias", label="Alias", type="string", length=8, nillable=False, **_RO),
        FieldSpec(name="Email", label="Email", type="email", length=128, nillable=False, **_RO),
        FieldSpec(name="IsActive", label="Active", type="boolean", nillable=False, **_RO),
        FieldSpec(
            name="TimeZoneSidKey",
            label="Time Zone",
            type="picklist",
            length=40,
            nillable=False,
            picklist=_values("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"),
            **_RO,
        ),
        FieldSpec(
            name="UserType",
            label="User Type",
            type="picklist",
            length=40,
            picklist=_values("Standard", "AutomatedProcess"),
            **_RO,
        ),
        *_system(),
    ),
)

GROUP: Final = ObjectSpec(
    name="Group",
    label="Group",
    label_plural="Groups",
    key_prefix="00G",
    createable=False,
    updateable=False,
    deletable=False,
    fields=(
        _id(),
        FieldSpec(name="Name", label="Name", type="string", length=40, nillable=False, name_field=True, **_RO),
        FieldSpec(name="DeveloperName", label="Developer Name", type="string", length=80, **_RO),
        FieldSpec(
            name="Type",
            label="Type",
            type="picklist",
            length=40,
            nillable=False,
            picklist=_values("Queue", "Regular", "Role", "Organization"),
            **_RO,
        ),
        FieldSpec(name="Email", label="Email", type="email", length=255, **_RO),
        FieldSpec(
            name="OwnerId",
            label="Owner ID",
            type="reference",
            nillable=False,
            reference_to=("User",),
            relationship_name="Owner",
            **_RO,
        ),
        FieldSpec(
            name="DoesSendEmailToMembers",
            label="Send Email to Members",
            type="boolean",
            nillable=False,
            **_RO,
        ),
        *_system(),
    ),
)

#: Every sObject of the org, by API name.
OBJECTS: Final[Mapping[str, ObjectSpec]] = {
    o.name: o for o in (LEAD, CONTACT, ACCOUNT, RECORD_TYPE, TASK, USER, GROUP, LEAD_STATUS)
}

#: Key prefixes of objects that exist in real orgs but not in this sandbox (references to them are
#: well-formed but can never resolve).
FOREIGN_PREFIXES: Final[Mapping[str, str]] = {"500": "Case", "006": "Opportunity"}
_OBJECTS_LOWER: Final = {name.lower(): spec for name, spec in OBJECTS.items()}


def find_object(name: str) -> ObjectSpec | None:
    """The sObject called ``name`` (case-insensitive)."""
    return _OBJECTS_LOWER.get(name.lower())


def object_for_prefix(prefix: str) -> str | None:
    """The sObject name whose ids start with ``prefix`` (including types this org lacks)."""
    for spec in OBJECTS.values():
        if spec.key_prefix == prefix:
            return spec.name
    return FOREIGN_PREFIXES.get(prefix)


# --------------------------------------------------------------------------------------------------
# Salesforce ids: 15 case-sensitive characters plus a 3-character case-insensitive checksum.

_BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ALNUM: Final = frozenset(_BASE62)
#: The instance ("pod") part of ids this org mints, as in 00Q5g...
_POD: Final = "5g0"


def _checksum(id15: str) -> str:
    out = []
    for chunk in range(3):
        flags = 0
        for pos in range(5):
            if "A" <= id15[chunk * 5 + pos] <= "Z":
                flags |= 1 << pos
        out.append(_SUFFIX[flags])
    return "".join(out)


def make_id(prefix: str, counter: int) -> str:
    """An 18-character id for record number ``counter`` of the type with ``prefix``.

    The counter is written in base 62 with a fixed width, so ids sort in creation order.
    """
    digits = []
    n = counter
    for _ in range(9):
        n, rem = divmod(n, 62)
        digits.append(_BASE62[rem])
    if n:
        raise ValueError("record counter overflow")
    id15 = prefix + _POD + "".join(reversed(digits))
    return id15 + _checksum(id15)


def record_type_id(developer_name: str) -> str:
    """The id of the Account record type ``developer_name``."""
    for n, name, _, _ in RECORD_TYPES:
        if name == developer_name:
            return make_id("012", n)
    raise KeyError(developer_name)


def is_person_record_type(record_type_id: str | None) -> bool:
    """Whether ``record_type_id`` (15 or 18 characters) is a person-account record type."""
    if not record_type_id:
        return False
    return any(person and make_id("012", n)[:15] == record_type_id[:15] for n, _, _, person in RECORD_TYPES)


def is_salesforce_id(value: str) -> bool:
    """Whether ``value`` is a well-formed 15- or 18-character id (checksum verified)."""
    if len(value) not in (15, 18) or not set(value) <= _ALNUM:
        return False
    return len(value) == 15 or value[15:].upper() == _checksum(value[:15])


def normalize_id(value: str) -> str:
    """The 18-character form of a well-formed id (the checksum part upper-cased)."""
    if len(value) == 15:
        return value + _checksum(value)
    return value[:15] + value[15:].upper()


def id15(value: str) -> str:
    """The 15-character form Salesforce uses inside some error messages."""
    return value[:15]


# --------------------------------------------------------------------------------------------------
# Describe output.

_SOAP_TYPES: Final = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "double": "xsd:double",
    "int": "xsd:int",
}


def _field_describe(spec: ObjectSpec, f: FieldSpec) -> dict[str, Any]:
    text_like = f.type in {
        "string",
        "email",
        "phone",
        "url",
        "picklist",
        "multipicklist",
        "combobox",
        "textarea",
        "id",
        "reference",
    }
    length = f.length if text_like else 0
    if f.type == "reference":
        length = 18
    default = f.default
    if f.type in {"picklist", "multipicklist"} and f.picklist_default is not None:
        default = None  # picklist defaults are reported on the value, not the field
    return {
        "aggregatable": f.type not in {"textarea", "multipicklist"},
        "aiPredictionField": False,
        "autoNumber": False,
        "byteLength": length * 3,
        "calculated": False,
        "calculatedFormula": None,
        "cascadeDelete": False,
        "caseSensitive": False,
        "compoundFieldName": None,
        "controllerName": None,
        "createable": f.createable,
        "custom": f.custom,
        "defaultValue": default,
        "defaultValueFormula": None,
        "defaultedOnCreate": f.fills_on_create,
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": f.precision if f.type == "int" else 0,
        "displayLocationInDecimal": False,
        "encrypted": False,
        "externalId": f.external_id,
        "extraTypeInfo": None,
        "filterable": f.type not in {"textarea"},
        "filteredLookupInfo": None,
        "formulaTreatNullNumberAsZero": False,
        "groupable": f.type not in {"textarea", "multipicklist", "double", "datetime"},
        "highScaleNumber": False,
        "htmlFormatted": False,
        "idLookup": f.type == "id" or f.external_id or f.name in {"Email", "Username"},
        "inlineHelpText": None,
        "label": f.label,
        "length": length,
        "mask": None,
        "maskType": None,
        "name": f.name,
        "nameField": f.name_field,
        "namePointing": len(f.reference_to) > 1,
        "nillable": f.nillable,
        "permissionable": f.nillable and f.type != "id",
        "picklistValues": [
            {
                "active": v.active,
                "defaultValue": v.default,
                "label": v.label,
                "validFor": None,
                "value": v.value,
            }
            for v in f.picklist
        ],
        "polymorphicForeignKey": len(f.reference_to) > 1,
        "precision": f.precision if f.type == "double" else 0,
        "queryByDistance": False,
        "referenceTargetField": None,
        "referenceTo": list(f.reference_to),
        "relationshipName": f.relationship_name,
        "relationshipOrder": None,
        "restrictedDelete": False,
        "restrictedPicklist": f.restricted,
        "scale": f.scale,
        "searchPrefilterable": f.type == "reference",
        "soapType": _SOAP_TYPES.get(f.type, "xsd:string"),
        "sortable": f.type not in {"textarea", "multipicklist"},
        "type": f.type,
        "unique": f.unique,
        "updateable": f.updateable,
        "writeRequiresMasterRead": False,
    }


def _urls(version: str, name: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{name}"
    return {
        "compactLayouts": f"{base}/describe/compactLayouts",
        "rowTemplate": f"{base}/{{ID}}",
        "approvalLayouts": f"{base}/describe/approvalLayouts",
        "describe": f"{base}/describe",
        "quickActions": f"{base}/quickActions",
        "layouts": f"{base}/describe/layouts",
        "sobject": base,
    }


def _object_summary(spec: ObjectSpec, version: str) -> dict[str, Any]:
    return {
        "activateable": False,
        "associateEntityType": None,
        "associateParentEntity": None,
        "createable": spec.createable,
        "custom": False,
        "customSetting": False,
        "deepCloneable": False,
        "deletable": spec.deletable,
        "deprecatedAndHidden": False,
        "feedEnabled": spec.name in {"Lead", "Contact", "User", "Group"},
        "hasSubtypes": False,
        "isInterface": False,
        "isSubtype": False,
        "keyPrefix": spec.key_prefix,
        "label": spec.label,
        "labelPlural": spec.label_plural,
        "layoutable": True,
        "mergeable": spec.name in {"Lead", "Contact", "Account"},
        "mruEnabled": True,
        "name": spec.name,
        "queryable": True,
        "replicateable": True,
        "retrieveable": True,
        "searchable": True,
        "triggerable": True,
        "undeletable": spec.deletable,
        "updateable": spec.updateable,
        "urls": _urls(version, spec.name),
    }


def describe_global(version: str) -> dict[str, Any]:
    """The body of ``GET /services/data/vXX.X/sobjects``."""
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [_object_summary(spec, version) for spec in OBJECTS.values()],
    }


def sobject_root_info(spec: ObjectSpec, version: str, recent: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The body of ``GET /services/data/vXX.X/sobjects/{Type}`` (basic information)."""
    return {"objectDescribe": _object_summary(spec, version), "recentItems": list(recent)}


def _child_relationships(spec: ObjectSpec) -> list[dict[str, Any]]:
    children = []
    for child in OBJECTS.values():
        for f in child.fields:
            if spec.name in f.reference_to and f.relationship_name and child.name != spec.name:
                children.append(
                    {
                        "cascadeDelete": False,
                        "childSObject": child.name,
                        "deprecatedAndHidden": False,
                        "field": f.name,
                        "junctionIdListNames": [],
                        "junctionReferenceTo": [],
                        "relationshipName": f"{child.label_plural}"
                        if f.name not in {"CreatedById", "LastModifiedById"}
                        else None,
                        "restrictedDelete": False,
                    }
                )
    return children


def describe_sobject(spec: ObjectSpec, version: str) -> dict[str, Any]:
    """The body of ``GET /services/data/vXX.X/sobjects/{Type}/describe``."""
    body = _object_summary(spec, version)
    body.update(
        {
            "actionOverrides": [],
            "childRelationships": _child_relationships(spec),
            "compactLayoutable": True,
            "dataTranslationEnabled": False,
            "defaultImplementation": None,
            "extendedBy": None,
            "extendsInterfaces": None,
            "fields": [_field_describe(spec, f) for f in spec.fields],
            "implementedBy": None,
            "implementsInterfaces": None,
            "listviewable": None,
            "lookupLayoutable": None,
            "namedLayoutInfos": [],
            "networkScopeFieldName": None,
            "recordTypeInfos": [
                {
                    "active": True,
                    "available": True,
                    "defaultRecordTypeMapping": True,
                    "developerName": "Master",
                    "master": True,
                    "name": "Master",
                    "recordTypeId": "012000000000000AAA",
                    "urls": {
                        "layout": f"/services/data/v{version}/sobjects/{spec.name}/describe/layouts/012000000000000AAA"
                    },
                }
            ],
            "searchLayoutable": True,
            "sobjectDescribeOption": "FULL",
            "supportedScopes": [
                {"label": f"All {spec.label_plural.lower()}", "name": "everything"},
                {"label": f"My {spec.label_plural.lower()}", "name": "mine"},
            ],
        }
    )
    return dict(sorted(body.items()))


def versions() -> list[dict[str, str]]:
    """The body of ``GET /services/data/``."""
    return [{"label": release_label(v), "url": f"/services/data/v{v}", "version": v} for v in SUPPORTED_VERSIONS]
