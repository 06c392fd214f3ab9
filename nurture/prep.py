"""After the booking: the preparation sequence, the no-show sequence, and what an appointment's
fate does to the lead.

A booking stops the nurture cadence (``nurture.cadence`` stops at a booked stage) and starts the
**preparation sequence**, timed relative to the appointment:

=======================  ================  =========================  ==============================
step                     when              channels, in preference    only if
=======================  ================  =========================  ==============================
confirmation             at booking        text, email, call          —
insurance information    −5 days           email, call                —
referral reminder        −4 days           email, call, text          referral documents missing
documents and forms      −3 days           email, text, call          —
language support         −2 days           call, text, email          the patient needs it
callback option          −2 days           email, text                —
directions + reminder    −1 day            text, email                in person
telehealth instructions  −1 day            email, text                telehealth
=======================  ================  =========================  ==============================

Every step goes out only on a channel the patient may be contacted on (``may_contact``: consent,
text caps, and a phone number or email address to use), and never inside quiet hours — on any
channel, email included: an 11 pm email lights up a phone too. Calls are tasks for staff, so they
also fall inside clinic hours. A step whose time has passed by the booking moves to just after it
(in order); a step that cannot land before the appointment (less than ``lead_time`` ahead) is
skipped with its reason. Times depend only on the booking and the appointment, not on when the
plan is computed, so planning again never moves a step.

A **no-show** starts a short, respectful re-booking sequence (a call about an hour after, a message
the next day, a last check-in after five days) that stops as soon as the patient is reached or
books again. A **cancellation** reopens the lead with "book an appointment" as its next action.

Both sequences return :class:`nurture.cadence.CadencePlan` values, so the hub stores and sends
them exactly as it does cadence steps (follow-up rows keyed by lead and step, CRM tasks keyed
``<lead id>:<step key>``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from nurture.actions import language_queue, score_for
from nurture.cadence import CadencePlan, PlannedStep
from nurture.capacity import Clearance, LanguageSupport, ServiceInfo, needs_language_support
from nurture.clock import ClinicHours, DailyWindow, Interval, require_aware, zone
from nurture.consent import ContactRules, may_contact
from nurture.lead import Lead, NextAction
from nurture.settings import NurtureSettings
from nurture.touches import Touch
from nurture.vocab import ContactChannel, Intent, NextActionKind, Purpose, Stage, TemplateKind, TouchOutcome

__all__ = [
    "DEFAULT_NO_SHOW",
    "DEFAULT_PREPARATION",
    "Anchor",
    "Appointment",
    "AppointmentStatus",
    "SequenceStep",
    "StepSequence",
    "StepWhen",
    "lead_after_appointment",
    "lead_after_booking",
    "lead_after_cancellation",
    "lead_after_kept",
    "lead_after_no_show",
    "plan_appointment_follow_ups",
    "plan_no_show",
    "plan_preparation",
]


class AppointmentStatus(StrEnum):
    """An appointment's state, in the hub's words (each scheduling connector maps its own)."""

    HELD = "held"  # tentatively held, not yet booked
    BOOKED = "booked"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    KEPT = "kept"  # the patient arrived / the visit happened


@dataclass(frozen=True, slots=True, kw_only=True)
class Appointment:
    """A booked appointment, as the domain sees it.

    Attributes:
        ref: the scheduling system's id for the booking (opaque here).
        service: the service id.
        location: the location id (``telehealth`` for a virtual visit).
        start, end: aware; ``end`` after ``start``.
        booked_at: when it was booked, aware; "at once" steps are timed from here.
        status: its state.
        telehealth: a virtual visit (telehealth instructions instead of directions).
        provider: the provider's id, if known.
        language_support: how the patient's language is served (provider or interpreter), if
            they need support.
    """

    ref: str
    service: str
    location: str
    start: datetime
    end: datetime
    booked_at: datetime
    status: AppointmentStatus = AppointmentStatus.BOOKED
    telehealth: bool = False
    provider: str | None = None
    language_support: LanguageSupport | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end", "booked_at"):
            require_aware(getattr(self, name), f"Appointment.{name}")
        if self.end <= self.start:
            raise ValueError(f"appointment {self.ref}: end must be after start")
        if not self.ref or not self.service or not self.location:
            raise ValueError("an appointment needs a ref, a service and a location")


class Anchor(StrEnum):
    """What a step's offset counts from."""

    BOOKED = "booked"
    START = "start"
    END = "end"


