"""The mappings a fresh install starts with: one per webhook source and one per CRM object.

Source mappings assume the clinic builds its forms with the field references below (the mapping editor
changes them per form); CRM mappings assume the custom fields and properties the setup guide creates.

* **Typeform** — answers found by field ``ref``: ``first_name``, ``last_name``, ``email``,
  ``phone_number``, ``reason`` (multiple choice), ``message``, ``language`` (choice), ``contact_window``
  (choice), ``sms_consent`` (yes/no or legal); hidden field ``utm_campaign``. The consent wording is the
  consent question's title, read from ``form_response.definition.fields``.
* **Jotform** — the parsed ``rawRequest``: ``q3_fullName {first,last}``, ``q4_email``,
  ``q5_phoneNumber {full}``, ``q6_reason``, ``q7_message``, ``q8_smsConsent`` (a single checkbox whose
  label is the consent wording), ``q9_language``; ``submissionID`` (merged in by the caller from the
  multipart form) as the external id.
* **Cal.com** — bookings (``BOOKING_CREATED`` …) read the first attendee and ``payload.responses``;
  routing-form events (``FORM_SUBMITTED``, ``FORM_SUBMITTED_NO_EVENT``) read ``payload.responses``
  keyed by field identifiers ``name``, ``email``, ``phone``, ``reason``, ``notes``.
* **Calendly** — ``invitee.created`` reads the invitee; ``routing_form_submission.created`` reads
  ``questions_and_answers`` by question text ("Name", "Email", "Phone number", "What is the reason
  for your visit?", "Preferred language", "May we text you about your appointment?").
* **Standard Webhooks** — the body already is the hub's inquiry JSON: every field maps to itself.
* **Salesforce Lead / Contact / Account (Person Accounts), HubSpot contacts** — the hub owns intent,
  next action, score, stage and channel (``hub_to_crm``, ``hub_wins``); names, email, phone and
  language fill blanks both ways; consent flows both ways and the newest change wins, so an opt-out
  made in the CRM comes back; the lead status flows both ways so a status change made by staff is
  noticed (it cannot be mapped back to one stage, so it arrives in ``MappingResult.observed``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from mapping.spec import (
    Conflict,
    CrmSystem,
    Direction,
    FieldMapping,
    MappingKind,
    Rule,
    SourceType,
    TransformStep,
)
from nurture.vocab import ContactChannel, Stage

__all__ = [
    "DEFAULT_MAPPINGS",
    "default_crm_mapping",
    "default_source_mapping",
]


def _t(name: str, **params: Any) -> TransformStep:
    return TransformStep(name=name, params=params)


def _rule(
    target: str,
    *sources: str,
    transforms: Sequence[TransformStep] = (),
    required: bool = False,
    direction: Direction | None = None,
    conflict: Conflict | None = None,
) -> Rule:
    return Rule(
        target=target,
        sources=sources,
        transforms=tuple(transforms),
        required=required,
        direction=direction,
        conflict=conflict,
    )


_LANGUAGES = {
    "English": "en", "Inglés": "en", "Español": "es", "Spanish": "es", "Español (Spanish)": "es",
    "Tiếng Việt": "vi", "Vietnamese": "vi", "中文": "zh", "Chinese": "zh", "Português": "pt",
    "Portuguese": "pt", "Français": "fr", "French": "fr", "العربية": "ar", "Arabic": "ar",
}  # fmt: skip
_REASONS = {
    "Book an appointment": "ready_to_schedule",
    "Schedule a visit": "ready_to_schedule",
    "Quiero una cita": "ready_to_schedule",
    "Is this service right for me?": "service_fit",
    "Insurance or cost question": "insurance_authorization",
    "Insurance question": "insurance_authorization",
    "Pregunta sobre seguro": "insurance_authorization",
    "Question for a clinician": "clinical_question",
    "Clinical question": "clinical_question",
    "Pregunta médica": "clinical_question",
    "I need an interpreter": "language_support",
    "Referral from my doctor": "referral_coordination",
    "Referral": "referral_coordination",
    "Tengo una referencia": "referral_coordination",
    "Just looking for information": "not_ready_yet",
}
_WINDOWS = {"Morning": "morning", "Afternoon": "afternoon", "Evening": "evening",
            "Mañana": "morning", "Tarde": "afternoon", "Noche": "evening"}  # fmt: skip


def _language(*sources: str) -> Rule:
    return _rule(
        "language",
        *sources,
        transforms=[
            _t("join_list"),
            _t("trim"),
            _t("map_values", table=_LANGUAGES, case_insensitive=True, unmatched="absent"),
        ],
    )


def _intent(*sources: str) -> Rule:
    return _rule(
        "intent",
        *sources,
        transforms=[
            _t("join_list"),
            _t("trim"),
            _t("map_values", table=_REASONS, case_insensitive=True, unmatched="absent"),
        ],
    )


def _constant(target: str, value: str) -> Rule:
    return _rule(target, transforms=[_t("default", constant=value)])


_ANSWER = "form_response.answers"


def _typeform() -> FieldMapping:
    return FieldMapping(
        name="typeform_default",
        kind=MappingKind.SOURCE,
        source_type=SourceType.TYPEFORM,
        rules=(
            _constant("channel", "website_form"),
            _rule("first_name", f"{_ANSWER}[ref=first_name].text", transforms=[_t("trim")]),
            _rule("last_name", f"{_ANSWER}[ref=last_name].text", transforms=[_t("trim")]),
            _rule("email", f"{_ANSWER}[ref=email].email", transforms=[_t("normalize_email")]),
            _rule("phone", f"{_ANSWER}[ref=phone_number].phone_number", transforms=[_t("e164", region="US")]),
            _language(f"{_ANSWER}[ref=language].choice.label"),
            _rule(
                "contact_window",
                f"{_ANSWER}[ref=contact_window].choice.label",
                transforms=[_t("map_values", table=_WINDOWS, case_insensitive=True, unmatched="absent")],
            ),
            _intent(f"{_ANSWER}[ref=reason].choice.label"),
            _rule(
                "text",
                f"{_ANSWER}[ref=reason].choice.label",
                transforms=[_t("concat", paths=[f"{_ANSWER}[ref=message].text"], separator="\n")],
            ),
            _rule("consent.sms.granted", f"{_ANSWER}[ref=sms_consent].boolean", transforms=[_t("boolean")]),
            _rule(
                "consent.sms.wording",
                "form_response.definition.fields[ref=sms_consent].title",
                transforms=[_t("trim")],
            ),
            _rule("consent.sms.source", transforms=[_t("default", constant="typeform:sms_consent")]),
            _rule("campaign", "form_response.hidden.utm_campaign", transforms=[_t("trim")]),
            _rule("external_ids.typeform", "form_response.token", required=True, transforms=[_t("to_string")]),
        ),
    )


def _jotform() -> FieldMapping:
    return FieldMapping(
        name="jotform_default",
        kind=MappingKind.SOURCE,
        source_type=SourceType.JOTFORM,
        rules=(
            _constant("channel", "website_form"),
            _rule("first_name", "q3_fullName.first", transforms=[_t("trim")]),
            _rule("last_name", "q3_fullName.last", transforms=[_t("trim")]),
            _rule("email", "q4_email", transforms=[_t("normalize_email")]),
            _rule("phone", "q5_phoneNumber.full", transforms=[_t("e164", region="US")]),
            _language("q9_language"),
            _intent("q6_reason"),
            _rule(
                "text",
                "q6_reason",
                transforms=[_t("join_list"), _t("concat", paths=["q7_message"], separator="\n")],
            ),
            _rule("consent.sms.granted", "q8_smsConsent", transforms=[_t("boolean")]),
            _rule("consent.sms.wording", "q8_smsConsent", transforms=[_t("join_list", separator=" ")]),
            _rule("consent.sms.source", transforms=[_t("default", constant="jotform:q8_smsConsent")]),
            _rule("campaign", "q10_utmCampaign", transforms=[_t("trim")]),
            _rule("external_ids.jotform", "submissionID", "event_id", transforms=[_t("to_string")]),
        ),
    )


def _calcom() -> FieldMapping:
    attendee = "payload.attendees[0]"
    responses = "payload.responses"
    name_sources = (f"{attendee}.name", f"{responses}.name.value")
    return FieldMapping(
        name="calcom_default",
        kind=MappingKind.SOURCE,
        source_type=SourceType.CALCOM,
        rules=(
            _rule(
                "channel",
                "triggerEvent",
                transforms=[
                    _t(
                        "map_values",
                        table={"FORM_SUBMITTED": "website_form", "FORM_SUBMITTED_NO_EVENT": "website_form"},
                        default="appointment_request",
                    )
                ],
            ),
            _rule(
                "first_name",
                *name_sources,
                transforms=[_t("split_full_name", part="first", first_path=f"{attendee}.firstName")],
            ),
            _rule(
                "last_name",
                *name_sources,
                transforms=[_t("split_full_name", part="last", first_path=f"{attendee}.firstName")],
            ),
            _rule("email", f"{attendee}.email", f"{responses}.email.value", transforms=[_t("normalize_email")]),
            _rule(
                "phone",
                f"{attendee}.phoneNumber",
                f"{responses}.attendeePhoneNumber.value",
                f"{responses}.phone.value",
                transforms=[_t("e164", region="US")],
            ),
            _rule("timezone", f"{attendee}.timeZone"),
            _rule(
                "language",
                f"{attendee}.language.locale",
                transforms=[_t("lower"), _t("regex_extract", pattern=r"^([a-z]{2})\b")],
            ),
            _intent(f"{responses}.reason.value"),
            _rule(
                "text",
                f"{responses}.reason.value",
                transforms=[
                    _t("join_list"),
                    _t(
                        "concat",
                        paths=[f"{responses}.notes.value", "payload.additionalNotes"],
                        separator="\n",
                    ),
                ],
            ),
            _rule("consent.sms.granted", f"{responses}.smsConsent.value", transforms=[_t("boolean")]),
            _rule("consent.sms.wording", f"{responses}.smsConsent.label", transforms=[_t("trim")]),
            _rule("consent.sms.source", transforms=[_t("default", constant="calcom:smsConsent")]),
            _rule("external_ids.calcom", "payload.uid", transforms=[_t("to_string")]),
            _rule("external_ids.calcom_form", "payload.responseId", transforms=[_t("to_string")]),
        ),
    )


def _calendly() -> FieldMapping:
    qa = "payload.questions_and_answers"
    consent_q = "May we text you about your appointment?"
    name_sources = ("payload.name", f"{qa}[question=Name].answer")
    return FieldMapping(
        name="calendly_default",
        kind=MappingKind.SOURCE,
        source_type=SourceType.CALENDLY,
        rules=(
            _rule(
                "channel",
                "event",
                transforms=[
                    _t(
                        "map_values",
                        table={"routing_form_submission.created": "website_form"},
                        default="appointment_request",
                    )
                ],
            ),
            _rule(
                "first_name",
                *name_sources,
                transforms=[_t("split_full_name", part="first", first_path="payload.first_name")],
            ),
            _rule(
                "last_name",
                *name_sources,
                transforms=[_t("split_full_name", part="last", first_path="payload.first_name")],
            ),
            _rule("email", "payload.email", f"{qa}[question=Email].answer", transforms=[_t("normalize_email")]),
            _rule(
                "phone",
                "payload.text_reminder_number",
                f"{qa}[question=Phone number].answer",
                transforms=[_t("e164", region="US")],
            ),
            _rule("timezone", "payload.timezone"),
            _language(f"{qa}[question=Preferred language].answer"),
            _intent(f"{qa}[question=What is the reason for your visit?].answer"),
            _rule(
                "text",
                f"{qa}[question=What is the reason for your visit?].answer",
                transforms=[
                    _t(
                        "concat",
                        paths=[f"{qa}[question=Anything else we should know?].answer"],
                        separator="\n",
                    )
                ],
            ),
            _rule("consent.sms.granted", f'{qa}[question="{consent_q}"].answer', transforms=[_t("boolean")]),
            _rule("consent.sms.wording", f'{qa}[question="{consent_q}"].question'),
            _rule("consent.sms.source", transforms=[_t("default", constant="calendly:questions_and_answers")]),
            _rule("campaign", "payload.tracking.utm_campaign", transforms=[_t("trim")]),
            _rule("external_ids.calendly", "payload.uri", required=True),
        ),
    )


def _standard_webhook() -> FieldMapping:
    fields = (
        "channel", "first_name", "last_name", "phone", "email", "language", "contact_window",
        "callback_at", "timezone", "region", "location", "service", "campaign", "referral_source",
        "text", "intent", "needs", "consent", "external_ids",
    )  # fmt: skip
    return FieldMapping(
        name="standard_webhook_default",
        kind=MappingKind.SOURCE,
        source_type=SourceType.STANDARD_WEBHOOK,
        rules=tuple(_rule(f, f) for f in fields),
    )


# --- CRM mappings -------------------------------------------------------------------------------------

_HUB, _BOTH = Direction.HUB_TO_CRM, Direction.BOTH
#: Lead Status per stage. Never a converted status ("Closed - Converted", LeadStatus.IsConverted):
#: only Salesforce's lead conversion may set one, and a lead merely showing it looks converted in
#: the clinic's reports while it is not. A booked or seen patient is still a lead being worked
#: until staff convert it; Stage__c says where it is.
_OPEN_CLOSED = {
    Stage.NEW: "Open - Not Contacted",
    Stage.ATTEMPTING: "Working - Contacted",
    Stage.REACHED: "Working - Contacted",
    Stage.SCHEDULED: "Working - Contacted",
    Stage.PREPARED: "Working - Contacted",
    Stage.KEPT: "Working - Contacted",
    Stage.NO_SHOW: "Working - Contacted",
    Stage.DECLINED: "Closed - Not Converted",
    Stage.NOT_A_FIT: "Closed - Not Converted",
    Stage.UNREACHABLE: "Closed - Not Converted",
    Stage.DUPLICATE: "Closed - Not Converted",
}
_HS_LEAD_STATUS = {
    Stage.NEW: "NEW",
    Stage.ATTEMPTING: "ATTEMPTED_TO_CONTACT",
    Stage.REACHED: "CONNECTED",
    Stage.SCHEDULED: "OPEN_DEAL",
    Stage.PREPARED: "OPEN_DEAL",
    Stage.KEPT: "OPEN_DEAL",
    Stage.NO_SHOW: "OPEN_DEAL",
    Stage.DECLINED: "UNQUALIFIED",
    Stage.NOT_A_FIT: "UNQUALIFIED",
    Stage.UNREACHABLE: "UNQUALIFIED",
    Stage.DUPLICATE: "UNQUALIFIED",
}
#: Salesforce's standard LeadSource picklist values.
_LEAD_SOURCE = {
    "organic_search": "Web", "paid_search": "Web", "website_form": "Web", "appointment_request": "Web",
    "social_message": "Web", "newsletter_reply": "Web", "webinar": "Web", "review_platform": "Web",
    "gbp_call": "Phone Inquiry", "phone_call": "Phone Inquiry", "referral_partner": "Partner Referral",
}  # fmt: skip


def _contact_rules(first: str, last: str, email: str, phone: str, *, last_default: str | None) -> list[Rule]:
    last_transforms = [_t("default", constant=last_default)] if last_default else []
    return [
        _rule(first, "contact.first_name", direction=_BOTH, conflict=Conflict.FILL_IF_BLANK),
        _rule(
            last,
            "contact.last_name",
            transforms=last_transforms,
            direction=_BOTH,
            conflict=Conflict.FILL_IF_BLANK,
        ),
        _rule(
            email,
            "contact.email",
            transforms=[_t("normalize_email")],
            direction=_BOTH,
            conflict=Conflict.FILL_IF_BLANK,
        ),
        _rule(
            phone,
            "contact.phone",
            transforms=[_t("e164", region="US")],
            direction=_BOTH,
            conflict=Conflict.FILL_IF_BLANK,
        ),
    ]


def _opt_out(target: str, channel: ContactChannel) -> Rule:
    return _rule(
        target,
        f"consent.{channel.value}.state",
        transforms=[_t("map_values", table={"denied": True}, default=False)],
        direction=_BOTH,
        conflict=Conflict.NEWEST_WINS,
    )


def _salesforce(object_name: str) -> FieldMapping:
    person = object_name == "Account"  # Person Accounts: the person's fields carry a "Person" prefix
    rules = _contact_rules(
        "FirstName", "LastName", "PersonEmail" if person else "Email", "Phone", last_default="Unknown"
    )
    if object_name == "Lead":
        rules += [
            _rule(
                "Company",
                transforms=[_t("default", constant="Patient inquiry")],
                direction=_HUB,
                conflict=Conflict.FILL_IF_BLANK,
            ),
            _rule(
                "Status",
                "stage",
                transforms=[_t("map_values", table=dict(_OPEN_CLOSED))],
                direction=_BOTH,
                conflict=Conflict.NEWEST_WINS,
            ),
        ]
    rules += [
        _rule(
            "PersonLeadSource" if person else "LeadSource",
            "channel",
            transforms=[_t("map_values", table=_LEAD_SOURCE, default="Other")],
            direction=_HUB,
            conflict=Conflict.FILL_IF_BLANK,
        ),
        _opt_out("PersonHasOptedOutOfEmail" if person else "HasOptedOutOfEmail", ContactChannel.EMAIL),
        _opt_out("PersonDoNotCall" if person else "DoNotCall", ContactChannel.CALL),
        _rule("Nurture_Id__c", "id", required=True, direction=_HUB, conflict=Conflict.HUB_WINS),
        _rule("Intent__c", "intent", direction=_HUB, conflict=Conflict.HUB_WINS),
        _rule("Next_Action__c", "next_action.kind", direction=_HUB, conflict=Conflict.HUB_WINS),
        _rule("Next_Action_Due__c", "next_action.due_at", direction=_HUB, conflict=Conflict.HUB_WINS),
        _rule("Owner_Queue__c", "next_action.owner_queue", direction=_HUB, conflict=Conflict.HUB_WINS),
        _rule("Score__c", "score", direction=_HUB, conflict=Conflict.HUB_WINS),
        _rule("Stage__c", "stage", direction=_HUB, conflict=Conflict.HUB_WINS),
        *(
            _rule(
                f"{label}_Consent__c",
                f"consent.{channel.value}.state",
                direction=_BOTH,
                conflict=Conflict.NEWEST_WINS,
            )
            for label, channel in (
                ("SMS", ContactChannel.SMS),
                ("Call", ContactChannel.CALL),
                ("Email", ContactChannel.EMAIL),
                ("Voicemail", ContactChannel.VOICEMAIL),
            )
        ),
        _rule("Preferred_Language__c", "preferred_language", direction=_BOTH, conflict=Conflict.FILL_IF_BLANK),
        _rule("Channel__c", "channel", direction=_HUB, conflict=Conflict.HUB_WINS),
        _rule("Urgent__c", "urgent", direction=_HUB, conflict=Conflict.HUB_WINS),
    ]
    return FieldMapping(
        name=f"salesforce_{object_name.lower()}_default",
        kind=MappingKind.CRM_OBJECT,
        system=CrmSystem.SALESFORCE,
        object=object_name,
        rules=tuple(rules),
    )


def _hubspot() -> FieldMapping:
    rules = _contact_rules("firstname", "lastname", "email", "phone", last_default=None)
    rules += [
        _rule(
            "hs_lead_status",
            "stage",
            transforms=[_t("map_values", table=dict(_HS_LEAD_STATUS))],
            direction=_BOTH,
            conflict=Conflict.NEWEST_WINS,
        ),
        _rule("hs_language", "preferred_language", direction=_BOTH, conflict=Conflict.FILL_IF_BLANK),
        _rule("nurturehub_id", "id", required=True, direction=_HUB, conflict=Conflict.HUB_WINS),
        _rule("nurturehub_intent", "intent", direction=_HUB, conflict=Conflict.HUB_WINS),
        _rule("nurturehub_next_action", "next_action.kind", direction=_HUB, conflict=Conflict.HUB_WINS),
        _rule("nurturehub_next_action_due", "next_action.due_at", direction=_HUB, conflict=Conflict.HUB_WINS),
        _rule("nurturehub_owner_queue", "next_action.owner_queue", direction=_HUB, conflict=Conflict.HUB_WINS),
        _rule("nurturehub_score", "score", direction=_HUB, conflict=Conflict.HUB_WINS),
        _rule("nurturehub_stage", "stage", direction=_HUB, conflict=Conflict.HUB_WINS),
        # Unsubscribed from all email in HubSpot (a patient's click in a marketing email): read
        # only, so it comes in and never goes out; "false" says nothing about consent. Before the
        # consent properties: the first rule with news for a hub field wins.
        _rule(
            "hs_email_optout",
            "consent.email.state",
            transforms=[_t("map_values", table={"denied": "true"}, default="false")],
            direction=Direction.CRM_TO_HUB,
            conflict=Conflict.NEWEST_WINS,
        ),
        *(
            _rule(
                f"nurturehub_{channel.value}_consent",
                f"consent.{channel.value}.state",
                direction=_BOTH,
                conflict=Conflict.NEWEST_WINS,
            )
            for channel in (
                ContactChannel.SMS,
                ContactChannel.CALL,
                ContactChannel.EMAIL,
                ContactChannel.VOICEMAIL,
            )
        ),
        _rule("nurturehub_channel", "channel", direction=_HUB, conflict=Conflict.HUB_WINS),
        _rule(
            "nurturehub_urgent",
            "urgent",
            transforms=[_t("boolean"), _t("to_string")],
            direction=_HUB,
            conflict=Conflict.HUB_WINS,
        ),
    ]
    return FieldMapping(
        name="hubspot_contacts_default",
        kind=MappingKind.CRM_OBJECT,
        system=CrmSystem.HUBSPOT,
        object="contacts",
        rules=tuple(rules),
    )


def _build() -> Mapping[str, FieldMapping]:
    mappings = (
        _typeform(), _jotform(), _calcom(), _calendly(), _standard_webhook(),
        _salesforce("Lead"), _salesforce("Contact"), _salesforce("Account"), _hubspot(),
    )  # fmt: skip
    return MappingProxyType({m.name: m for m in mappings})


#: Every default mapping, by name.
DEFAULT_MAPPINGS: Mapping[str, FieldMapping] = _build()


def default_source_mapping(source_type: SourceType | str) -> FieldMapping:
    """The default mapping for a webhook source.

    Raises:
        KeyError: there is no default for that source (``hubspot_webhook`` events are CRM changes,
            read by the sync, not inquiries).
    """
    wanted = SourceType(source_type)
    for mapping in DEFAULT_MAPPINGS.values():
        if mapping.source_type is wanted:
            return mapping
    raise KeyError(f"no default mapping for source {wanted.value!r}")


def default_crm_mapping(system: CrmSystem | str, object_name: str) -> FieldMapping:
    """The default mapping for a CRM object (``("salesforce", "Lead")``, ``("hubspot", "contacts")``).

    Raises:
        KeyError: there is no default for that object.
    """
    wanted = CrmSystem(system)
    for mapping in DEFAULT_MAPPINGS.values():
        if mapping.system is wanted and mapping.object == object_name:
            return mapping
    raise KeyError(f"no default mapping for {wanted.value} {object_name!r}")
