"""Touches: the record of each contact attempt with a lead, which the cadence and the contact rules read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from nurture.clock import require_aware
from nurture.vocab import Channel, ContactChannel, TouchOutcome

__all__ = ["Touch"]

#: Outcomes that mean we actually spoke with, or heard back from, the patient.
CONTACT_MADE = frozenset({TouchOutcome.REACHED, TouchOutcome.REPLIED})
#: Outcomes of a call that did not reach the patient.
CALL_MISSED = frozenset({TouchOutcome.MISSED, TouchOutcome.LEFT_VOICEMAIL})


@dataclass(frozen=True, slots=True, kw_only=True)
class Touch:
    """One contact attempt, one reply from the patient, or one inquiry of theirs.

    Attributes:
        channel: how (call, sms, email, voicemail); None only for an inquiry that came by a form,
            a booking tool or a chat rather than by a contact channel.
        outcome: what happened.
        at: when, aware.
        step: the cadence step this touch carried out, if any (e.g. ``day0_call``).
        outbound: True for the clinic reaching out, False for the patient's reply or inquiry.
        inquiry_channel: for an ``inquired`` touch, the channel the inquiry came from
            (``website_form``, ``paid_search`` …).
    """

    channel: ContactChannel | None
    outcome: TouchOutcome
    at: datetime
    step: str | None = None
    outbound: bool = True
    inquiry_channel: Channel | None = None

    def __post_init__(self) -> None:
        require_aware(self.at, "Touch.at")
        if self.outcome is TouchOutcome.REPLIED and self.outbound:
            raise ValueError("a 'replied' touch comes from the patient: outbound must be False")
        if self.outcome is TouchOutcome.INQUIRED:
            if self.outbound or self.inquiry_channel is None:
                raise ValueError("an 'inquired' touch comes from the patient and names its inquiry channel")
        elif self.channel is None or self.inquiry_channel is not None:
            raise ValueError("only an 'inquired' touch may lack a contact channel or carry an inquiry channel")

    @classmethod
    def inquiry(cls, channel: Channel, at: datetime, *, via: ContactChannel | None = None) -> Touch:
        """The touch recording one inquiry from ``channel`` (``via``: the contact channel it came
        by, when it did: a call-tracking record is a call, a forwarded text an SMS)."""
        return cls(channel=via, outcome=TouchOutcome.INQUIRED, at=at, outbound=False, inquiry_channel=channel)

    @property
    def made_contact(self) -> bool:
        return self.outcome in CONTACT_MADE

    @property
    def missed_call(self) -> bool:
        return self.channel is ContactChannel.CALL and self.outcome in CALL_MISSED