class StepWhen(StrEnum):
    """A condition a step needs."""

    ALWAYS = "always"
    REFERRAL_MISSING = "referral_missing"  # the service needs referral documents not yet received
    LANGUAGE_SUPPORT = "language_support"  # the patient needs another language than the clinic's
    IN_PERSON = "in_person"
    TELEHEALTH = "telehealth"


@dataclass(frozen=True, slots=True, kw_only=True)
class SequenceStep:
    """One step of a preparation or no-show sequence.

    Attributes:
        key: stable id (``prep_documents``); CRM tasks are keyed by lead id + this key.
        label: what staff read in the task subject (no PHI).
        anchor: what ``offset`` counts from.
        offset: from the anchor (negative: before it).
        channels: the channels to try, in order of preference.
        template: the approved template it uses (looked up by kind and the patient's language).
        when: a condition the step needs.
    """

    key: str
    label: str
    anchor: Anchor
    offset: timedelta
    channels: tuple[ContactChannel, ...]
    template: str
    when: StepWhen = StepWhen.ALWAYS

    def __post_init__(self) -> None:
        if not self.key.isidentifier() or len(self.key) > 40:
            raise ValueError(f"step key {self.key!r} must be a snake_case identifier of at most 40 characters")
        if not self.channels or len(set(self.channels)) != len(self.channels):
            raise ValueError(f"step {self.key}: channels must be a non-empty list without repeats")
        if not self.template or not self.label.strip():
            raise ValueError(f"step {self.key}: a label and a template are required")


@dataclass(frozen=True, slots=True, kw_only=True)
class StepSequence:
    """A sequence of steps around an appointment.

    Attributes:
        steps: in order; they are planned in this order and never earlier than the one before.
        lead_time: steps anchored before the appointment must land at least this long before it.
        catch_up_gap: steps whose time passed before the booking go out this far apart, in order.
    """

    steps: tuple[SequenceStep, ...]
    lead_time: timedelta = timedelta(hours=2)
    catch_up_gap: timedelta = timedelta(minutes=10)

    def __post_init__(self) -> None:
        keys = [s.key for s in self.steps]
        if not keys or len(set(keys)) != len(keys):
            raise ValueError("a sequence needs steps with unique keys")
        if self.lead_time < timedelta(0) or self.catch_up_gap < timedelta(0):
            raise ValueError("lead_time and catch_up_gap must not be negative")


_CALL, _SMS, _EMAIL = ContactChannel.CALL, ContactChannel.SMS, ContactChannel.EMAIL
_DAY = timedelta(days=1)

