"""Touches: the record of each contact attempt with a lead, which the cadence and the contact rules read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from nurture.clock import require_aware
from nurture.vocab import ContactChannel, TouchOutcome

__all__ = ["Touch"]

#: Outcomes that mean we actually spoke with, or heard back from, the patient.
CONTACT_MADE = frozenset({TouchOutcome.REACHED, TouchOutcome.REPLIED})
#: Outcomes of a call that did not reach the patient.
CALL_MISSED = frozenset({TouchOutcome.MISSED, TouchOutcome.LEFT_VOICEMAIL})


@dataclass(frozen=True, slots=True, kw_only=True)
class Touch:
    """One contact attempt, or one reply from the patient.

    Attributes:
        channel: how (call, sms, email, voicemail).
        outcome: what happened.
        at: when, aware.
        step: the cadence step this touch carried out, if any (e.g. ``day0_call``).
        outbound: True for the clinic reaching out, False for the patient's reply.
    """

    channel: ContactChannel
    outcome: TouchOutcome
    at: datetime
    step: str | None = None
    outbound: bool = True

    def __post_init__(self) -> None:
        require_aware(self.at, "Touch.at")
        if self.outcome is TouchOutcome.REPLIED and self.outbound:
            raise ValueError("a 'replied' touch comes from the patient: outbound must be False")

    @property
    def made_contact(self) -> bool:
        return self.outcome in CONTACT_MADE

    @property
    def missed_call(self) -> bool:
        return self.channel is ContactChannel.CALL and self.outcome in CALL_MISSED
