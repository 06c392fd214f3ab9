"""Capacity feedback: real availability refines the next action and the first response.

Marketing must never promise what the calendar cannot keep. The hub reads open slots from the
scheduling system (``connectors.scheduling``), turns them into :class:`Opening` values and asks
:func:`apply_capacity` to refine the next action :func:`nurture.actions.propose_next_action` chose:

=================================================  ============================================
situation (for a lead whose next action is to      what the lead gets
book or call back)
=================================================  ============================================
the service needs referral documents not yet in    request referral documents first (referral
                                                   queue); no times offered
the service needs a prior authorization not yet    verify insurance first (insurance queue); no
approved                                           times offered
openings at the patient's location this week       up to three times to offer, in the patient's
                                                   preferred part of the day, on different days
none there, but at another location (or            times at the other location(s), named
telehealth) this week
none anywhere this week                            waitlist, with the next available opening
=================================================  ============================================

A patient who needs another language than the clinic's is only offered openings with a provider who
speaks it, or with an interpreter booked for it (providers who speak it first). Clinical, urgent,
triage, nurture and closing actions are never changed: capacity does not outrank safety.

:func:`summarize_capacity` gives the admin view: per service, location and language the next
available opening and the openings in the next 7 and 14 days — a booked-out service shows as a row
of zeros rather than disappearing.

Pure: availability comes in as values, ``now`` is an argument.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from nurture.actions import language_queue
from nurture.clock import require_aware, window_of, zone
from nurture.lead import Lead, NextAction
from nurture.settings import NurtureSettings
from nurture.vocab import Intent, Need, NextActionKind

__all__ = [
    "DEFAULT_CAPACITY_RULES",
    "CapacityDecision",
    "CapacityOutcome",
    "CapacityRow",
    "CapacityRules",
    "Clearance",
    "LanguageSupport",
    "Opening",
    "Prerequisite",
    "ServiceInfo",
    "apply_capacity",
    "format_offers",
    "language_support",
    "needs_language_support",
    "summarize_capacity",
]

#: Next actions capacity may refine: the ones that end in a booking conversation.
BOOKING_ACTIONS = frozenset({NextActionKind.BOOK_APPOINTMENT, NextActionKind.CALL_BACK_REQUESTED_TIME})


def _lang(code: str) -> str:
    """``"es-MX"`` → ``"es"``: languages are compared by their primary subtag."""
    return code.strip().split("-")[0].split("_")[0].lower()


class Prerequisite(StrEnum):
    """What a service needs before the clinic may book it."""

    REFERRAL = "referral"
    AUTHORIZATION = "authorization"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceInfo:
    """A service as capacity sees it (from the clinic's ``[[clinic.services]]`` or the EHR).

    Attributes:
        id: the service id (``physical_therapy``), as openings and leads name it.
        requires_referral: referral documents must be reviewed before booking.
        requires_authorization: the payer's prior authorization must be approved before booking.
    """

    id: str
    requires_referral: bool = False
    requires_authorization: bool = False

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise ValueError("ServiceInfo.id must not be empty")

    @property
    def prerequisites(self) -> tuple[Prerequisite, ...]:
        """What must be done before booking, in the order it is done."""
        out: list[Prerequisite] = []
        if self.requires_referral:
            out.append(Prerequisite.REFERRAL)
        if self.requires_authorization:
            out.append(Prerequisite.AUTHORIZATION)
        return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class Clearance:
    """What a lead has already provided, or the clinic already confirmed.

    Attributes:
        referral_documents_received: the referral documents are in and reviewed.
        insurance_collected: the patient's insurance information is on file.
        authorization_approved: the payer approved the prior authorization.
    """

    referral_documents_received: bool = False
    insurance_collected: bool = False
    authorization_approved: bool = False

    def __post_init__(self) -> None:
        if self.authorization_approved and not self.insurance_collected:
            raise ValueError("an approved authorization implies the insurance information was collected")

    def outstanding(self, service: ServiceInfo) -> tuple[Prerequisite, ...]:
        """The service's prerequisites not yet met, in order."""
        done = {
            Prerequisite.REFERRAL: self.referral_documents_received,
            Prerequisite.AUTHORIZATION: self.authorization_approved,
        }
        return tuple(p for p in service.prerequisites if not done[p])


class LanguageSupport(StrEnum):
    """How an opening serves a patient's language."""

    PROVIDER = "provider"  # the provider speaks it
    INTERPRETER = "interpreter"  # an interpreter is booked for it


@dataclass(frozen=True, slots=True, kw_only=True)
class Opening:
    """One free slot, as the domain sees it.

    Attributes:
        ref: the scheduling system's id for it (``fhir:Slot/…``, ``calcom:…``); opaque here.
        start, end: aware datetimes, ``end`` after ``start``.
        service: the service id it is for.
        location: the location id (``telehealth`` for a virtual visit).
        provider: the provider's id, if the system says.
        languages: languages the provider speaks (primary subtags, lower case).
        interpreter_languages: languages an interpreter is booked for in this slot.
        telehealth: a virtual visit.
    """

    ref: str
    start: datetime
    end: datetime
    service: str
    location: str
    provider: str | None = None
    languages: frozenset[str] = frozenset()
    interpreter_languages: frozenset[str] = frozenset()
    telehealth: bool = False

    def __post_init__(self) -> None:
        require_aware(self.start, "Opening.start")
        require_aware(self.end, "Opening.end")
        if self.end <= self.start:
            raise ValueError(f"opening {self.ref}: end must be after start")
        if not self.ref or not self.service or not self.location:
            raise ValueError("an opening needs a ref, a service and a location")
        object.__setattr__(self, "languages", frozenset(_lang(x) for x in self.languages))
        object.__setattr__(self, "interpreter_languages", frozenset(_lang(x) for x in self.interpreter_languages))


def language_support(opening: Opening, language: str) -> LanguageSupport | None:
    """How ``opening`` serves ``language``: its provider speaks it, an interpreter is booked, or not."""
    code = _lang(language)
    if code in opening.languages:
        return LanguageSupport.PROVIDER
    if code in opening.interpreter_languages:
        return LanguageSupport.INTERPRETER
    return None


def needs_language_support(lead: Lead, settings: NurtureSettings) -> bool:
    """True when the lead needs another language than the clinic's (or said so)."""
    return _lang(lead.preferred_language) != _lang(settings.clinic_language) or Need.LANGUAGE in lead.needs


class CapacityOutcome(StrEnum):
    """What availability made of the next action."""

    OFFER_TIMES = "offer_times"
    ALTERNATE_LOCATION = "alternate_location"
    WAITLIST = "waitlist"
    REFERRAL_FIRST = "referral_first"
    AUTHORIZATION_FIRST = "authorization_first"
    NOT_APPLICABLE = "not_applicable"  # not a booking action, or no service known: unchanged


#: First-response templates per outcome (an id the catalog lacks falls back to the channel's own).
DEFAULT_OUTCOME_TEMPLATES: Mapping[CapacityOutcome, str] = MappingProxyType(
    {
        CapacityOutcome.OFFER_TIMES: "scheduling_ready",
        CapacityOutcome.ALTERNATE_LOCATION: "capacity_alternate_location",
        CapacityOutcome.WAITLIST: "capacity_waitlist",
        CapacityOutcome.REFERRAL_FIRST: "referral_documents",
        CapacityOutcome.AUTHORIZATION_FIRST: "insurance_authorization",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CapacityRules:
    """How availability is turned into an offer.

    Attributes:
        offer_window: how far ahead counts as "this week" (openings offered at once).
        min_notice: no opening that starts sooner than this after ``now`` is offered.
        max_offers: at most this many times are offered.
        summary_windows: the horizons of the capacity summary, shortest first (7 and 14 days).
        templates: the first-response template per outcome.
    """

    offer_window: timedelta = timedelta(days=7)
    min_notice: timedelta = timedelta(hours=2)
    max_offers: int = 3
    summary_windows: tuple[timedelta, ...] = (timedelta(days=7), timedelta(days=14))
    templates: Mapping[CapacityOutcome, str] = field(default_factory=lambda: DEFAULT_OUTCOME_TEMPLATES)

    def __post_init__(self) -> None:
        if self.offer_window <= timedelta(0):
            raise ValueError("CapacityRules.offer_window must be positive")
        if self.min_notice < timedelta(0):
            raise ValueError("CapacityRules.min_notice must not be negative")
        if not 1 <= self.max_offers <= 10:
            raise ValueError("CapacityRules.max_offers must be between 1 and 10")
        if not self.summary_windows or list(self.summary_windows) != sorted(set(self.summary_windows)):
            raise ValueError("CapacityRules.summary_windows must be distinct and in increasing order")
        if any(w <= timedelta(0) for w in self.summary_windows):
            raise ValueError("CapacityRules.summary_windows must be positive")
        object.__setattr__(self, "templates", MappingProxyType(dict(self.templates)))


DEFAULT_CAPACITY_RULES = CapacityRules()


@dataclass(frozen=True, slots=True, kw_only=True)
class CapacityDecision:
    """The next action refined by availability, and what to say in the first response.

    Attributes:
        next_action: the refined next action (the proposed one when nothing applied).
        outcome: which rule applied.
        offers: times to offer, earliest first (empty unless times may be offered).
        language_support: how the offers serve the patient's language, when they need support
            (provider if any offer has a provider who speaks it, else interpreter).
        alternate_locations: for ``ALTERNATE_LOCATION``, the locations offered instead, soonest first.
        next_available: the earliest matching opening at any location, if any is known.
        template: the first-response template to use.
    """

    next_action: NextAction
    outcome: CapacityOutcome
    offers: tuple[Opening, ...] = ()
    language_support: LanguageSupport | None = None
    alternate_locations: tuple[str, ...] = ()
    next_available: datetime | None = None
    template: str = ""

    def __post_init__(self) -> None:
        if self.offers and self.outcome not in (CapacityOutcome.OFFER_TIMES, CapacityOutcome.ALTERNATE_LOCATION):
            raise ValueError(f"a {self.outcome} decision offers no times")


def apply_capacity(
    lead: Lead,
    proposed: NextAction,
    *,
    service: ServiceInfo | None,
    openings: Iterable[Opening],
    clearance: Clearance,
    settings: NurtureSettings,
    now: datetime,
    rules: CapacityRules = DEFAULT_CAPACITY_RULES,
) -> CapacityDecision:
    """Refine ``proposed`` (from :func:`nurture.actions.propose_next_action`) with availability.

    See the module docstring for the rules. The due time of the proposed action is kept: capacity
    changes what the first contact says and which queue makes it, not how fast it happens.

    Args:
        lead: the lead (its service, location, language, part of the day and time zone are read).
        proposed: the next action the rules chose.
        service: the lead's service, or None when unknown (nothing is refined then).
        openings: free slots (any services and locations; the rest are ignored), any order.
        clearance: the prerequisites already met.
        settings: the clinic's rules (routing, templates, clinic language, channel defaults).
        now: the present, aware.
        rules: offer window, notice and count, templates.
    """
    require_aware(now, "now")
    default_template = settings.channel(lead.channel).first_response_template

    def decide(
        outcome: CapacityOutcome,
        action: NextAction,
        *,
        offers: tuple[Opening, ...] = (),
        support: LanguageSupport | None = None,
        alternates: tuple[str, ...] = (),
        next_available: datetime | None = None,
    ) -> CapacityDecision:
        # One builder keeps every branch's template choice in one place.
        wanted = rules.templates.get(outcome, "")
        return CapacityDecision(
            next_action=action,
            outcome=outcome,
            offers=offers,
            language_support=support,
            alternate_locations=alternates,
            next_available=next_available,
            template=wanted if wanted and settings.templates.has(wanted) else default_template,
        )

    if lead.urgent or proposed.kind not in BOOKING_ACTIONS or service is None or lead.intent is Intent.NOT_READY_YET:
        # Someone only researching is not asked for documents or offered times yet.
        return CapacityDecision(next_action=proposed, outcome=CapacityOutcome.NOT_APPLICABLE, template=default_template)

    outstanding = clearance.outstanding(service)
    if Prerequisite.REFERRAL in outstanding:
        action = NextAction(
            kind=NextActionKind.REQUEST_REFERRAL_DOCUMENTS,
            due_at=proposed.due_at,
            owner_queue=settings.routing.referral_queue,
            reason="referral_documents_required",
        )
        return decide(CapacityOutcome.REFERRAL_FIRST, action)
    if Prerequisite.AUTHORIZATION in outstanding:
        action = NextAction(
            kind=NextActionKind.VERIFY_INSURANCE,
            due_at=proposed.due_at,
            owner_queue=settings.routing.insurance_queue,
            reason="prior_authorization_pending"
            if clearance.insurance_collected
            else "collect_insurance_for_authorization",
        )
        return decide(CapacityOutcome.AUTHORIZATION_FIRST, action)

    language = _lang(lead.preferred_language) if needs_language_support(lead, settings) else None
    earliest = now + rules.min_notice
    horizon = now + rules.offer_window
    candidates = [
        o
        for o in openings
        if o.service == service.id and o.start >= earliest and (language is None or language_support(o, language))
    ]
    candidates.sort(key=lambda o: (o.start, o.ref))
    next_available = candidates[0].start if candidates else None
    this_week = [o for o in candidates if o.start < horizon]
    queue = proposed.owner_queue
    if language is not None:
        queue = language_queue(lead, settings) or queue

    here = [o for o in this_week if lead.location is None or o.location == lead.location]
    if here:
        offers = _pick(here, lead, language, rules.max_offers)
        return decide(
            CapacityOutcome.OFFER_TIMES,
            replace(proposed, owner_queue=queue, reason="capacity_offer_times"),
            offers=offers,
            support=_support_of(offers, language),
            next_available=next_available,
        )
    if this_week:
        # Locations ordered by their first opening; the offers come from those locations only.
        order: dict[str, datetime] = {}
        for o in this_week:
            order.setdefault(o.location, o.start)
        offers = _pick(this_week, lead, language, rules.max_offers)
        return decide(
            CapacityOutcome.ALTERNATE_LOCATION,
            replace(proposed, owner_queue=queue, reason="capacity_alternate_location"),
            offers=offers,
            support=_support_of(offers, language),
            alternates=tuple(sorted(order, key=lambda loc: (order[loc], loc))),
            next_available=next_available,
        )
    return decide(
        CapacityOutcome.WAITLIST,
        replace(proposed, owner_queue=queue, reason="capacity_waitlist"),
        next_available=next_available,
    )


def _support_of(offers: Sequence[Opening], language: str | None) -> LanguageSupport | None:
    if language is None or not offers:
        return None
    kinds = {language_support(o, language) for o in offers}
    return LanguageSupport.PROVIDER if LanguageSupport.PROVIDER in kinds else LanguageSupport.INTERPRETER


def _pick(candidates: Sequence[Opening], lead: Lead, language: str | None, count: int) -> tuple[Opening, ...]:
    """Up to ``count`` openings: a provider who speaks the patient's language first, then the
    patient's preferred part of the day, then the earliest; on different days where possible, and
    never two at the same start time."""
    tz = zone(lead.timezone)

    def rank(o: Opening) -> tuple[int, int, datetime, str]:
        lang_rank = 0 if language is None or language_support(o, language) is LanguageSupport.PROVIDER else 1
        part_rank = 0 if lead.contact_window is None or window_of(o.start, tz) is lead.contact_window else 1
        return (lang_rank, part_rank, o.start, o.ref)

    ordered = sorted(candidates, key=rank)
    chosen: list[Opening] = []
    starts: set[datetime] = set()
    days: set[object] = set()
    # Better-ranked openings first (spread over days, then any), before falling back to the next tier.
    for tier in sorted({rank(o)[:2] for o in ordered}):
        for distinct_days in (True, False):
            for o in ordered:
                if len(chosen) == count:
                    break
                day = o.start.astimezone(tz).date()
                if rank(o)[:2] > tier or o.start in starts or (distinct_days and day in days):
                    continue
                chosen.append(o)
                starts.add(o.start)
                days.add(day)
    return tuple(sorted(chosen, key=lambda o: (o.start, o.ref)))


# --- the admin summary --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CapacityRow:
    """Capacity of one service at one location for one language.

    Attributes:
        service, location: ids.
        language: a language the openings serve (its provider speaks it or an interpreter is
            booked), or None for all openings whatever the language.
        next_available: the earliest opening, or None when there is none at all.
        openings: the count within each of the rules' summary windows, shortest first (by
            default: the next 7 days, the next 14 days).
    """

    service: str
    location: str
    language: str | None
    next_available: datetime | None
    openings: tuple[int, ...]

    @property
    def booked_out(self) -> bool:
        """No opening within the first summary window ("this week")."""
        return not self.openings or self.openings[0] == 0


def summarize_capacity(
    openings: Iterable[Opening],
    *,
    now: datetime,
    services: Iterable[str] = (),
    locations: Iterable[str] = (),
    languages: Iterable[str] = (),
    rules: CapacityRules = DEFAULT_CAPACITY_RULES,
) -> tuple[CapacityRow, ...]:
    """The capacity summary: one row per service × location × (all languages, then each language).

    Every service and location named appears even with no openings (a booked-out service must
    be visible, not missing); combinations found only in ``openings`` are added.

    Args:
        openings: free slots, any order; those that started before ``now`` are ignored.
        now: the present, aware.
        services, locations: ids that must appear.
        languages: languages to break the counts down by (e.g. ``("en", "es")``).
        rules: the summary windows.

    Returns:
        Rows sorted by service, location, then the all-languages row before each language.
    """
    require_aware(now, "now")
    future = [o for o in openings if o.start >= now]
    combos = {(s, loc) for s in services for loc in locations} | {(o.service, o.location) for o in future}
    langs: list[str | None] = [None, *sorted({_lang(x) for x in languages})]
    rows: list[CapacityRow] = []
    for service, location in sorted(combos):
        here = [o for o in future if o.service == service and o.location == location]
        for language in langs:
            matching = [o for o in here if language is None or language_support(o, language)]
            rows.append(
                CapacityRow(
                    service=service,
                    location=location,
                    language=language,
                    next_available=min((o.start for o in matching), default=None),
                    openings=tuple(sum(1 for o in matching if o.start < now + w) for w in rules.summary_windows),
                )
            )
    return tuple(rows)


# --- saying the offered times -------------------------------------------------------------------

_DAYS = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "es": ("lun", "mar", "mié", "jue", "vie", "sáb", "dom"),
}
_MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "es": ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic"),
}


def format_offers(offers: Sequence[Opening], *, timezone: str, language: str = "en") -> str:
    """The offered times as staff or an approved message say them, in the patient's time zone.

    ``"Tue Dec 1, 9:00 AM; Wed Dec 2, 2:30 PM"`` in English, ``"mar 1 dic, 9:00; mié 2 dic, 14:30"``
    in Spanish (other languages fall back to English). No PHI: clinic times only.
    """
    tz = zone(timezone)
    code = _lang(language) if _lang(language) in _DAYS else "en"
    out: list[str] = []
    for o in offers:
        local = o.start.astimezone(tz)
        day, month = _DAYS[code][local.weekday()], _MONTHS[code][local.month - 1]
        if code == "en":
            hour = local.hour % 12 or 12
            out.append(f"{day} {month} {local.day}, {hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}")
        else:
            out.append(f"{day} {local.day} {month}, {local.hour}:{local.minute:02d}")
    return "; ".join(out)