DEFAULT_PREPARATION = StepSequence(
    steps=(
        SequenceStep(
            key="prep_confirmation",
            label="Appointment confirmation",
            anchor=Anchor.BOOKED,
            offset=timedelta(0),
            channels=(_SMS, _EMAIL, _CALL),
            template="prep_confirmation",
        ),
        SequenceStep(
            key="prep_insurance",
            label="Insurance information",
            anchor=Anchor.START,
            offset=-5 * _DAY,
            channels=(_EMAIL, _CALL),
            template="prep_insurance",
        ),
        SequenceStep(
            key="prep_referral_reminder",
            label="Referral documents reminder",
            anchor=Anchor.START,
            offset=-4 * _DAY,
            channels=(_EMAIL, _CALL, _SMS),
            template="prep_referral_reminder",
            when=StepWhen.REFERRAL_MISSING,
        ),
        SequenceStep(
            key="prep_documents",
            label="Documents and pre-visit forms",
            anchor=Anchor.START,
            offset=-3 * _DAY,
            channels=(_EMAIL, _SMS, _CALL),
            template="prep_documents",
        ),
        SequenceStep(
            key="prep_language",
            label="Language support confirmation",
            anchor=Anchor.START,
            offset=-2 * _DAY,
            channels=(_CALL, _SMS, _EMAIL),
            template="prep_language_support",
            when=StepWhen.LANGUAGE_SUPPORT,
        ),
        SequenceStep(
            key="prep_callback",
            label="Questions before the visit: callback option",
            anchor=Anchor.START,
            offset=-2 * _DAY,
            channels=(_EMAIL, _SMS),
            template="prep_callback",
        ),
        SequenceStep(
            key="prep_directions",
            label="Directions and appointment reminder",
            anchor=Anchor.START,
            offset=-_DAY,
            channels=(_SMS, _EMAIL),
            template="prep_directions",
            when=StepWhen.IN_PERSON,
        ),
        SequenceStep(
            key="prep_telehealth",
            label="Telehealth instructions and reminder",
            anchor=Anchor.START,
            offset=-_DAY,
            channels=(_EMAIL, _SMS),
            template="prep_telehealth",
            when=StepWhen.TELEHEALTH,
        ),
    )
)

DEFAULT_NO_SHOW = StepSequence(
    steps=(
        SequenceStep(
            key="noshow_call",
            label="Missed appointment: friendly call to rebook",
            anchor=Anchor.END,
            offset=timedelta(hours=1),
            channels=(_CALL, _SMS, _EMAIL),
            template="no_show_call",
        ),
        SequenceStep(
            key="noshow_message",
            label="Missed appointment: follow-up message",
            anchor=Anchor.END,
            offset=_DAY,
            channels=(_SMS, _EMAIL),
            template="no_show_followup",
        ),
        SequenceStep(
            key="noshow_final",
            label="Missed appointment: last check-in",
            anchor=Anchor.END,
            offset=5 * _DAY,
            channels=(_EMAIL, _SMS, _CALL),
            template="no_show_final",
        ),
    ),
    lead_time=timedelta(0),
)

_KIND = {
    ContactChannel.CALL: TemplateKind.CALL_SCRIPT,
    ContactChannel.SMS: TemplateKind.SMS,
    ContactChannel.EMAIL: TemplateKind.EMAIL,
    ContactChannel.VOICEMAIL: TemplateKind.VOICEMAIL,
}

#: How far ahead (and back) the placement looks for an allowed time.
_SEARCH_DAYS = 60
#: A step moved back out of quiet hours lands this long before they begin.
_BEFORE_QUIET = timedelta(minutes=30)


# --- placing a step in time ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Placer:
    """Allowed times for one lead: the patient's calling window, and clinic hours for calls."""

    window: DailyWindow
    patient_tz: ZoneInfo
    hours: ClinicHours

    def intervals(self, day: date, channel: ContactChannel) -> list[Interval]:
        """Allowed intervals on the patient's local ``day``."""
        calling = self.window.on(day, self.patient_tz)
        if channel is not ContactChannel.CALL:
            return [calling]
        clinic_day = calling.start.astimezone(self.hours.tz).date()
        out = [
            both
            for offset in (-1, 0, 1)
            for opening in self.hours.intervals_on(clinic_day + timedelta(days=offset))
            if (both := opening.intersect(calling)) is not None
        ]
        return sorted(set(out), key=lambda i: i.start)

    def _days(self, at: datetime, step: int) -> Iterator[date]:
        first = at.astimezone(self.patient_tz).date()
        for n in range(_SEARCH_DAYS):
            yield first + timedelta(days=n * step)

    def first_at_or_after(self, at: datetime, channel: ContactChannel) -> datetime | None:
        for day in self._days(at, 1):
            for interval in self.intervals(day, channel):
                if interval.end > at:
                    return max(at, interval.start)
        return None

    def last_at_or_before(self, at: datetime, channel: ContactChannel) -> datetime | None:
        for day in self._days(at, -1):
            for interval in reversed(self.intervals(day, channel)):
                if interval.start <= at:
                    latest = min(at, interval.end - _BEFORE_QUIET)
                    return max(latest, interval.start)
        return None


