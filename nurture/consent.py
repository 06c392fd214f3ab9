"""Consent: a per-channel ledger, STOP-style revocation, and the may-I-contact-now decision.

The ledger is append-only: every grant or denial is an entry with its source, time and the wording
the patient saw; the current state of a channel is its latest entry. The contact decision is a
value (allowed or not, with the reason) — a blocked contact is an expected outcome, not an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from nurture.clock import DailyWindow, require_aware, zone
from nurture.text import fold
from nurture.touches import Touch
from nurture.vocab import ConsentState, ContactChannel, Purpose

__all__ = [
    "ConsentEntry",
    "ConsentLedger",
    "ContactDecision",
    "ContactRules",
    "KeywordReply",
    "classify_reply",
    "may_contact",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsentEntry:
    """One statement of consent for one channel.

    Attributes:
        channel: the contact channel it covers.
        state: granted or denied (unknown is the absence of entries).
        at: when it was given or revoked, aware.
        source: where it came from: ``form:<field>``, ``verbal``, ``crm:<system>``, ``sms_keyword``.
        wording: the exact wording shown to the patient (for grants from forms), or the keyword.
    """

    channel: ContactChannel
    state: ConsentState
    at: datetime
    source: str
    wording: str = ""

    def __post_init__(self) -> None:
        require_aware(self.at, "ConsentEntry.at")
        if self.state is ConsentState.UNKNOWN:
            raise ValueError("a consent entry records a grant or a denial, not 'unknown'")
        if not self.source:
            raise ValueError("ConsentEntry.source must say where the consent came from")


@dataclass(frozen=True, slots=True)
class ConsentLedger:
    """All consent entries for one lead, oldest first."""

    entries: tuple[ConsentEntry, ...] = ()

    def state(self, channel: ContactChannel) -> ConsentState:
        """The channel's current state: its latest entry, or unknown."""
        latest = self.latest(channel)
        return latest.state if latest else ConsentState.UNKNOWN

    def latest(self, channel: ContactChannel) -> ConsentEntry | None:
        found: ConsentEntry | None = None
        for entry in self.entries:
            if entry.channel is channel and (found is None or entry.at >= found.at):
                found = entry
        return found

    def record(self, *entries: ConsentEntry) -> ConsentLedger:
        """A new ledger with ``entries`` appended."""
        return ConsentLedger((*self.entries, *entries))

    def revoke(
        self, channels: Iterable[ContactChannel], *, at: datetime, source: str, wording: str = ""
    ) -> ConsentLedger:
        """A new ledger in which ``channels`` are denied from ``at`` on."""
        return self.record(
            *(
                ConsentEntry(channel=c, state=ConsentState.DENIED, at=at, source=source, wording=wording)
                for c in channels
            )
        )

    def summary(self) -> dict[str, str]:
        return {c.value: self.state(c).value for c in ContactChannel}


# --- replies: STOP and HELP ---------------------------------------------------------------------

STOP_KEYWORDS: frozenset[str] = frozenset(
    {
        # English, per the FCC's list and carriers' practice
        "STOP", "STOPALL", "STOP ALL", "QUIT", "END", "REVOKE", "OPT OUT", "OPTOUT", "CANCEL", "UNSUBSCRIBE",
        # Spanish
        "PARAR", "PARA", "ALTO", "DETENER", "CANCELAR", "BAJA", "DARME DE BAJA", "NO MAS", "NO MAS MENSAJES",
        "FIN", "ANULAR", "DESUSCRIBIR", "DESUSCRIBIRME",
    }
)  # fmt: skip
HELP_KEYWORDS: frozenset[str] = frozenset({"HELP", "INFO", "AYUDA"})


class KeywordReply(StrEnum):
    """What an inbound text means for consent."""

    STOP = "stop"
    HELP = "help"
    OTHER = "other"


def classify_reply(text: str) -> KeywordReply:
    """Classify an inbound message as a STOP-style revocation, a HELP request or anything else.

    A message is a revocation when, folded, it is a STOP keyword, or starts with one and is short
    ("Stop texting me", "Baja por favor"): revocation "by any reasonable means" must not hinge on
    the exact spelling. Longer messages that merely contain "end" or "cancel" (e.g. "can I cancel
    my appointment and pick another time") are not revocations.
    """
    folded = fold(text).replace("'", "").upper()
    if not folded:
        return KeywordReply.OTHER
    words = folded.split()
    for size in (3, 2, 1):
        head = " ".join(words[:size])
        if len(words) >= size and head in STOP_KEYWORDS and (len(words) <= size + 3 or size == len(words)):
            if head in {"CANCEL", "CANCELAR", "END", "FIN", "PARA"} and len(words) > size:
                # "cancel my appointment", "para el martes": ordinary words that start sentences.
                continue
            return KeywordReply.STOP
    if folded in HELP_KEYWORDS:
        return KeywordReply.HELP
    return KeywordReply.OTHER


