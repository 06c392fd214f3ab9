"""The follow-up cadence: from a lead's state, its touches, consents, clinic hours and time zones,
the follow-up steps still to come.

The default cadence (configurable in TOML): Day 0 call within the channel's response target (inside
clinic hours; after-hours inquiries get the first slot at the next opening); Day 0 text or email
only if that call was missed and consent allows; Day 1 callback at a different time of day than the
first call; Day 3 helpful follow-up with scheduling options; Day 7 final check-in; then close as
unreachable. A requested callback time overrides the Day 0 slot. Reaching the patient, booking,
declining, closing or opting out of every channel stops the cadence.

An **urgent** lead (a red flag) never enters the nurture cadence — no texts, emails or "close as
unreachable" — but gets its own plan (:func:`plan_urgent`): a clinical callback due at once, owned
by the clinical queue while the clinic is open and by the after-hours queue when it is not;
re-attempts every few minutes inside clinic hours; and an escalation to a named queue when nobody
has reached the patient within the window. Task labels say "Urgent clinical callback" and carry
no clinical words; self-harm messages get the crisis script (988, 911).

"Day N" counts local calendar days in the clinic's time zone from the day of the Day 0 call, moved
forward to days the clinic opens, each step on a later day than the one before. Every contact step
falls inside clinic hours AND the patient's calling hours; steps are at least ``min_gap`` apart.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from nurture.clock import WINDOW_HOURS, ClinicHours, DailyWindow, Interval, window_of, zone
from nurture.consent import ContactRules, may_contact
from nurture.lead import Lead
from nurture.touches import Touch
from nurture.vocab import (
    ConsentState,
    ContactChannel,
    ContactWindow,
    Purpose,
    Stage,
    TemplateKind,
    TouchOutcome,
)

__all__ = [
    "DEFAULT_CADENCE",
    "DEFAULT_URGENT",
    "Cadence",
    "CadencePlan",
    "CadenceStep",
    "PlannedStep",
    "StepAction",
    "StepCondition",
    "UrgentRules",
    "plan_cadence",
    "plan_urgent",
]


class StepAction(StrEnum):
    """What a cadence step does."""

    CALL = "call"
    TEXT_OR_EMAIL = "text_or_email"  # a text if consented, else an email, else nothing
    EMAIL_OR_TEXT = "email_or_text"  # an email if allowed, else a text, else a call
    CLOSE = "close"  # close the lead as unreachable


class StepCondition(StrEnum):
    ALWAYS = "always"
    AFTER_MISSED_CALL = "after_missed_call"  # only once the previous call step was missed


@dataclass(frozen=True, slots=True, kw_only=True)
class CadenceStep:
    """One configured step.

    Attributes:
        key: stable id (``day0_call``); CRM tasks are keyed by lead id + this key.
        label: what staff read in the task subject ("Day 1 callback").
        day: days after the Day 0 call's local date (0 = the same day).
        action: what to do.
        template: the approved template it uses.
        when: a condition that must hold for the step to be planned.
        different_time_of_day: place a call in another part of the day than the first call.
    """

    key: str
    label: str
    day: int
    action: StepAction
    template: str = ""
    when: StepCondition = StepCondition.ALWAYS
    different_time_of_day: bool = False

    def __post_init__(self) -> None:
        if not self.key.isidentifier():
            raise ValueError(f"cadence step key {self.key!r} must be a snake_case identifier")
        if self.day < 0:
            raise ValueError(f"cadence step {self.key}: day must not be negative")
        if self.action is not StepAction.CLOSE and not self.template:
            raise ValueError(f"cadence step {self.key}: a contact step needs a template")


@dataclass(frozen=True, slots=True, kw_only=True)
class Cadence:
    """The clinic's cadence.

    Attributes:
        steps: in order; the first must be the Day 0 call.
        min_gap: the least time between two steps of one lead.
        text_delay: how long after a missed call its follow-up text or email goes out.
    """

    steps: tuple[CadenceStep, ...]
    min_gap: timedelta = timedelta(minutes=30)
    text_delay: timedelta = timedelta(minutes=10)

    def __post_init__(self) -> None:
        if not self.steps or self.steps[0].action is not StepAction.CALL or self.steps[0].day != 0:
            raise ValueError("a cadence starts with a Day 0 call step")
        keys = [s.key for s in self.steps]
        if len(set(keys)) != len(keys):
            raise ValueError("cadence step keys must be unique")
        days = [s.day for s in self.steps]
        if days != sorted(days):
            raise ValueError("cadence steps must be in order of their day")
        if any(s.action is StepAction.CLOSE for s in self.steps[:-1]):
            raise ValueError("only the last cadence step may close the lead")
        if self.min_gap < timedelta(0) or self.text_delay < timedelta(0):
            raise ValueError("cadence gaps must not be negative")


DEFAULT_CADENCE = Cadence(
    steps=(
        CadenceStep(key="day0_call", label="Day 0 call", day=0, action=StepAction.CALL, template="first_response"),
        CadenceStep(
            key="day0_text",
            label="Day 0 text or email after missed call",
            day=0,
            action=StepAction.TEXT_OR_EMAIL,
            template="missed_call",
            when=StepCondition.AFTER_MISSED_CALL,
        ),
        CadenceStep(
            key="day1_call",
            label="Day 1 callback",
            day=1,
            action=StepAction.CALL,
            template="first_response",
            different_time_of_day=True,
        ),
        CadenceStep(
            key="day3_followup",
            label="Day 3 follow-up",
            day=3,
            action=StepAction.EMAIL_OR_TEXT,
            template="day3_followup",
        ),
        CadenceStep(
            key="day7_final",
            label="Day 7 final check-in",
            day=7,
            action=StepAction.CALL,
            template="final_checkin",
        ),
        CadenceStep(key="close", label="Close as unreachable", day=8, action=StepAction.CLOSE),
    )
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedStep:
    """A follow-up the hub will create as a CRM task (or act on) when it comes due.

    Attributes:
        key: the cadence step's key.
        label: the step's label (task subject text; no PHI).
        channel: the contact channel, or None for closing.
        template: approved template id, if any.
        template_kind: the medium of that template.
        due_at: when it is due, aware UTC.
        owner_queue: the queue that owns this step, when it is not the lead's (an escalation).
    """

    key: str
    label: str
    channel: ContactChannel | None
    template: str | None
    template_kind: TemplateKind | None
    due_at: datetime
    owner_queue: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CadencePlan:
    """The steps still to come, the steps left out (with why), and whether the cadence stopped."""

    steps: tuple[PlannedStep, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    stopped: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UrgentRules:
    """How an urgent lead is followed up.

    Attributes:
        retry_minutes: minutes between call attempts while nobody has reached the patient.
        attempts: call attempts before the escalation.
        escalate_after_minutes: when nobody has reached the patient this long after the inquiry,
            the escalation queue gets a task.
        escalation_queue: who is told then (a clinical lead, the on-call clinician).
        after_hours_queue: who takes urgent callbacks while the clinic is closed (a nurse line or
            answering service).
        label: the task subject (no clinical words).
        template: the call script; ``crisis_template`` for self-harm (crisis guidance: 988, 911).
    """

    retry_minutes: int = 15
    attempts: int = 3
    escalate_after_minutes: int = 60
    escalation_queue: str = "Clinical Lead"
    after_hours_queue: str = "After-hours Nurse Line"
    label: str = "Urgent clinical callback"
    template: str = "urgent_callback"
    crisis_template: str = "crisis_callback"

    def __post_init__(self) -> None:
        if not 1 <= self.retry_minutes <= 240:
            raise ValueError("urgent retry_minutes must be between 1 and 240")
        if not 1 <= self.attempts <= 10:
            raise ValueError("urgent attempts must be between 1 and 10")
        if not 5 <= self.escalate_after_minutes <= 24 * 60:
            raise ValueError("urgent escalate_after_minutes must be between 5 and 1440")
        if not (self.escalation_queue.strip() and self.after_hours_queue.strip() and self.label.strip()):
            raise ValueError("urgent queues and label must not be empty")


DEFAULT_URGENT = UrgentRules()


@dataclass(frozen=True, slots=True)
class _Context:
    lead: Lead
    hours: ClinicHours
    rules: ContactRules
    cadence: Cadence
    patient_tz: ZoneInfo
    touches: Sequence[Touch]


def plan_cadence(
    lead: Lead,
    touches: Sequence[Touch],
    *,
    cadence: Cadence,
    hours: ClinicHours,
    rules: ContactRules,
    response_target: timedelta,
    now: datetime,
    first_template: str | None = None,
    urgent: UrgentRules = DEFAULT_URGENT,
) -> CadencePlan:
    """Compute the follow-up steps still to come for ``lead``. See the module docstring.

    Args:
        lead: the lead, with its stage, consent ledger and preferences.
        touches: every touch so far, any order.
        cadence: the configured steps.
        hours: the clinic's opening hours.
        rules: calling hours and text caps.
        response_target: the lead's channel's response-time target.
        now: the present, aware.
        first_template: the template of the Day 0 call (the channel's first-response template),
            instead of the step's own.
        urgent: how an urgent lead is followed up instead (:func:`plan_urgent`).
    """
    stop = _stop_reason(lead, touches)
    if stop is not None:
        return CadencePlan(stopped=stop)
    if lead.urgent:
        return plan_urgent(lead, touches, hours=hours, urgent=urgent)
    ctx = _Context(lead, hours, rules, cadence, zone(lead.timezone), touches)
    done = {t.step for t in touches if t.step}
    planned: list[PlannedStep] = []
    skipped: list[tuple[str, str]] = []
    # The first call: when it happened, or when it is planned.
    first_step = cadence.steps[0]
    first_touch = _touch_for(touches, first_step.key)
    first_call_at = first_touch.at if first_touch else _day0_call_time(ctx, response_target, now)
    day0 = first_call_at.astimezone(hours.tz).date()
    previous_due: datetime | None = first_touch.at if first_touch else None
    previous_day = day0

    for index, step in enumerate(cadence.steps):
        earlier_call = _last_call_before(cadence, index)
        if step.when is StepCondition.AFTER_MISSED_CALL:
            missed = _touch_for(touches, earlier_call.key) if earlier_call else None
            if missed is None or not missed.missed_call:
                if step.key not in done:
                    skipped.append((step.key, "waiting_for_missed_call"))
                continue
        if step.key in done:
            touch = _touch_for(touches, step.key)
            if touch is not None:
                previous_due = max(previous_due or touch.at, touch.at)
                previous_day = max(previous_day, touch.at.astimezone(hours.tz).date())
            continue

        channel, kind, reason = _channel_for(ctx, step, planned, first=index == 0)
        written_first = index == 0 and channel not in (None, ContactChannel.CALL)
        if step.action is not StepAction.CLOSE and channel is None:
            skipped.append((step.key, reason))
            continue

        if index == 0:
            due = first_call_at
        elif step.when is StepCondition.AFTER_MISSED_CALL:
            missed_touch = _touch_for(touches, earlier_call.key) if earlier_call else None
            assert missed_touch is not None
            due = _first_allowed(ctx, max(now, missed_touch.at + cadence.text_delay), contact=True)
        else:
            target_day = hours.next_open_day(max(day0 + timedelta(days=step.day), previous_day + timedelta(days=1)))
            avoid = window_of(first_call_at, ctx.patient_tz) if step.different_time_of_day else None
            due = _slot_on_day(ctx, target_day, avoid=avoid, contact=channel is not None)
        if previous_due is not None and due < previous_due + cadence.min_gap:
            due = _first_allowed(ctx, previous_due + cadence.min_gap, contact=channel is not None)
        if channel is ContactChannel.SMS:
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
                skipped.append((step.key, decision.reason))
                continue
        planned.append(
            PlannedStep(
                key=step.key,
                label=_written_label(step, channel) if written_first else step.label,
                channel=channel,
                # A channel's own first-response template is a call script; written, the step's own.
                template=(
                    (step.template or first_template if written_first else first_template or step.template)
                    if index == 0
                    else (step.template or None)
                ),
                template_kind=kind,
                due_at=due,
            )
        )
        previous_due = due
        previous_day = due.astimezone(hours.tz).date()
    return CadencePlan(steps=tuple(planned), skipped=tuple(skipped))


def plan_urgent(
    lead: Lead,
    touches: Sequence[Touch],
    *,
    hours: ClinicHours,
    urgent: UrgentRules,
) -> CadencePlan:
    """The follow-ups of an urgent lead: calls only, at once and every ``retry_minutes``, then an
    escalation. Calling hours do not hold back a clinical callback the patient asked for by
    writing in; clinic hours decide who makes it (the clinical queue, or the after-hours queue).
    The plan depends on the inquiry's time and the attempts made, not on when it is asked for."""
    if any(t.made_contact for t in touches):
        return CadencePlan(stopped="reached")
    crisis = any(k.startswith("red_flag.self_harm") for k in lead.triage_keywords)
    template = urgent.crisis_template if crisis else urgent.template
    done = {t.step for t in touches if t.step}
    attempts = sorted((t.at for t in touches if t.step and t.step.startswith("urgent_call_")), reverse=True)
    retry = timedelta(minutes=urgent.retry_minutes)
    start = lead.created_at
    steps: list[PlannedStep] = []
    previous = attempts[0] if attempts else None
    for n in range(1, urgent.attempts + 1):
        key = f"urgent_call_{n}"
        if key in done:
            continue
        due = start if previous is None else previous + retry
        if previous is not None and not hours.is_open(due):
            due = _open_at_or_after(hours, due)
        queue = None if hours.is_open(due) else urgent.after_hours_queue
        steps.append(_urgent_step(key, urgent.label, template, due, queue))
        previous = due
    if "urgent_escalate" not in done:
        due = start + timedelta(minutes=urgent.escalate_after_minutes)
        steps.append(
            _urgent_step("urgent_escalate", f"{urgent.label}: escalate", template, due, urgent.escalation_queue)
        )
    return CadencePlan(steps=tuple(steps))


def _urgent_step(key: str, label: str, template: str, due: datetime, queue: str | None) -> PlannedStep:
    return PlannedStep(
        key=key, label=label, channel=ContactChannel.CALL, template=template,
        template_kind=TemplateKind.CALL_SCRIPT, due_at=due, owner_queue=queue,
    )  # fmt: skip


def _open_at_or_after(hours: ClinicHours, at: datetime) -> datetime:
    """``at`` if the clinic is open then, else its next opening."""
    day = at.astimezone(hours.tz).date()
    for offset in range(14):
        for interval in hours.intervals_on(day + timedelta(days=offset)):
            if interval.end > at:
                return max(at, interval.start)
    return at


def first_contact_due(
    lead: Lead,
    *,
    hours: ClinicHours,
    rules: ContactRules,
    response_target: timedelta,
    now: datetime,
    since: datetime | None = None,
) -> datetime:
    """When the first call to ``lead`` is due (the Day 0 slot); the next action's due time.
    ``since``: count the response target from this moment (a returning inquiry) instead of the
    lead's creation."""
    ctx = _Context(lead, hours, rules, DEFAULT_CADENCE, zone(lead.timezone), ())
    return _day0_call_time(ctx, response_target, now, since=since)


# --- helpers ------------------------------------------------------------------------------------


def _stop_reason(lead: Lead, touches: Sequence[Touch]) -> str | None:
    if lead.stage.is_closed:
        return f"closed:{lead.stage}"
    if lead.stage.is_booked:
        return "booked"
    if lead.stage is Stage.REACHED or any(t.made_contact for t in touches):
        return "reached"
    if all(lead.consent.state(c) == "denied" for c in (ContactChannel.CALL, ContactChannel.SMS, ContactChannel.EMAIL)):
        return "opted_out"
    return None


def _touch_for(touches: Sequence[Touch], key: str) -> Touch | None:
    found = [t for t in touches if t.step == key]
    return max(found, key=lambda t: t.at) if found else None


def _last_call_before(cadence: Cadence, index: int) -> CadenceStep | None:
    for step in reversed(cadence.steps[:index]):
        if step.action is StepAction.CALL:
            return step
    return None


def _as_touches(steps: Sequence[PlannedStep]) -> list[Touch]:
    return [
        Touch(channel=s.channel, outcome=TouchOutcome.TEXTED, at=s.due_at, step=s.key)
        for s in steps
        if s.channel is ContactChannel.SMS
    ]


def _channel_for(
    ctx: _Context, step: CadenceStep, planned: Sequence[PlannedStep], *, first: bool = False
) -> tuple[ContactChannel | None, TemplateKind | None, str]:
    """The channel a step uses, given contact details and consent, or None with the reason.

    The first response (``first``) is written when it cannot be a call: someone who asked not to
    be called, or left no phone number ("I'm deaf, text or email only"), is answered on Day 0 by
    email (or by text, with consent) rather than first on Day 3."""
    lead = ctx.lead

    def usable(channel: ContactChannel) -> bool:
        if channel is ContactChannel.EMAIL and not lead.email:
            return False
        if channel in (ContactChannel.CALL, ContactChannel.SMS) and not lead.phone:
            return False
        state = lead.consent.state(channel)
        if state is ConsentState.DENIED:
            return False
        return not (channel in ctx.rules.response_needs_consent and state is not ConsentState.GRANTED)

    if step.action is StepAction.CLOSE:
        return None, None, ""
    order = {
        StepAction.CALL: (ContactChannel.CALL, ContactChannel.EMAIL, ContactChannel.SMS)
        if first
        else (ContactChannel.CALL,),
        StepAction.TEXT_OR_EMAIL: (ContactChannel.SMS, ContactChannel.EMAIL),
        StepAction.EMAIL_OR_TEXT: (ContactChannel.EMAIL, ContactChannel.SMS, ContactChannel.CALL),
    }[step.action]
    for channel in order:
        if usable(channel):
            return channel, _KIND[channel], ""
    return None, None, "no_channel_with_consent"


def _written_label(step: CadenceStep, channel: ContactChannel | None) -> str:
    how = "text" if channel is ContactChannel.SMS else "email"
    return f"Day {step.day} first response by {how} (no call)"


_KIND = {
    ContactChannel.CALL: TemplateKind.CALL_SCRIPT,
    ContactChannel.SMS: TemplateKind.SMS,
    ContactChannel.EMAIL: TemplateKind.EMAIL,
    ContactChannel.VOICEMAIL: TemplateKind.VOICEMAIL,
}


def _allowed_on(ctx: _Context, day: date, *, contact: bool) -> tuple[Interval, ...]:
    """Intervals on clinic-local ``day`` when the clinic is open and (for contact) the patient may
    be called."""
    window = ctx.rules.window_for(ctx.lead.region) if contact else None
    return _allowed(ctx.hours, window, ctx.patient_tz, day)


@lru_cache(maxsize=65536)
def _allowed(hours: ClinicHours, window: DailyWindow | None, patient_tz: ZoneInfo, day: date) -> tuple[Interval, ...]:
    opening = hours.intervals_on(day)
    if window is None:
        return opening
    # The patient's local days that can overlap this clinic day.
    calling = [window.on(day + timedelta(days=offset), patient_tz) for offset in (-1, 0, 1)]
    out = [both for a in opening for b in calling if (both := a.intersect(b)) is not None]
    return tuple(sorted(out, key=lambda i: i.start))


def _allowed_from(ctx: _Context, at: datetime, *, contact: bool) -> Iterator[Interval]:
    """Allowed intervals that end after ``at``, in order, for up to 60 days."""
    first = at.astimezone(ctx.hours.tz).date()
    for offset in range(60):
        for interval in _allowed_on(ctx, first + timedelta(days=offset), contact=contact):
            if interval.end > at:
                yield interval


def _first_allowed(ctx: _Context, at: datetime, *, contact: bool) -> datetime:
    for interval in _allowed_from(ctx, at, contact=contact):
        return max(at, interval.start)
    raise ValueError("no time in the next 60 days is inside both clinic hours and calling hours")


def _day0_call_time(
    ctx: _Context, response_target: timedelta, now: datetime, since: datetime | None = None
) -> datetime:
    lead = ctx.lead
    received = since or lead.created_at
    if lead.requested_callback_at is not None:
        return _first_allowed(ctx, max(lead.requested_callback_at, received), contact=True)
    if lead.urgent:
        # A red flag: the first moment anyone may call, not the channel's target.
        return _first_allowed(ctx, received, contact=True)
    for interval in _allowed_from(ctx, received, contact=True):
        if interval.contains(received):
            deadline = received + response_target
            if deadline < interval.end:
                return deadline
            continue  # the target runs past closing: the first slot at the next opening
        return interval.start
    raise ValueError("no time in the next 60 days is inside both clinic hours and calling hours")


def _slot_on_day(ctx: _Context, day: date, *, avoid: ContactWindow | None, contact: bool) -> datetime:
    """The first allowed instant on ``day`` (or the next open days), in the patient's preferred
    part of the day if any, and not in the part of the day ``avoid``."""
    preferred = ctx.lead.contact_window
    windows = [w for w in ContactWindow if w is not avoid]
    if preferred in windows:
        windows.remove(preferred)
        windows.insert(0, preferred)
    current = day
    for _ in range(14):
        allowed = _allowed_on(ctx, current, contact=contact)
        for window in windows if (avoid or preferred) else [None]:
            for interval in allowed:
                start = interval.start if window is None else _window_start(interval, window, ctx.patient_tz)
                if start is not None:
                    return start
        current = ctx.hours.next_open_day(current + timedelta(days=1))
    # No other part of the day ever works (a clinic open only in the mornings): keep the day.
    return _first_allowed(ctx, _allowed_on(ctx, day, contact=contact)[0].start, contact=contact)


@lru_cache(maxsize=65536)
def _window_start(interval: Interval, window: ContactWindow, tz: ZoneInfo) -> datetime | None:
    """The first instant of ``interval`` that lies in part of the day ``window`` (patient-local)."""
    start_hour, end_hour = WINDOW_HOURS[window]
    local_day = interval.start.astimezone(tz).date()
    for day in (local_day, local_day + timedelta(days=1)):
        start = datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(hours=start_hour)
        end = datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(hours=end_hour)
        if end <= start:
            continue
        both = interval.intersect(Interval(start, end))
        if both is not None:
            return both.start
    return None
