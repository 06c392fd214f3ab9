"""The words nurturehub speaks: stable snake_case names for channels, intents, needs, next actions,
stages, contact channels and scores. These strings appear in config, the store, ``--json`` output and
CRM picklists, so they never change once released.
"""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """Where an inquiry came from (the clinic's channel map)."""

    ORGANIC_SEARCH = "organic_search"
    GBP_CALL = "gbp_call"
    PAID_SEARCH = "paid_search"
    WEBSITE_FORM = "website_form"
    APPOINTMENT_REQUEST = "appointment_request"
    SOCIAL_MESSAGE = "social_message"
    NEWSLETTER_REPLY = "newsletter_reply"
    WEBINAR = "webinar"
    REFERRAL_PARTNER = "referral_partner"
    REVIEW_PLATFORM = "review_platform"
    PHONE_CALL = "phone_call"
    OTHER = "other"


class Intent(StrEnum):
    """The one primary reason for an inquiry."""

    READY_TO_SCHEDULE = "ready_to_schedule"
    SERVICE_FIT = "service_fit"
    INSURANCE_AUTHORIZATION = "insurance_authorization"
    CLINICAL_QUESTION = "clinical_question"
    LANGUAGE_SUPPORT = "language_support"
    REFERRAL_COORDINATION = "referral_coordination"
    NOT_READY_YET = "not_ready_yet"


class Need(StrEnum):
    """Needs that can accompany any intent."""

    LANGUAGE = "language"
    INSURANCE = "insurance"
    REFERRAL_DOCUMENTS = "referral_documents"
    CLINICAL_CONCERN = "clinical_concern"


class NextActionKind(StrEnum):
    """What must happen next for an open lead (exactly one at a time)."""

    BOOK_APPOINTMENT = "book_appointment"
    CALL_BACK_REQUESTED_TIME = "call_back_requested_time"
    SEND_PREP_INFO = "send_prep_info"
    ROUTE_CLINICAL_QUESTION = "route_clinical_question"
    VERIFY_INSURANCE = "verify_insurance"
    REQUEST_REFERRAL_DOCUMENTS = "request_referral_documents"
    ADD_TO_NURTURE = "add_to_nurture"
    CLOSE_DECLINED = "close_declined"
    CLOSE_NOT_A_FIT = "close_not_a_fit"
    TRIAGE = "triage"


class Stage(StrEnum):
    """Where a lead stands. The last four are closed stages."""

    NEW = "new"
    ATTEMPTING = "attempting"
    REACHED = "reached"
    SCHEDULED = "scheduled"
    PREPARED = "prepared"
    KEPT = "kept"
    NO_SHOW = "no_show"
    DECLINED = "declined"
    NOT_A_FIT = "not_a_fit"
    UNREACHABLE = "unreachable"
    DUPLICATE = "duplicate"

    @property
    def is_closed(self) -> bool:
        return self in CLOSED_STAGES

    @property
    def is_booked(self) -> bool:
        """Booked or beyond: the nurture cadence has no business with this lead any more."""
        return self in BOOKED_STAGES


CLOSED_STAGES = frozenset({Stage.DECLINED, Stage.NOT_A_FIT, Stage.UNREACHABLE, Stage.DUPLICATE})
BOOKED_STAGES = frozenset({Stage.SCHEDULED, Stage.PREPARED, Stage.KEPT, Stage.NO_SHOW})


class ContactChannel(StrEnum):
    """A way to reach a patient; consent is kept per contact channel."""

    CALL = "call"
    SMS = "sms"
    EMAIL = "email"
    VOICEMAIL = "voicemail"


class ConsentState(StrEnum):
    GRANTED = "granted"
    DENIED = "denied"
    UNKNOWN = "unknown"


class Purpose(StrEnum):
    """Why we would contact someone: answering their inquiry, or marketing-style nurture."""

    RESPONSE = "response"
    NURTURE = "nurture"


class TouchOutcome(StrEnum):
    """What happened on one contact attempt."""

    ATTEMPTED = "attempted"
    MISSED = "missed"
    REACHED = "reached"
    LEFT_VOICEMAIL = "left_voicemail"
    TEXTED = "texted"
    EMAILED = "emailed"
    REPLIED = "replied"
    #: The patient inquired (again): a form, a call-tracking record, a booking tool's event. Inbound,
    #: and not contact made: a lead that writes again has not been reached, so the cadence goes on.
    INQUIRED = "inquired"


class ContactWindow(StrEnum):
    """Parts of the day, in the patient's local time."""

    MORNING = "morning"
    AFTERNOON = "afternoon"
    EVENING = "evening"


class Score(StrEnum):
    """A–E, derived from the next action: A ready now, B one question to answer, C referral /
    insurance / authorization review, D early research, E not a fit or declined."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"


class TemplateKind(StrEnum):
    """The medium an approved template is written for."""

    CALL_SCRIPT = "call_script"
    SMS = "sms"
    EMAIL = "email"
    VOICEMAIL = "voicemail"
    SOCIAL = "social"
