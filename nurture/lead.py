"""The lead: one person's inquiry, from every channel, with its intent, next action, score and consent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from nurture.clock import require_aware, zone
from nurture.consent import ConsentLedger
from nurture.vocab import Channel, ContactWindow, Intent, Need, NextActionKind, Score, Stage

__all__ = ["Lead", "NextAction"]


@dataclass(frozen=True, slots=True, kw_only=True)
class NextAction:
    """The one thing that must happen next for an open lead.

    Attributes:
        kind: what to do.
        due_at: by when, aware (UTC in practice).
        owner_queue: the queue (team) that owns it, e.g. "Front Desk" or "Clinical Triage".
        reason: a short code saying why this action was chosen (``urgent_red_flag``,
            ``intent_unknown`` …). Never free text from the patient.
    """

    kind: NextActionKind
    due_at: datetime
    owner_queue: str
    reason: str = ""

    def __post_init__(self) -> None:
        require_aware(self.due_at, "NextAction.due_at")
        if not self.owner_queue.strip():
            raise ValueError("NextAction.owner_queue must name a queue")


def _frozen_map(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True, slots=True, kw_only=True)
class Lead:
    """One prospective patient and their inquiry.

    Attributes:
        id: the hub's id for this lead (``nh_…``); the external id in every CRM.
        first_name, last_name: as given (PHI).
        phone: E.164 (PHI) or None.
        email: normalised (PHI) or None.
        preferred_language: ISO 639-1 code, e.g. "en" or "es".
        contact_window: the part of the day the patient prefers, if they said.
        requested_callback_at: a specific time the patient asked to be called, aware.
        timezone: the patient's IANA time zone (the clinic's when unknown).
        region: the patient's state or region code, for stricter calling-hour rules.
        location: the clinic location of interest (a location id from config).
        service: the service of interest (a service id from config).
        channel: where the inquiry came from.
        campaign: marketing campaign, if known.
        referral_source: referring partner or person, if any.
        inquiry_text: the patient's own words (PHI); used by triage, never logged or sent.
        created_at, updated_at: aware, UTC.
        stage: where the lead stands.
        intent: the one primary intent, or None while unknown (then the next action is triage).
        needs: flags that can accompany any intent.
        urgent: a red-flag phrase was found: clinical queue at once, no marketing.
        triage_keywords: which keyword rules fired (rule ids, not the patient's text).
        next_action: the one open next action, or None when closed.
        score: A–E, derived from the next action by the policy.
        close_reason: why a closed lead was closed.
        consent: the consent ledger.
        external_ids: ids of this lead elsewhere, by system (``salesforce``, ``hubspot``,
            ``typeform:<form>``, ``calcom`` …).
    """

    id: str
    first_name: str = ""
    last_name: str = ""
    phone: str | None = None
    email: str | None = None
    preferred_language: str = "en"
    contact_window: ContactWindow | None = None
    requested_callback_at: datetime | None = None
    timezone: str
    region: str | None = None
    location: str | None = None
    service: str | None = None
    channel: Channel
    campaign: str | None = None
    referral_source: str | None = None
    inquiry_text: str = ""
    created_at: datetime
    updated_at: datetime
    stage: Stage = Stage.NEW
    intent: Intent | None = None
    needs: frozenset[Need] = frozenset()
    urgent: bool = False
    triage_keywords: tuple[str, ...] = ()
    next_action: NextAction | None = None
    score: Score | None = None
    close_reason: str | None = None
    consent: ConsentLedger = field(default_factory=ConsentLedger)
    external_ids: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("Lead.id must not be empty")
        zone(self.timezone)
        require_aware(self.created_at, "Lead.created_at")
        require_aware(self.updated_at, "Lead.updated_at")
        if self.requested_callback_at is not None:
            require_aware(self.requested_callback_at, "Lead.requested_callback_at")
        if self.phone is not None and not self.phone.startswith("+"):
            raise ValueError("Lead.phone must be E.164 (normalise it with nurture.contact.normalize_phone)")
        if len(self.preferred_language) != 2 or not self.preferred_language.isalpha():
            raise ValueError("Lead.preferred_language must be a two-letter ISO 639-1 code")
        object.__setattr__(self, "needs", frozenset(self.needs))
        object.__setattr__(self, "external_ids", _frozen_map(self.external_ids))

    @property
    def is_open(self) -> bool:
        return not self.stage.is_closed

    def evolve(self, **changes: Any) -> Lead:
        """A copy with ``changes`` applied (and validated again)."""
        return replace(self, **changes)