def _placer(lead: Lead, settings: NurtureSettings) -> _Placer:
    return _Placer(settings.contact.window_for(lead.region), zone(lead.timezone), settings.hours)


# --- planning a sequence ------------------------------------------------------------------------


def _has_address(lead: Lead, channel: ContactChannel) -> bool:
    return bool(lead.email) if channel is ContactChannel.EMAIL else bool(lead.phone)


def _applies(
    step: SequenceStep,
    lead: Lead,
    appointment: Appointment,
    *,
    service: ServiceInfo | None,
    clearance: Clearance,
    settings: NurtureSettings,
) -> bool:
    match step.when:
        case StepWhen.ALWAYS:
            return True
        case StepWhen.REFERRAL_MISSING:
            return service is not None and service.requires_referral and not clearance.referral_documents_received
        case StepWhen.LANGUAGE_SUPPORT:
            return needs_language_support(lead, settings) or appointment.language_support is not None
        case StepWhen.IN_PERSON:
            return not appointment.telehealth
        case StepWhen.TELEHEALTH:
            return appointment.telehealth
    raise AssertionError(step.when)  # pragma: no cover


def _plan(
    lead: Lead,
    touches: Sequence[Touch],
    appointment: Appointment,
    sequence: StepSequence,
    *,
    service: ServiceInfo | None,
    clearance: Clearance,
    settings: NurtureSettings,
    deadline: datetime | None,
) -> CadencePlan:
    rules: ContactRules = settings.contact
    placer = _placer(lead, settings)
    done = {t.step for t in touches if t.step}
    anchors = {Anchor.BOOKED: appointment.booked_at, Anchor.START: appointment.start, Anchor.END: appointment.end}
    planned: list[PlannedStep] = []
    skipped: list[tuple[str, str]] = []
    previous: datetime | None = None
    for position, step in enumerate(sequence.steps):
        if step.key in done:
            continue
        if not _applies(step, lead, appointment, service=service, clearance=clearance, settings=settings):
            continue
        target = anchors[step.anchor] + step.offset
        # Steps whose time had passed when the patient booked go out right after, in order.
        target = max(target, appointment.booked_at + position * sequence.catch_up_gap)
        if previous is not None:
            target = max(target, previous)
        limit = appointment.start if step.anchor is Anchor.BOOKED else deadline
        reason = "no_channel_with_consent"
        chosen: PlannedStep | None = None
        for channel in step.channels:
            if not _has_address(lead, channel):
                reason = f"no_{'email' if channel is ContactChannel.EMAIL else 'phone'}"
                continue
            due = placer.first_at_or_after(target, channel)
            if due is not None and limit is not None and due > limit:
                # Past the deadline: the last allowed moment before the target instead.
                due = placer.last_at_or_before(min(target, limit), channel)
                if due is not None and (due < appointment.booked_at or (previous is not None and due < previous)):
                    due = None
            if due is None:
                reason = "no_time_before_appointment"
                continue
            decision = may_contact(
                channel=channel,
                purpose=Purpose.RESPONSE,
                at=due,
                patient_timezone=lead.timezone,
                region=lead.region,
                ledger=lead.consent,
                touches=[*touches, *_as_touches(planned)],
                rules=rules,
            )
            if not decision.allowed:
                reason = decision.reason
                continue
            chosen = PlannedStep(
                key=step.key,
                label=step.label,
                channel=channel,
                template=step.template,
                template_kind=_KIND[channel],
                due_at=due,
            )
            break
        if chosen is None:
            skipped.append((step.key, reason))
            continue
        planned.append(chosen)
        previous = chosen.due_at
    return CadencePlan(steps=tuple(planned), skipped=tuple(skipped))


def _as_touches(steps: Sequence[PlannedStep]) -> list[Touch]:
    return [
        Touch(channel=s.channel, outcome=TouchOutcome.TEXTED, at=s.due_at, step=s.key)
        for s in steps
        if s.channel is ContactChannel.SMS
    ]


