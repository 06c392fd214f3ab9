"""An inquiry — what one inbound event says about a person — and how it becomes (or updates) a lead.

Form tools, booking tools, call tracking and the CLI all produce an :class:`Inquiry` (through a
field mapping); :func:`merge_inquiry` turns it into the lead to propose to the policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from nurture.actions import propose_next_action
from nurture.consent import ConsentEntry, ConsentLedger
from nurture.contact import normalize_email, normalize_phone
from nurture.lead import Lead, NextAction
from nurture.settings import NurtureSettings
from nurture.triage import TriageInput, TriageResult, triage
from nurture.vocab import Channel, ConsentState, ContactChannel, ContactWindow, Intent, Need, NextActionKind, Stage

__all__ = ["DECLINED_IN_MESSAGE", "Inquiry", "assess", "merge_inquiry"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Inquiry:
    """What an inbound event says. Contact details are raw (normalised by :func:`merge_inquiry`).

    Attributes:
        channel: the source's channel.
        received_at: when the hub received it, aware.
        intent_hint, needs_hint: from structured form fields, if the form asked.
        text: the patient's own words.
        consents: consent statements made in the form, with the wording shown.
        external_ids: ids of the submission / booking / contact in the sending system.
        timezone: the patient's time zone, if known (else the clinic's).
        reply_via: the message is the patient's reply on this contact channel (a texting service
            forwarding an SMS reply, say): a STOP-style reply revokes that channel.
        (the rest as on :class:`~nurture.lead.Lead`)
    """

    channel: Channel
    received_at: datetime
    first_name: str = ""
    last_name: str = ""
    phone: str | None = None
    email: str | None = None
    preferred_language: str | None = None
    contact_window: ContactWindow | None = None
    requested_callback_at: datetime | None = None
    timezone: str | None = None
    region: str | None = None
    location: str | None = None
    service: str | None = None
    campaign: str | None = None
    referral_source: str | None = None
    text: str = ""
    intent_hint: Intent | None = None
    needs_hint: frozenset[Need] = frozenset()
    consents: tuple[ConsentEntry, ...] = ()
    external_ids: Mapping[str, str] = field(default_factory=dict)
    reply_via: ContactChannel | None = None

    def __post_init__(self) -> None:
        if self.received_at.tzinfo is None:
            raise ValueError("Inquiry.received_at must be timezone-aware")
        if not (self.phone or self.email or self.external_ids):
            raise ValueError("an inquiry needs a phone, an email or an id to follow up on")


def assess(inquiry: Inquiry, settings: NurtureSettings) -> TriageResult:
    """What triage makes of this inquiry's own answers and words."""
    return triage(
        TriageInput(
            intent_hint=inquiry.intent_hint,
            needs_hint=inquiry.needs_hint,
            preferred_language=inquiry.preferred_language,
            channel=inquiry.channel,
            referral_source=inquiry.referral_source,
            service=inquiry.service,
            reply_via=inquiry.reply_via,
            text=inquiry.text.strip(),
            received_at=inquiry.received_at,
            timezone=inquiry.timezone or settings.hours.timezone,
        ),
        settings.triage,
    )


#: The close reason of a lead whose own message declined care.
DECLINED_IN_MESSAGE = "declined_in_message"


