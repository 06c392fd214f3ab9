"""Words and clinic time: the one place that turns the hub's codes into labels and its UTC instants
into the clinic's local time, for every page, export and command-line table.

Codes (``website_form``, ``route_clinical_question``) and UTC stay in the store, the API and
``--json``; people read what this module makes of them:

- :func:`label` — the label of a code of a known kind (``label("channel", "gbp_call")`` →
  "Google Business Profile call"). A code the catalogue does not know yet (a new triage rule, a
  reason another part of the hub starts writing) is still shown in words, never raw
  (:func:`humanise`), so a page never shows ``snake_case``.
- :func:`rule_label` — a triage rule id (``insurance:en:prior auth*``) as "Insurance — “prior
  auth…” (English)", whatever rules the triage holds.
- :func:`actor_label` — ``user:1:ada`` → "ada", ``cli`` → "the command line".
- :class:`ClinicTime` — times in the clinic's zone, formatted by Babel for the reader's locale
  (``2:14 PM`` in English, ``14:14`` in Spanish), relative to now ("in 12 minutes"), and due
  times ("due in 12 minutes, 2:14 PM"; "overdue by 2 hours, 11:05 AM").

English is complete; another language is a catalogue beside :data:`CATALOGUES` (missing entries
fall back to English) and a locale passed in. Babel (CLDR data) formats every date and time, so a
new locale needs no date code. Babel is imported only when a time is formatted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from nurture.clock import zone
from nurture.vocab import (
    Channel,
    ConsentState,
    ContactChannel,
    ContactWindow,
    Intent,
    Need,
    NextActionKind,
    Score,
    Stage,
    TemplateKind,
    TouchOutcome,
)

__all__ = [
    "CATALOGUES",
    "KINDS",
    "ClinicTime",
    "actor_label",
    "humanise",
    "label",
    "labels",
    "phrase",
    "rule_label",
]

DEFAULT_LOCALE = "en"

#: Every kind of code with a catalogue, and the enum (if any) whose every value must have a label.
KINDS: Mapping[str, type | None] = {
    "channel": Channel,
    "intent": Intent,
    "need": Need,
    "next_action": NextActionKind,
    "stage": Stage,
    "contact_channel": ContactChannel,
    "consent_state": ConsentState,
    "touch_outcome": TouchOutcome,
    "contact_window": ContactWindow,
    "score": Score,
    "template_kind": TemplateKind,
    "reason": None,
    "language": None,
    "system": None,
    "role": None,
    "follow_up_status": None,
    "outbox_kind": None,
    "outbox_status": None,
    "inbox_status": None,
    "appointment_status": None,
    "connection_status": None,
    "version_action": None,
    "audit_action": None,
    "stalled_reason": None,
    "score_meaning": None,
}

_EN: dict[str, dict[str, str]] = {
    "channel": {
        "organic_search": "Organic search",
        "gbp_call": "Google Business Profile call",
        "paid_search": "Paid search",
        "website_form": "Website form",
        "appointment_request": "Appointment request",
        "social_message": "Social message",
        "newsletter_reply": "Newsletter reply",
        "webinar": "Webinar registration",
        "referral_partner": "Referral partner",
        "review_platform": "Review platform message",
        "phone_call": "Phone call",
        "other": "Other",
    },
    "intent": {
        "ready_to_schedule": "Ready to schedule",
        "service_fit": "Service-fit question",
        "insurance_authorization": "Insurance or authorization",
        "clinical_question": "Clinical question",
        "language_support": "Language support",
        "referral_coordination": "Referral coordination",
        "not_ready_yet": "Not ready yet",
    },
    "need": {
        "language": "Another language",
        "insurance": "Insurance",
        "referral_documents": "Referral documents",
        "clinical_concern": "Clinical concern",
    },
    "next_action": {
        "book_appointment": "Book an appointment",
        "call_back_requested_time": "Call back at the requested time",
        "send_prep_info": "Send preparation information",
        "route_clinical_question": "Route to the clinical team",
        "verify_insurance": "Verify insurance or authorization",
        "request_referral_documents": "Request referral documents",
        "add_to_nurture": "Add to a nurture sequence",
        "close_declined": "Close: declined",
        "close_not_a_fit": "Close: not a fit",
        "triage": "Read and triage",
        "first_call": "First call",
    },
    "stage": {
        "new": "New",
        "attempting": "Attempting contact",
        "reached": "Reached",
        "scheduled": "Scheduled",
        "prepared": "Prepared for the visit",
        "kept": "Visit kept",
        "no_show": "No-show",
        "declined": "Declined",
        "not_a_fit": "Not a fit",
        "unreachable": "Unreachable",
        "duplicate": "Duplicate",
    },
    "contact_channel": {"call": "Call", "sms": "Text message", "email": "Email", "voicemail": "Voicemail"},
    "consent_state": {"granted": "Granted", "denied": "Denied", "unknown": "Not asked"},
    "touch_outcome": {
        "attempted": "Attempted",
        "missed": "No answer",
        "reached": "Reached",
        "left_voicemail": "Left a voicemail",
        "texted": "Texted",
        "emailed": "Emailed",
        "replied": "Patient replied",
        "inquired": "New inquiry",
    },
    "contact_window": {"morning": "Mornings", "afternoon": "Afternoons", "evening": "Evenings"},
    "score": {"A": "A", "B": "B", "C": "C", "D": "D", "E": "E"},
    "score_meaning": {
        "A": "ready now",
        "B": "one question to answer",
        "C": "referral, insurance or authorization review",
        "D": "early research",
        "E": "not a fit or declined",
    },
    "template_kind": {
        "call_script": "Call script",
        "sms": "Text message",
        "email": "Email",
        "voicemail": "Voicemail",
        "social": "Social message",
    },
    "reason": {
        "urgent_red_flag": "Urgent: words that may need clinical attention",
        "intent_unknown": "The message did not say what the patient wants",
        "not_ready_without_nurture_consent": "Not ready yet, and no consent for a nurture sequence",
        "consent_missing": "No consent for this channel",
        "consent_denied": "The patient said no to this channel",
        "quiet_hours": "Quiet hours",
        "sms_daily_cap": "Daily text limit reached",
        "sms_weekly_cap": "Weekly text limit reached",
        "referral_documents_required": "Referral documents are needed first",
        "prior_authorization_pending": "Waiting for prior authorization",
        "capacity_offer_times": "Offer the open times",
        "capacity_alternate_location": "Offer another location",
        "capacity_waitlist": "No openings: offer the waitlist",
        "no_show_rebook": "Missed the visit: rebook",
        "booked": "Booked",
        "appointment_booked": "Appointment booked",
        "appointment_cancelled_by_clinic": "The clinic cancelled the appointment",
        "ok": "Allowed",
    },
    "language": {"en": "English", "es": "Spanish", "vi": "Vietnamese", "zh": "Chinese", "fr": "French"},
    "system": {
        "salesforce": "Salesforce",
        "hubspot": "HubSpot",
        "calcom": "Cal.com",
        "calendly": "Calendly",
        "fhir": "the scheduling system (FHIR)",
        "typeform": "Typeform",
        "jotform": "Jotform",
        "gravity_forms": "Gravity Forms",
        "standard_webhook": "Webhook",
        "callrail": "CallRail",
    },
    "role": {"admin": "Admin", "coordinator": "Coordinator", "viewer": "Viewer"},
    "follow_up_status": {
        "planned": "Planned",
        "task_requested": "Being written to the CRM",
        "task_created": "Task in the CRM",
        "done": "Done",
        "cancelled": "Withdrawn",
    },
    "outbox_kind": {
        "upsert_lead": "Lead record written",
        "upsert_task": "Task written",
        "cancel_task": "Task withdrawn",
        "complete_task": "Task completed",
        "send_sms": "Text message sent",
        "send_email": "Email sent",
    },
    "outbox_status": {"pending": "Waiting", "done": "Done", "failed": "Failed, will retry", "dead": "Gave up"},
    "inbox_status": {"pending": "Waiting", "done": "Done", "parked": "Parked", "dead": "Gave up"},
    "appointment_status": {
        "booked": "Booked",
        "cancelled": "Cancelled",
        "rescheduled": "Rescheduled",
        "no_show": "No-show",
        "kept": "Kept",
        "completed": "Kept",
    },
    "connection_status": {
        "connected": "Connected",
        "disconnected": "Disconnected",
        "error": "Needs attention",
        "not connected": "Not connected",
    },
    "version_action": {
        "save": "Saved",
        "rollback": "Rolled back",
        "import": "Imported",
        "built-in": "Built-in default",
        "file": "The configuration file",
    },
    "audit_action": {
        "lead.view": "Viewed the patient's details",
        "lead.clearance": "Recorded referral and insurance",
        "lead.search": "Searched leads",
        "lead.queue_moved": "Moved to another queue",
    },
    "stalled_reason": {
        "no_answer": "No answer after several attempts",
        "waiting_for_referral_documents": "Waiting for referral documents",
        "waiting_for_authorization": "Waiting for authorization",
        "booked_out": "Booked out",
        "language_coverage": "No one free who speaks the language",
        "overdue_other": "Overdue, no known reason",
    },
}

#: Phrases with ``{placeholders}``; every locale has the same keys.
_PHRASES_EN: dict[str, str] = {
    "due_future": "due {relative}, {time}",
    "due_past": "overdue by {duration}, due {time}",
    "due_now": "due now, {time}",
    "today": "today",
    "tomorrow": "tomorrow",
    "yesterday": "yesterday",
    "at": "{day}, {time}",
    "rule": "{target} — “{phrase}” ({language})",
    "rule_short": "{target} — “{phrase}”",
    "urgent": "Urgent (red flag)",
    "opt_out": "Opt-out",
    "command_line": "the command line",
    "built_in": "built in",
    "config_file": "the configuration file",
    "system_actor": "the hub",
    "someone": "someone",
}

#: Locale → kind → code → label. Add ``"es": {...}`` to speak Spanish; a missing entry falls back
#: to English.
CATALOGUES: dict[str, dict[str, dict[str, str]]] = {"en": _EN}
PHRASES: dict[str, dict[str, str]] = {"en": _PHRASES_EN}

_WORD = re.compile(r"[A-Za-z0-9]+")


def humanise(code: str) -> str:
    """A code the catalogue does not know, in words: ``capacity_offer_times`` → "Capacity offer times"."""
    text = code.replace("_", " ").replace("-", " ").replace(".", " ").strip()
    text = re.sub(r"\s+", " ", text)
    return text[:1].upper() + text[1:] if text else ""


def _catalogue(kind: str, locale: str) -> Mapping[str, str]:
    own = CATALOGUES.get(locale, {}).get(kind)
    return own if own is not None else _EN.get(kind, {})


def label(kind: str, code: object, *, locale: str = DEFAULT_LOCALE, empty: str = "—") -> str:
    """The label of ``code`` (a str or StrEnum) of ``kind``; ``empty`` for None or ""."""
    if code is None or code == "":
        return empty
    text = str(code.value if hasattr(code, "value") else code)
    found = _catalogue(kind, locale).get(text)
    if found is None and locale != DEFAULT_LOCALE:
        found = _EN.get(kind, {}).get(text)
    if found is not None:
        return found
    if kind == "reason" and text.startswith("intent_"):
        return label("intent", text.removeprefix("intent_"), locale=locale)
    if kind == "language" and len(text) == 2:
        return _language_name(text, locale)
    return humanise(text)


def labels(kind: str, codes: object, *, locale: str = DEFAULT_LOCALE) -> list[str]:
    """The labels of several codes, in order."""
    if codes is None:
        return []
    return [label(kind, c, locale=locale) for c in codes]  # type: ignore[attr-defined]


def phrase(key: str, *, locale: str = DEFAULT_LOCALE, **values: Any) -> str:
    """A phrase of the catalogue with its placeholders filled."""
    template = PHRASES.get(locale, {}).get(key) or _PHRASES_EN[key]
    return template.format(**values)


def _language_name(code: str, locale: str) -> str:
    try:
        from babel import Locale

        return str(Locale.parse(code).get_display_name(locale) or code).capitalize()
    except (ValueError, LookupError, ImportError):
        return code.upper()


def rule_label(rule_id: str, *, locale: str = DEFAULT_LOCALE) -> str:
    """A triage rule id in words.

    Rule ids read ``<target>:<language>:<phrase>``; the target is ``urgent``, an intent or a need,
    or ``<kind>.<key>`` (``red_flag.chest_pain``, ``intent.ready_to_schedule``,
    ``need.insurance``); the phrase may carry the matcher's marks (``word*`` a prefix, ``=word``
    that word only, ``~`` words near each other). Any other shape is shown in words part by part,
    so a redesigned triage still reads well.
    """
    parts = rule_id.split(":")
    if len(parts) >= 3:
        target, language, words = parts[0], parts[1], ":".join(parts[2:])
        return phrase(
            "rule",
            locale=locale,
            target=_rule_target(target, locale),
            phrase=_shown_phrase(words, language),
            language=label("language", language, locale=locale),
        )
    if len(parts) == 2:
        return phrase("rule_short", locale=locale, target=_rule_target(parts[0], locale), phrase=parts[1])
    return humanise(rule_id)


def rule_labels(rule_ids: Iterable[str], *, locale: str = DEFAULT_LOCALE) -> list[str]:
    """Triage rule ids in words, one line per rule target and language with every phrase of it that
    matched (``Urgent (red flag): chest pain — “chest pain”, “chest … pain” (English)``), in the
    order they first fired."""
    order: list[tuple[str, str] | str] = []  # a (target, language) group, or a line of another shape
    groups: dict[tuple[str, str], list[str]] = {}
    for rule_id in map(str, rule_ids):
        parts = rule_id.split(":")
        if len(parts) < 3:
            line = rule_label(rule_id, locale=locale)
            if line not in order:
                order.append(line)
            continue
        key = (parts[0], parts[1])
        if key not in groups:
            groups[key] = []
            order.append(key)
        shown = _shown_phrase(":".join(parts[2:]), parts[1])
        if shown not in groups[key]:
            groups[key].append(shown)
    return [
        entry if isinstance(entry, str)
        else phrase("rule", locale=locale, target=_rule_target(entry[0], locale), phrase="”, “".join(groups[entry]),
                    language=label("language", entry[1], locale=locale))
        for entry in order
    ]  # fmt: skip


def _shown_phrase(words: str, language: str) -> str:
    """A rule's phrase without the matcher's marks (``word*`` a prefix → "word…", ``=word`` → "word",
    ``a ~ b`` words near each other → "a … b"). Phrases are kept case-folded; English's "I" is
    given back its capital so "should I" does not read as a typo."""
    shown = re.sub(r"\s*~\s*", " … ", words.replace("*", "…").replace("=", "")).strip()
    return re.sub(r"\bi\b", "I", shown) if language == "en" else shown


def _rule_target(target: str, locale: str) -> str:
    kind, dot, key = target.partition(".")
    if dot:
        if kind in ("red_flag", "red_flags", "urgent"):
            return f"{phrase('urgent', locale=locale)}: {humanise(key).lower()}"
        if kind in ("intent", "need"):
            return label(kind, key, locale=locale)
        if kind == "opt_out" and key in _EN["contact_channel"]:
            return f"{phrase('opt_out', locale=locale)}: {label('contact_channel', key, locale=locale).lower()}"
        return f"{humanise(kind)}: {humanise(key).lower()}"
    if target in ("urgent", "red_flag", "red_flags"):
        return phrase("urgent", locale=locale)
    for kind in ("intent", "need"):
        if target in _EN[kind]:
            return label(kind, target, locale=locale)
    return humanise(target)


def actor_label(actor: str | None, *, locale: str = DEFAULT_LOCALE) -> str:
    """Who did something, as a person reads it: ``user:1:ada`` → "ada"."""
    if not actor:
        return phrase("someone", locale=locale)
    if actor.startswith("user:"):
        parts = actor.split(":", 2)
        return parts[2] if len(parts) == 3 and parts[2] else phrase("someone", locale=locale)
    simple = {
        "cli": "command_line",
        "built-in": "built_in",
        "config file": "config_file",
        "system": "system_actor",
        "hub": "system_actor",
    }
    if actor in simple:
        return phrase(simple[actor], locale=locale)
    head, sep, _ = actor.partition(":")
    if sep and head in _EN["system"]:
        return label("system", head, locale=locale)
    return humanise(actor)


def phone(number: str | None, *, region: str = "US") -> str:
    """A stored E.164 number as people write it: national format at home ("(512) 555-0101"),
    international otherwise."""
    if not number:
        return "—"
    try:
        import phonenumbers

        parsed = phonenumbers.parse(number, region)
    except Exception:  # a number the store kept as given: show it as it is
        return number
    same = phonenumbers.region_code_for_number(parsed) == region
    style = phonenumbers.PhoneNumberFormat.NATIONAL if same else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return str(phonenumbers.format_number(parsed, style))


# --- time -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClinicTime:
    """Formats instants in the clinic's time zone for one reader.

    Attributes:
        timezone: the clinic's IANA zone (``America/Chicago``).
        now: the present (the hub's clock), for "today" and relative times.
        locale: the reader's locale (``en``; ``es`` once its catalogue exists).
    """

    timezone: str
    now: datetime
    locale: str = DEFAULT_LOCALE

    @property
    def tz(self) -> tzinfo:
        return zone(self.timezone)

    def local(self, at: datetime) -> datetime:
        """``at`` in the clinic's zone (naive values are taken as UTC, as the store keeps them)."""
        aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
        return aware.astimezone(self.tz)

    def time(self, at: datetime) -> str:
        """The wall time: "2:14 PM"."""
        from babel.dates import format_time

        return str(format_time(self.local(at), format="short", tzinfo=self.tz, locale=self.locale))

    def day(self, at: datetime) -> str:
        """The day: "today", "tomorrow", "yesterday", "Tue, Dec 1", or with the year when it differs."""
        from babel.dates import format_skeleton

        local = self.local(at).date()
        today = self.local(self.now).date()
        offset = (local - today).days
        if offset == 0:
            return phrase("today", locale=self.locale)
        if offset == 1:
            return phrase("tomorrow", locale=self.locale)
        if offset == -1:
            return phrase("yesterday", locale=self.locale)
        skeleton = "MMMEd" if local.year == today.year else "yMMMEd"
        return str(format_skeleton(skeleton, self.local(at), tzinfo=self.tz, locale=self.locale))

    def date(self, at: datetime) -> str:
        """The calendar date alone: "Dec 1, 2026"."""
        from babel.dates import format_date

        return str(format_date(self.local(at).date(), format="medium", locale=self.locale))

    def at(self, at: datetime | None, *, empty: str = "—") -> str:
        """Day and time: "today, 2:14 PM", "Tue, Dec 1, 2:14 PM"."""
        if at is None:
            return empty
        return phrase("at", locale=self.locale, day=self.day(at), time=self.time(at))

    def relative(self, at: datetime) -> str:
        """How far from now: "in 12 minutes", "3 hours ago"."""
        from babel.dates import format_timedelta

        delta = self.local(at) - self.now.astimezone(self.tz)
        return str(format_timedelta(delta, add_direction=True, format="long", threshold=1.5, locale=self.locale))

    def duration(self, delta: timedelta) -> str:
        """A span in words: "2 hours"."""
        from babel.dates import format_timedelta

        return str(format_timedelta(abs(delta), format="long", threshold=1.5, locale=self.locale))

    def due(self, at: datetime | None, *, empty: str = "—") -> str:
        """A due time relative to now and in clinic time: "due in 12 minutes, 2:14 PM",
        "overdue by 2 hours, yesterday, 11:05 AM"."""
        if at is None:
            return empty
        delta = at - self.now
        shown = self.time(at) if self.local(at).date() == self.local(self.now).date() else self.at(at)
        if abs(delta) < timedelta(minutes=1):
            return phrase("due_now", locale=self.locale, time=shown)
        if delta > timedelta(0):
            return phrase("due_future", locale=self.locale, relative=self.relative(at), time=shown)
        return phrase("due_past", locale=self.locale, duration=self.duration(delta), time=shown)

    def overdue(self, at: datetime | None) -> bool:
        return at is not None and at < self.now

    def zone_name(self) -> str:
        """The zone as readers know it: "Central Time (America/Chicago)"."""
        from babel.dates import get_timezone_name

        try:
            name = str(get_timezone_name(self.tz, width="long", locale=self.locale))
        except (LookupError, ValueError):
            return self.timezone
        return f"{name} ({self.timezone})"


# --- validation messages ----------------------------------------------------------------------------

_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^Shorter than minimum length 1\.?$"), "This cannot be empty."),
    (re.compile(r"^Shorter than minimum length (\d+)\.?$"), "Write at least {0} characters."),
    (re.compile(r"^Longer than maximum length (\d+)\.?$"), "Write at most {0} characters."),
    (re.compile(r"^Length must be between (\d+) and (\d+)\.?$"), "Write between {0} and {1} characters."),
    (
        re.compile(
            r"^Must be greater than or equal to (-?\d+(?:\.\d+)?) and less than or equal to (-?\d+(?:\.\d+)?)\.?$"
        ),
        "Enter a number from {0} to {1}.",
    ),
    (re.compile(r"^Must be greater than or equal to (-?\d+(?:\.\d+)?)\.?$"), "Enter {0} or more."),
    (re.compile(r"^Must be less than or equal to (-?\d+(?:\.\d+)?)\.?$"), "Enter {0} or less."),
    (re.compile(r"^Not a valid integer\.?$"), "Enter a whole number, like 15."),
    (re.compile(r"^Not a valid number\.?$"), "Enter a number, like 15."),
    (re.compile(r"^Not a valid boolean\.?$"), "Choose yes or no."),
    (re.compile(r"^Not a valid string\.?$"), "Enter text here."),
    (re.compile(r"^Not a valid URL\.?$"), "Enter a web address, like https://example.com."),
    (re.compile(r"^Not a valid email address\.?$"), "Enter an email address, like name@example.com."),
    (re.compile(r"^Missing data for required field\.?$"), "This is required."),
    (re.compile(r"^Field may not be null\.?$"), "This is required."),
    (re.compile(r"^Unknown field\.?$"), "This is not a setting the hub knows: remove it."),
    (re.compile(r"^Must be one of: (.+)\.$"), "Choose one of: {0}."),
    (re.compile(r"^Invalid value\.?$"), "This value is not allowed here."),
)


def message(text: str) -> str:
    """A validation message as a person reads it: the schema library's wording ("Shorter than
    minimum length 1.") becomes plain advice ("This cannot be empty."); the hub's own messages,
    written for people already, are kept (an account code in them becomes the person's name)."""
    text = text.strip()
    for pattern, advice in _MESSAGES:
        found = pattern.match(text)
        if found:
            return advice.format(*found.groups())
    return _ACCOUNT.sub(lambda m: m.group(1), text)


_ACCOUNT = re.compile(r"\buser:\d+:([^\s:;,]+)")