def _opted_out(lead: Lead) -> bool:
    return all(lead.consent.state(c) == "denied" for c in (_CALL, _SMS, _EMAIL))


def plan_preparation(
    lead: Lead,
    touches: Sequence[Touch],
    appointment: Appointment,
    *,
    service: ServiceInfo | None,
    clearance: Clearance,
    settings: NurtureSettings,
    now: datetime,
    sequence: StepSequence = DEFAULT_PREPARATION,
) -> CadencePlan:
    """The preparation steps still to come for a booked ``appointment`` (see the module docstring).

    Args:
        lead: the booked lead (consent ledger, contact details, language, time zone, region).
        touches: every touch so far; a touch whose ``step`` is a step's key marks it done.
        appointment: the booking.
        service: the appointment's service (for the referral reminder), if known.
        clearance: what the patient already provided.
        settings: the clinic's rules (contact rules, clinic hours, clinic language).
        now: the present; only used to stop once the appointment has begun.
        sequence: the steps.
    """
    require_aware(now, "now")
    if lead.stage.is_closed:
        return CadencePlan(stopped=f"closed:{lead.stage}")
    if appointment.status is not AppointmentStatus.BOOKED:
        return CadencePlan(stopped=f"appointment_{appointment.status}")
    if now >= appointment.start:
        return CadencePlan(stopped="appointment_started")
    if _opted_out(lead):
        return CadencePlan(stopped="opted_out")
    return _plan(
        lead,
        touches,
        appointment,
        sequence,
        service=service,
        clearance=clearance,
        settings=settings,
        deadline=appointment.start - sequence.lead_time,
    )


def plan_no_show(
    lead: Lead,
    touches: Sequence[Touch],
    appointment: Appointment,
    *,
    settings: NurtureSettings,
    now: datetime,
    sequence: StepSequence = DEFAULT_NO_SHOW,
) -> CadencePlan:
    """The re-booking steps still to come after the patient missed ``appointment``.

    Stops when the patient has been reached (or replied) since the missed appointment, once the
    lead is booked again or closed, and when every channel is opted out.
    """
    require_aware(now, "now")
    if lead.stage.is_closed:
        return CadencePlan(stopped=f"closed:{lead.stage}")
    if lead.stage is not Stage.NO_SHOW:
        return CadencePlan(stopped=f"stage:{lead.stage}")
    if any(t.made_contact and t.at >= appointment.start for t in touches):
        return CadencePlan(stopped="reached")
    if _opted_out(lead):
        return CadencePlan(stopped="opted_out")
    return _plan(
        lead,
        touches,
        appointment,
        sequence,
        service=None,
        clearance=Clearance(),
        settings=settings,
        deadline=None,
    )


def plan_appointment_follow_ups(
    lead: Lead,
    touches: Sequence[Touch],
    appointment: Appointment,
    *,
    service: ServiceInfo | None,
    clearance: Clearance,
    settings: NurtureSettings,
    now: datetime,
    preparation: StepSequence = DEFAULT_PREPARATION,
    no_show: StepSequence = DEFAULT_NO_SHOW,
) -> CadencePlan:
    """The follow-ups of a lead with an appointment: preparation while it is booked, the
    re-booking sequence after a no-show, nothing after it was kept or cancelled.

    The hub's ``plan_for`` calls this instead of ``plan_cadence`` for a booked lead, so the stored
    follow-ups (and their CRM tasks) switch from the nurture cadence to these steps in one go.
    """
    if lead.stage is Stage.NO_SHOW or appointment.status is AppointmentStatus.NO_SHOW:
        return plan_no_show(lead, touches, appointment, settings=settings, now=now, sequence=no_show)
    return plan_preparation(
        lead,
        touches,
        appointment,
        service=service,
        clearance=clearance,
        settings=settings,
        now=now,
        sequence=preparation,
    )


# --- what the appointment does to the lead ------------------------------------------------------