# --- the contact decision -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactDecision:
    """May we contact this patient on this channel at this time, and why (not)?

    Attributes:
        allowed: the verdict.
        reason: a stable code (``consent_denied``, ``quiet_hours``, ``sms_daily_cap`` …, or ``ok``).
        detail: one human sentence, without PHI.
        earliest: when a time-based refusal would lift, if it would.
    """

    allowed: bool
    reason: str
    detail: str
    earliest: datetime | None = None


#: Contact channels that reach a phone and so fall under calling-hours rules.
PHONE_CHANNELS = frozenset({ContactChannel.CALL, ContactChannel.SMS, ContactChannel.VOICEMAIL})


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactRules:
    """The clinic's contact rules.

    Attributes:
        quiet_hours: the daily window in the patient's local time in which calls and texts may be
            made (default 08:00–21:00, the federal rule).
        state_quiet_hours: stricter windows by US state or region code (e.g. ``FL``).
        sms_per_day: at most this many outbound texts in any rolling 24 hours.
        sms_per_week: at most this many in any rolling 7 days.
        response_needs_consent: channels that need an explicit grant even to answer the
            patient's own inquiry (texts to prospects need prior express written consent).
    """

    quiet_hours: DailyWindow
    state_quiet_hours: Mapping[str, DailyWindow] = field(default_factory=dict)
    sms_per_day: int = 1
    sms_per_week: int = 3
    response_needs_consent: frozenset[ContactChannel] = frozenset({ContactChannel.SMS})

    def __post_init__(self) -> None:
        if self.sms_per_day < 0 or self.sms_per_week < self.sms_per_day:
            raise ValueError("sms_per_week must be at least sms_per_day, both non-negative")

    def window_for(self, region: str | None) -> DailyWindow:
        """The calling window for a patient in ``region``: the stricter of federal and state rules."""
        if region and region.upper() in self.state_quiet_hours:
            state = self.state_quiet_hours[region.upper()]
            return DailyWindow(start=max(state.start, self.quiet_hours.start), end=min(state.end, self.quiet_hours.end))
        return self.quiet_hours


def may_contact(
    *,
    channel: ContactChannel,
    purpose: Purpose,
    at: datetime,
    patient_timezone: str,
    region: str | None,
    ledger: ConsentLedger,
    touches: Sequence[Touch],
    rules: ContactRules,
) -> ContactDecision:
    """Decide whether the clinic may contact the patient on ``channel`` at ``at``.

    Consent first (a denial always wins; nurture needs an explicit grant; some channels need a
    grant even to answer the inquiry), then calling hours in the patient's local time for phone
    channels, then the text-message frequency caps.
    """
    require_aware(at, "at")
    state = ledger.state(channel)
    if state is ConsentState.DENIED:
        return ContactDecision(allowed=False, reason="consent_denied", detail=f"the patient opted out of {channel}")
    if state is not ConsentState.GRANTED:
        if purpose is Purpose.NURTURE:
            return ContactDecision(
                allowed=False,
                reason="consent_missing",
                detail=f"nurture on {channel} needs the patient's consent",
            )
        if channel in rules.response_needs_consent:
            return ContactDecision(
                allowed=False,
                reason="consent_missing",
                detail=f"{channel} needs prior express written consent",
            )
    if channel in PHONE_CHANNELS:
        tz = zone(patient_timezone)
        window = rules.window_for(region)
        local = at.astimezone(tz)
        today = window.on(local.date(), tz)
        if not today.contains(at):
            earliest = today.start if at < today.start else window.on(local.date() + timedelta(days=1), tz).start
            return ContactDecision(
                allowed=False,
                reason="quiet_hours",
                detail=f"outside {window.start:%H:%M}-{window.end:%H:%M} in the patient's time zone",
                earliest=earliest,
            )
    if channel is ContactChannel.SMS:
        sent = sorted(t.at for t in touches if t.channel is ContactChannel.SMS and t.outbound and t.at <= at)
        day_ago, week_ago = at - timedelta(days=1), at - timedelta(days=7)
        last_day = [t for t in sent if t > day_ago]
        last_week = [t for t in sent if t > week_ago]
        if len(last_day) >= rules.sms_per_day:
            return ContactDecision(
                allowed=False,
                reason="sms_daily_cap",
                detail=f"at most {rules.sms_per_day} text(s) a day",
                earliest=last_day[len(last_day) - rules.sms_per_day] + timedelta(days=1) if rules.sms_per_day else None,
            )
        if len(last_week) >= rules.sms_per_week:
            return ContactDecision(
                allowed=False,
                reason="sms_weekly_cap",
                detail=f"at most {rules.sms_per_week} texts a week",
                earliest=last_week[len(last_week) - rules.sms_per_week] + timedelta(days=7)
                if rules.sms_per_week
                else None,
            )
    return ContactDecision(allowed=True, reason="ok", detail=f"{channel} allowed")
