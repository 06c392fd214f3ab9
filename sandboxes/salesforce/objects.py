"""The Salesforce sandbox org's sObjects: Lead, Lead status, Contact, Account (with person accounts),
Record type, Task, User and Group, their fields and picklists, and lookups by name or id prefix.

To add a field, append a ``FieldSpec`` to the object's tuple; to add a picklist value, extend its
``picklist``. The standard fields follow the Salesforce Object Reference (Lead, Contact, Task,
User, Group) at API version 59.0; the custom fields (``__c``) are the ones nurturehub's connector
expects an org to have after installing its package.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from sandboxes.salesforce.schema import (
    _RO,
    FieldSpec,
    ObjectSpec,
    _bool,
    _id,
    _is_deleted,
    _pick,
    _snake,
    _system,
    _text,
    _values,
)

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
