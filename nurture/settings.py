"""The clinic's rules as one value: what the domain functions need from configuration.

``hub.settings.config`` builds it from the TOML file; tests build it in code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from nurture.cadence import DEFAULT_URGENT, Cadence, UrgentRules
from nurture.clock import ClinicHours
from nurture.consent import ContactRules
from nurture.templates import TemplateCatalog
from nurture.triage import TriageRules
from nurture.vocab import Channel

__all__ = ["ChannelSettings", "NurtureSettings", "Routing"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelSettings:
    """One channel of the clinic's channel map.

    Attributes:
        channel: which channel.
        owner_queue: the queue that owns its leads by default.
        response_minutes: the response-time target: first call attempt within this many minutes.
        first_response_template: the approved template used for the first response.
    """

    channel: Channel
    owner_queue: str
    response_minutes: int
    first_response_template: str = "first_response"

    def __post_init__(self) -> None:
        if not self.owner_queue.strip():
            raise ValueError(f"channel {self.channel}: owner_queue must name a queue")
        if not 1 <= self.response_minutes <= 7 * 24 * 60:
            raise ValueError(f"channel {self.channel}: response_minutes must be between 1 and 10080")

    @property
    def response_target(self) -> timedelta:
        return timedelta(minutes=self.response_minutes)


@dataclass(frozen=True, slots=True, kw_only=True)
class Routing:
    """Which queue handles which need.

    Attributes:
        clinical_queue: clinical questions and urgent red flags.
        insurance_queue: insurance and authorization.
        referral_queue: referral coordination and documents.
        language_queues: bilingual staff by language ("es" → "Bilingual Team").
    """

    clinical_queue: str
    insurance_queue: str
    referral_queue: str
    language_queues: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class NurtureSettings:
    """Everything the domain rules read from the clinic's configuration."""

    clinic_name: str
    clinic_language: str
    hours: ClinicHours
    channels: Mapping[Channel, ChannelSettings]
    routing: Routing
    cadence: Cadence
    contact: ContactRules
    triage: TriageRules
    templates: TemplateCatalog
    callback_number: str = ""
    urgent: UrgentRules = DEFAULT_URGENT

    def __post_init__(self) -> None:
        if Channel.OTHER not in self.channels:
            raise ValueError("the channel map must define 'other', the fallback for unknown sources")

    def channel(self, channel: Channel) -> ChannelSettings:
        """The settings of ``channel``, or of 'other' when the map leaves it out."""
        return self.channels.get(channel) or self.channels[Channel.OTHER]