def merge_inquiry(
    existing: Lead | None,
    inquiry: Inquiry,
    *,
    lead_id: str,
    settings: NurtureSettings,
    phone_region: str = "US",
    result: TriageResult | None = None,
    source: str = "message",
) -> Lead:
    """The lead this inquiry makes: a new one, or ``existing`` updated.

    An update fills blanks (never overwrites what the patient told us before), appends the new
    words and triages them: a new explicit intent replaces the old one, a red flag makes the lead
    urgent, and a returning inquiry brings the next call forward (someone who just wrote or called
    is at their most reachable). A closed lead that writes again is reopened as new.

    What the words say about consent and care is recorded too: an opt-out revokes consent on the
    channels it names (``source`` says where, e.g. ``form:website``), and a decline closes the lead
    as declined (score E) with the next action "close as declined". A requested callback time
    ("after 5pm", "mañana por la tarde") becomes ``requested_callback_at``.

    Raises :class:`~nurture.contact.InvalidContact` for an unusable phone or email (the message
    names the field, not the value).
    """
    phone = normalize_phone(inquiry.phone, default_region=phone_region) if inquiry.phone else None
    email = normalize_email(inquiry.email) if inquiry.email else None
    now = inquiry.received_at
    text = inquiry.text.strip()
    result = result or assess(inquiry, settings)
    callback = inquiry.requested_callback_at or (result.callback.start if result.callback else None)
    if existing is None:
        lead = Lead(
            id=lead_id,
            first_name=inquiry.first_name.strip(),
            last_name=inquiry.last_name.strip(),
            phone=phone,
            email=email,
            preferred_language=result.language,
            contact_window=inquiry.contact_window,
            requested_callback_at=callback,
            timezone=inquiry.timezone or settings.hours.timezone,
            region=inquiry.region,
            location=inquiry.location,
            service=inquiry.service or result.service,
            channel=inquiry.channel,
            campaign=inquiry.campaign,
            referral_source=inquiry.referral_source,
            inquiry_text=text,
            created_at=now,
            updated_at=now,
            intent=result.intent,
            needs=result.needs,
            urgent=result.urgent,
            triage_keywords=result.fired,
            external_ids=dict(inquiry.external_ids),
        ).evolve(consent=_ledger(None, inquiry, result, source=source))
        return _declined(lead, settings, now=now) if result.decline else lead

    reopened = existing.stage.is_closed and existing.stage is not Stage.DUPLICATE and not result.decline
    said = result.intent if result.intent_source in ("text", "form") else None
    merged = existing.evolve(
        first_name=existing.first_name or inquiry.first_name.strip(),
        last_name=existing.last_name or inquiry.last_name.strip(),
        phone=existing.phone or phone,
        email=existing.email or email,
        contact_window=inquiry.contact_window or existing.contact_window,
        requested_callback_at=callback or existing.requested_callback_at,
        region=existing.region or inquiry.region,
        location=existing.location or inquiry.location,
        service=existing.service or inquiry.service or result.service,
        campaign=existing.campaign or inquiry.campaign,
        referral_source=existing.referral_source or inquiry.referral_source,
        inquiry_text=f"{existing.inquiry_text}\n{text}".strip() if text else existing.inquiry_text,
        intent=said or existing.intent or result.intent,
        needs=existing.needs | result.needs,
        urgent=existing.urgent or result.urgent,
        triage_keywords=tuple(dict.fromkeys((*existing.triage_keywords, *result.fired))),
        consent=_ledger(existing, inquiry, result, source=source),
        external_ids={**existing.external_ids, **inquiry.external_ids},
        updated_at=now,
    )
    if merged.urgent:
        merged = merged.evolve(intent=Intent.CLINICAL_QUESTION)
    if result.decline:
        if existing.is_open and not existing.stage.is_booked and not merged.urgent:
            return _declined(merged, settings, now=now)
        return merged  # a booked visit is cancelled in the scheduling system, not by a word here
    if reopened:
        merged = merged.evolve(stage=Stage.NEW, close_reason=None, created_at=existing.created_at)
    asks_contact = bool(text or inquiry.intent_hint or inquiry.service) and not result.opt_out_only
    if merged.stage.is_booked or merged.stage.is_closed:
        return merged
    if reopened or merged.urgent != existing.urgent or merged.intent != existing.intent or existing.next_action is None:
        action = propose_next_action(merged, settings, now=now, since=now, via=inquiry.channel)
        if existing.next_action is not None and not reopened and existing.next_action.due_at < action.due_at:
            action = replace(action, due_at=existing.next_action.due_at)  # never later than it already was
        return merged.evolve(next_action=action)
    if asks_contact and existing.next_action is not None:
        # A returning inquiry: the next call comes forward to this inquiry's response target, and
        # a time asked for before gives way (they are reachable now), unless they name a new one.
        current = (
            merged if result.callback or inquiry.requested_callback_at else merged.evolve(requested_callback_at=None)
        )
        sooner = propose_next_action(current, settings, now=now, since=now, via=inquiry.channel)
        if sooner.due_at < existing.next_action.due_at:
            return current.evolve(next_action=sooner)
    return merged


def _declined(lead: Lead, settings: NurtureSettings, *, now: datetime) -> Lead:
    """``lead`` closed as declined by its own message; the close action stays as its record."""
    queue = settings.channel(lead.channel).owner_queue
    return lead.evolve(
        stage=Stage.DECLINED,
        close_reason=DECLINED_IN_MESSAGE,
        intent=None,
        next_action=NextAction(
            kind=NextActionKind.CLOSE_DECLINED, due_at=now, owner_queue=queue, reason=DECLINED_IN_MESSAGE
        ),
    )


def _ledger(existing: Lead | None, inquiry: Inquiry, result: TriageResult, *, source: str) -> ConsentLedger:
    ledger = existing.consent if existing is not None else ConsentLedger()
    known = set(ledger.entries)
    ledger = ledger.record(*(c for c in inquiry.consents if c not in known))
    revoked = [c for c in result.opt_out if ledger.state(c) is not ConsentState.DENIED]
    if revoked:
        ledger = ledger.revoke(
            sorted(revoked), at=inquiry.received_at, source=f"{source}:opt_out", wording="opt-out in the message"
        )
    return ledger
