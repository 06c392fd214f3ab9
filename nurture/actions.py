"""The next action for a lead, the queue that owns it, and the score it implies.

Next action by intent (urgency first):

=========================  ==========================================  ===================
lead                       next action                                 queue
=========================  ==========================================  ===================
urgent red flag            route clinical question, due now            clinical (after-hours
                                                                       queue when closed)
declined in the message    close as declined (the lead closes)         channel owner
intent unknown             triage                                      channel owner
clinical question          route clinical question                     clinical
insurance / authorization  verify insurance or authorization           insurance
referral coordination      request missing referral documents          referral
not ready yet              add to nurture (with consent), else book    channel owner
ready, service fit,        call back at the requested time, or book    bilingual if the
language support                                                        language needs it
=========================  ==========================================  ===================

Score: E for closing, D for nurture or a not-ready lead, C for referral / insurance / authorization
review and for a lead whose intent is still unknown (we know they reached out, not what they need:
neither "one question to answer" nor "early research" — see docs/design-notes.md), B for one
question to answer (clinical, service fit), A ready now.
"""

from __future__ import annotations

from datetime import datetime

from nurture.cadence import first_contact_due
from nurture.lead import Lead, NextAction
from nurture.settings import NurtureSettings
from nurture.vocab import Channel, ConsentState, ContactChannel, Intent, Need, NextActionKind, Score

__all__ = ["has_nurture_consent", "propose_next_action", "score_for"]

CONVERSATION_ACTIONS = frozenset(
    {NextActionKind.BOOK_APPOINTMENT, NextActionKind.CALL_BACK_REQUESTED_TIME, NextActionKind.TRIAGE}
)


def has_nurture_consent(lead: Lead) -> bool:
    """True when the patient granted consent on a channel a nurture sequence can use."""
    return any(
        lead.consent.state(channel) is ConsentState.GRANTED for channel in (ContactChannel.EMAIL, ContactChannel.SMS)
    )


def is_clinical(lead: Lead) -> bool:
    """Clinical leads never enter a marketing sequence."""
    return lead.urgent or lead.intent is Intent.CLINICAL_QUESTION or Need.CLINICAL_CONCERN in lead.needs


def propose_next_action(
    lead: Lead,
    settings: NurtureSettings,
    *,
    now: datetime,
    since: datetime | None = None,
    via: Channel | None = None,
) -> NextAction:
    """The next action the rules give ``lead`` (see the module table). ``since`` and ``via``: the
    response target is that of a returning inquiry's channel, counted from its arrival, rather
    than that of the lead's first."""
    channel = settings.channel(via or lead.channel)
    routing = settings.routing
    if lead.urgent:
        open_now = settings.hours.is_open(now)
        return NextAction(
            kind=NextActionKind.ROUTE_CLINICAL_QUESTION,
            due_at=now,
            owner_queue=routing.clinical_queue if open_now else settings.urgent.after_hours_queue,
            reason="urgent_red_flag" if open_now else "urgent_red_flag_after_hours",
        )
    due = first_contact_due(
        lead, hours=settings.hours, rules=settings.contact, response_target=channel.response_target, now=now,
        since=since,
    )  # fmt: skip
    kind: NextActionKind
    queue = channel.owner_queue
    reason = f"intent_{lead.intent}" if lead.intent else "intent_unknown"
    match lead.intent:
        case None:
            kind = NextActionKind.TRIAGE
        case Intent.CLINICAL_QUESTION:
            kind, queue = NextActionKind.ROUTE_CLINICAL_QUESTION, routing.clinical_queue
        case Intent.INSURANCE_AUTHORIZATION:
            kind, queue = NextActionKind.VERIFY_INSURANCE, routing.insurance_queue
        case Intent.REFERRAL_COORDINATION:
            kind, queue = NextActionKind.REQUEST_REFERRAL_DOCUMENTS, routing.referral_queue
        case Intent.NOT_READY_YET if has_nurture_consent(lead) and not is_clinical(lead):
            kind = NextActionKind.ADD_TO_NURTURE
        case _:
            kind = (
                NextActionKind.CALL_BACK_REQUESTED_TIME
                if lead.requested_callback_at is not None
                else NextActionKind.BOOK_APPOINTMENT
            )
            if lead.intent is Intent.NOT_READY_YET:
                reason = "not_ready_without_nurture_consent"
    if kind in CONVERSATION_ACTIONS:
        queue = language_queue(lead, settings) or queue
    return NextAction(kind=kind, due_at=due, owner_queue=queue, reason=reason)


def language_queue(lead: Lead, settings: NurtureSettings) -> str | None:
    """The bilingual queue for a lead who needs another language than the clinic's, if any."""
    if lead.preferred_language != settings.clinic_language or Need.LANGUAGE in lead.needs:
        return settings.routing.language_queues.get(lead.preferred_language)
    return None


def score_for(next_action: NextAction | None, intent: Intent | None) -> Score:
    """The A–E score a next action (and intent) implies."""
    if next_action is None:
        return Score.E
    match next_action.kind:
        case NextActionKind.CLOSE_DECLINED | NextActionKind.CLOSE_NOT_A_FIT:
            return Score.E
        case NextActionKind.ADD_TO_NURTURE:
            return Score.D
        case _ if intent is Intent.NOT_READY_YET:
            return Score.D
        case NextActionKind.VERIFY_INSURANCE | NextActionKind.REQUEST_REFERRAL_DOCUMENTS | NextActionKind.TRIAGE:
            return Score.C
        case NextActionKind.ROUTE_CLINICAL_QUESTION:
            return Score.B
        case _ if intent is Intent.SERVICE_FIT:
            return Score.B
        case _:
            return Score.A