def _queue(lead: Lead, settings: NurtureSettings) -> str:
    return language_queue(lead, settings) or settings.channel(lead.channel).owner_queue


def _call_due(lead: Lead, settings: NurtureSettings, at: datetime) -> datetime:
    due = _placer(lead, settings).first_at_or_after(at, ContactChannel.CALL)
    if due is None:
        raise ValueError("no time in the next 60 days is inside both clinic hours and calling hours")
    return due


def _with_action(lead: Lead, action: NextAction | None, **changes: object) -> Lead:
    return lead.evolve(next_action=action, score=score_for(action, lead.intent), **changes)


def lead_after_booking(lead: Lead, appointment: Appointment, settings: NurtureSettings) -> Lead:
    """The lead once ``appointment`` is booked: stage "scheduled", next action "send preparation
    information" from the booking on (the cadence stops; the preparation sequence starts). A lead
    whose intent triage could not tell (a vague message, then a booking) is ready to schedule: the
    booking says so."""
    action = NextAction(
        kind=NextActionKind.SEND_PREP_INFO,
        due_at=appointment.booked_at,
        owner_queue=_queue(lead, settings),
        reason="appointment_booked",
    )
    if lead.intent is None:
        lead = lead.evolve(intent=Intent.READY_TO_SCHEDULE)
    return _with_action(lead, action, stage=Stage.SCHEDULED, close_reason=None)


def lead_after_cancellation(lead: Lead, settings: NurtureSettings, *, now: datetime, by_clinic: bool = False) -> Lead:
    """The lead reopened after its appointment was cancelled: stage "reached" (the patient was
    in touch), next action "book an appointment" at the first time staff may call."""
    action = NextAction(
        kind=NextActionKind.BOOK_APPOINTMENT,
        due_at=_call_due(lead, settings, now),
        owner_queue=_queue(lead, settings),
        reason="appointment_cancelled_by_clinic" if by_clinic else "appointment_cancelled",
    )
    return _with_action(lead, action, stage=Stage.REACHED)


def lead_after_no_show(lead: Lead, appointment: Appointment, settings: NurtureSettings) -> Lead:
    """The lead after a missed appointment: stage "no show", next action "book an appointment"
    when the first re-booking step is due."""
    first = DEFAULT_NO_SHOW.steps[0]
    action = NextAction(
        kind=NextActionKind.BOOK_APPOINTMENT,
        due_at=_call_due(lead, settings, appointment.end + first.offset),
        owner_queue=_queue(lead, settings),
        reason="no_show_rebook",
    )
    return _with_action(lead, action, stage=Stage.NO_SHOW)


def lead_after_kept(lead: Lead) -> Lead:
    """The lead after the visit happened: stage "kept"; the nurture work is done (no next action)."""
    return _with_action(lead, None, stage=Stage.KEPT)


def lead_after_appointment(lead: Lead, appointment: Appointment, settings: NurtureSettings, *, now: datetime) -> Lead:
    """The lead after news of ``appointment`` (a booking webhook or pull), by its status.

    A hold changes nothing; a booking schedules the lead; a cancellation reopens it (only if the
    lead was booked: an old cancellation must not undo a newer booking); a no-show or a kept visit
    sets the stage.
    """
    match appointment.status:
        case AppointmentStatus.HELD:
            return lead
        case AppointmentStatus.BOOKED:
            return (
                lead
                if lead.stage in (Stage.SCHEDULED, Stage.PREPARED)
                else lead_after_booking(lead, appointment, settings)
            )
        case AppointmentStatus.CANCELLED:
            return (
                lead_after_cancellation(lead, settings, now=now)
                if lead.stage in (Stage.SCHEDULED, Stage.PREPARED)
                else lead
            )
        case AppointmentStatus.NO_SHOW:
            return lead if lead.stage is Stage.NO_SHOW else lead_after_no_show(lead, appointment, settings)
        case AppointmentStatus.KEPT:
            return lead if lead.stage is Stage.KEPT else lead_after_kept(lead)
    raise AssertionError(appointment.status)  # pragma: no cover
