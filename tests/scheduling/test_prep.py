"""After the booking: the preparation sequence, the no-show sequence, cancellations and the stage."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from nurture.actions import propose_next_action
from nurture.cadence import CadencePlan, plan_cadence
from nurture.capacity import Clearance, LanguageSupport, ServiceInfo
from nurture.consent import may_contact
from nurture.lead import Lead
from nurture.policy import Accepted, enforce
from nurture.prep import (
    Appointment,
    AppointmentStatus,
    lead_after_appointment,
    lead_after_booking,
    lead_after_cancellation,
    lead_after_kept,
    lead_after_no_show,
    plan_appointment_follow_ups,
    plan_no_show,
    plan_preparation,
)
from nurture.settings import NurtureSettings
from nurture.touches import Touch
from nurture.vocab import (
    ConsentState,
    ContactChannel,
    Intent,
    NextActionKind,
    Purpose,
    Stage,
    TouchOutcome,
)
from tests.factories import T0, consent, lead

AUSTIN = ZoneInfo("America/Chicago")
SMS, EMAIL, CALL = ContactChannel.SMS, ContactChannel.EMAIL, ContactChannel.CALL
PRIMARY = ServiceInfo(id="primary_care")
PT = ServiceInfo(id="physical_therapy", requires_referral=True)
NOTHING_YET = Clearance()


def local(day: int, hour: int, minute: int = 0, tz: ZoneInfo = AUSTIN) -> datetime:
    """Local time ``day`` days after Tuesday 1 December 2026."""
    return datetime(2026, 12, 1, hour, minute, tzinfo=tz) + timedelta(days=day)


def visit(start: datetime, *, booked_at: datetime = T0, **overrides: Any) -> Appointment:
    values: dict[str, Any] = {
        "ref": "fhir:apt-1",
        "service": "primary_care",
        "location": "downtown",
        "start": start,
        "end": start + timedelta(minutes=30),
        "booked_at": booked_at,
    }
    return Appointment(**{**values, **overrides})


def booked(settings: NurtureSettings, appointment: Appointment, **overrides: Any) -> Lead:
    values: dict[str, Any] = {
        "intent": Intent.READY_TO_SCHEDULE,
        "service": "primary_care",
        "location": "downtown",
        "consent": consent(SMS, EMAIL),
    }
    return lead_after_booking(lead(**{**values, **overrides}), appointment, settings)


def prep(
    settings: NurtureSettings,
    person: Lead,
    appointment: Appointment,
    *,
    touches: tuple[Touch, ...] = (),
    service: ServiceInfo = PRIMARY,
    clearance: Clearance = NOTHING_YET,
    now: datetime = T0,
) -> CadencePlan:
    return plan_preparation(
        person, touches, appointment, service=service, clearance=clearance, settings=settings, now=now
    )


def steps(plan: CadencePlan) -> dict[str, tuple[ContactChannel | None, datetime]]:
    return {s.key: (s.channel, s.due_at) for s in plan.steps}


# --- the preparation sequence -----------------------------------------------------------------------


def test_preparation_steps_are_timed_relative_to_the_appointment(settings: NurtureSettings) -> None:
    monday = visit(local(6, 10))  # Monday 7 December, 10:00; booked Tuesday 1 December, 10:00

    plan = prep(settings, booked(settings, monday), monday)

    assert steps(plan) == {
        "prep_confirmation": (SMS, T0),
        "prep_insurance": (EMAIL, monday.start - timedelta(days=5)),
        "prep_documents": (EMAIL, monday.start - timedelta(days=3)),
        "prep_callback": (EMAIL, monday.start - timedelta(days=2)),
        "prep_directions": (SMS, monday.start - timedelta(days=1)),
    }
    assert plan.skipped == ()


def test_a_missing_referral_adds_a_reminder_until_the_documents_arrive(settings: NurtureSettings) -> None:
    monday = visit(local(6, 10), service="physical_therapy")
    person = booked(settings, monday, service="physical_therapy")

    missing = prep(settings, person, monday, service=PT)
    received = prep(settings, person, monday, service=PT, clearance=Clearance(referral_documents_received=True))

    assert steps(missing)["prep_referral_reminder"] == (EMAIL, monday.start - timedelta(days=4))
    assert "prep_referral_reminder" not in steps(received)


def test_language_support_and_telehealth_change_the_steps(settings: NurtureSettings) -> None:
    thursday = visit(local(9, 14), location="telehealth", telehealth=True, language_support=LanguageSupport.PROVIDER)
    person = booked(settings, thursday, preferred_language="es")

    plan = steps(prep(settings, person, thursday))

    assert plan["prep_language"] == (CALL, thursday.start - timedelta(days=2))
    assert plan["prep_telehealth"] == (EMAIL, thursday.start - timedelta(days=1))
    assert "prep_directions" not in plan


def test_steps_falling_in_quiet_hours_move_out_of_them(settings: NurtureSettings) -> None:
    los_angeles = ZoneInfo("America/Los_Angeles")
    early = visit(local(6, 9))  # 09:00 in Austin is 07:00 for a patient in Los Angeles
    person = booked(settings, early, timezone="America/Los_Angeles")

    plan = steps(prep(settings, person, early))

    _, due = plan["prep_directions"]
    assert due.astimezone(los_angeles).hour == 8  # the day before at 07:00 is too early: 08:00 instead
    assert due.astimezone(los_angeles).date() == (early.start - timedelta(days=1)).astimezone(los_angeles).date()


def test_a_late_night_booking_for_tomorrow_morning_gets_a_confirmation_only(settings: NurtureSettings) -> None:
    tomorrow = visit(local(1, 9), booked_at=local(0, 22))
    person = booked(settings, tomorrow)

    plan = prep(settings, person, tomorrow, now=local(0, 22))

    assert steps(plan) == {"prep_confirmation": (SMS, local(1, 8))}
    assert {key for key, _ in plan.skipped} >= {"prep_documents", "prep_directions"}
    assert all(reason == "no_time_before_appointment" for _, reason in plan.skipped)


def test_a_booking_three_days_ahead_catches_up_in_order(settings: NurtureSettings) -> None:
    friday = visit(local(3, 15))
    plan = prep(settings, booked(settings, friday), friday)

    dues = [s.due_at for s in plan.steps]
    assert dues == sorted(dues)
    assert [s.key for s in plan.steps][:3] == ["prep_confirmation", "prep_insurance", "prep_documents"]
    assert steps(plan)["prep_insurance"][1] == T0 + timedelta(minutes=10)
    assert all(d <= friday.start - timedelta(hours=2) for d in dues)


def test_texts_only_with_consent_and_never_on_a_denied_channel(settings: NurtureSettings) -> None:
    monday = visit(local(6, 10))
    no_sms_consent = booked(settings, monday, consent=consent(EMAIL))
    email_denied = booked(settings, monday, consent=consent(SMS, denied=(EMAIL,)))
    no_phone = booked(settings, monday, phone=None, consent=consent(SMS, EMAIL))

    assert SMS not in {c for c, _ in steps(prep(settings, no_sms_consent, monday)).values()}
    assert EMAIL not in {c for c, _ in steps(prep(settings, email_denied, monday)).values()}
    assert {c for c, _ in steps(prep(settings, no_phone, monday)).values()} == {EMAIL}


def test_everything_opted_out_stops_the_sequence(settings: NurtureSettings) -> None:
    monday = visit(local(6, 10))
    person = booked(settings, monday, consent=consent(denied=(SMS, EMAIL, CALL)))

    assert prep(settings, person, monday).stopped == "opted_out"


def test_planning_again_later_moves_nothing_and_drops_what_is_done(settings: NurtureSettings) -> None:
    monday = visit(local(6, 10))
    person = booked(settings, monday)
    first = prep(settings, person, monday)
    done = (Touch(channel=SMS, outcome=TouchOutcome.TEXTED, at=T0, step="prep_confirmation"),)

    later = prep(settings, person, monday, touches=done, now=T0 + timedelta(days=2))

    assert steps(later) == {k: v for k, v in steps(first).items() if k != "prep_confirmation"}
    assert prep(settings, person, monday, now=monday.start).stopped == "appointment_started"


_zones = st.sampled_from(["America/Chicago", "America/Los_Angeles", "America/New_York", "Pacific/Honolulu"])
_channels = st.frozensets(st.sampled_from([SMS, EMAIL, CALL]))


@given(
    booked_hours=st.integers(min_value=0, max_value=24 * 6),
    lead_days=st.integers(min_value=0, max_value=20),
    start_hour=st.integers(min_value=7, max_value=19),
    timezone=_zones,
    region=st.sampled_from([None, "FL", "TX"]),
    granted=_channels,
    denied=_channels,
    phone=st.booleans(),
    email=st.booleans(),
    telehealth=st.booleans(),
    language=st.sampled_from(["en", "es"]),
)
@hsettings(max_examples=250, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
def test_no_step_in_quiet_hours_none_without_consent_none_after_the_visit(
    settings: NurtureSettings,
    booked_hours: int,
    lead_days: int,
    start_hour: int,
    timezone: str,
    region: str | None,
    granted: frozenset[ContactChannel],
    denied: frozenset[ContactChannel],
    phone: bool,
    email: bool,
    telehealth: bool,
    language: str,
) -> None:
    assume(not granted & denied)
    booked_at = T0 + timedelta(hours=booked_hours, minutes=17)
    start = (booked_at + timedelta(days=lead_days)).astimezone(AUSTIN).replace(hour=start_hour, minute=30)
    assume(start > booked_at + timedelta(hours=1))
    appointment = visit(
        start, booked_at=booked_at, location="telehealth" if telehealth else "downtown", telehealth=telehealth
    )
    person = booked(
        settings,
        appointment,
        timezone=timezone,
        region=region,
        phone="+15125550142" if phone else None,
        email="ana@example.org" if email else None,
        preferred_language=language,
        consent=consent(*granted, denied=tuple(denied)),
    )

    plan = prep(settings, person, appointment, service=PT, now=booked_at)

    window = settings.contact.window_for(region)
    texts: list[Touch] = []
    for step in plan.steps:
        assert step.channel is not None
        assert person.consent.state(step.channel) is not ConsentState.DENIED
        if step.channel is SMS:
            assert person.consent.state(SMS) is ConsentState.GRANTED
        assert window.on(step.due_at.astimezone(ZoneInfo(timezone)).date(), ZoneInfo(timezone)).contains(step.due_at)
        if step.channel is CALL:
            assert settings.hours.is_open(step.due_at)
        decision = may_contact(
            channel=step.channel,
            purpose=Purpose.RESPONSE,
            at=step.due_at,
            patient_timezone=timezone,
            region=region,
            ledger=person.consent,
            touches=texts,
            rules=settings.contact,
        )
        assert decision.allowed, (step.key, decision.reason)
        assert booked_at <= step.due_at <= appointment.start
        if step.key != "prep_confirmation":
            assert step.due_at <= appointment.start - timedelta(hours=2)
        if step.channel is SMS:
            texts.append(Touch(channel=SMS, outcome=TouchOutcome.TEXTED, at=step.due_at, step=step.key))
    dues = [s.due_at for s in plan.steps]
    assert dues == sorted(dues)


# --- the lead through the appointment ----------------------------------------------------------------


def scheduled(settings: NurtureSettings, appointment: Appointment) -> tuple[Lead, Lead]:
    """(the lead before, the lead once booked, accepted by the policy)."""
    before = lead(intent=Intent.READY_TO_SCHEDULE, stage=Stage.ATTEMPTING, consent=consent(SMS, EMAIL))
    before = before.evolve(next_action=propose_next_action(before, settings, now=T0))
    after = enforce(before, lead_after_booking(before, appointment, settings), settings, now=T0)
    assert isinstance(after, Accepted), after
    return before, after.lead


def test_a_booking_schedules_the_lead_and_stops_the_cadence(settings: NurtureSettings) -> None:
    monday = visit(local(6, 10))
    _, person = scheduled(settings, monday)

    cadence = plan_cadence(
        person,
        [],
        cadence=settings.cadence,
        hours=settings.hours,
        rules=settings.contact,
        response_target=timedelta(minutes=15),
        now=T0,
    )
    follow_ups = plan_appointment_follow_ups(
        person, [], monday, service=PRIMARY, clearance=NOTHING_YET, settings=settings, now=T0
    )

    assert person.stage is Stage.SCHEDULED
    assert person.next_action is not None and person.next_action.kind is NextActionKind.SEND_PREP_INFO
    assert cadence.stopped == "booked" and cadence.steps == ()
    assert {s.key for s in follow_ups.steps} >= {"prep_confirmation", "prep_documents"}
    assert all(len(s.key) <= 40 for s in follow_ups.steps)


def test_a_booking_by_a_lead_triage_could_not_read_is_accepted_as_ready_to_schedule(
    settings: NurtureSettings,
) -> None:
    vague = lead(intent=None, stage=Stage.NEW)
    vague = vague.evolve(next_action=propose_next_action(vague, settings, now=T0))
    assert vague.next_action is not None and vague.next_action.kind is NextActionKind.TRIAGE

    after = enforce(vague, lead_after_booking(vague, visit(local(6, 10)), settings), settings, now=T0)

    assert isinstance(after, Accepted), after
    assert (after.lead.intent, after.lead.stage) == (Intent.READY_TO_SCHEDULE, Stage.SCHEDULED)


def test_a_cancellation_reopens_the_lead_with_a_next_action(settings: NurtureSettings) -> None:
    monday = visit(local(6, 10))
    _, person = scheduled(settings, monday)
    cancelled = Appointment(**{**_as_dict(monday), "status": AppointmentStatus.CANCELLED})
    now = local(2, 20, 30)  # Thursday evening: the clinic is closed

    reopened = enforce(person, lead_after_appointment(person, cancelled, settings, now=now), settings, now=now)

    assert isinstance(reopened, Accepted), reopened
    assert reopened.lead.stage is Stage.REACHED
    action = reopened.lead.next_action
    assert action is not None and action.kind is NextActionKind.BOOK_APPOINTMENT
    assert action.reason == "appointment_cancelled"
    assert action.due_at == local(3, 8)  # the next opening, Friday 08:00
    assert prep(settings, reopened.lead, cancelled, now=now).stopped == "appointment_cancelled"
    by_clinic = lead_after_cancellation(person, settings, now=now, by_clinic=True).next_action
    assert by_clinic is not None and by_clinic.reason == "appointment_cancelled_by_clinic"


def test_a_no_show_starts_a_short_respectful_rebooking_sequence(settings: NurtureSettings) -> None:
    monday = visit(local(6, 10))
    _, person = scheduled(settings, monday)
    missed = Appointment(**{**_as_dict(monday), "status": AppointmentStatus.NO_SHOW})
    now = monday.end + timedelta(minutes=20)

    decided = enforce(person, lead_after_appointment(person, missed, settings, now=now), settings, now=now)
    assert isinstance(decided, Accepted), decided
    no_show = decided.lead
    plan = plan_no_show(no_show, [], missed, settings=settings, now=now)

    assert no_show.stage is Stage.NO_SHOW
    assert no_show.next_action is not None and no_show.next_action.reason == "no_show_rebook"
    assert [(s.key, s.channel) for s in plan.steps] == [
        ("noshow_call", CALL),
        ("noshow_message", SMS),
        ("noshow_final", EMAIL),
    ]
    call, message, final = (s.due_at for s in plan.steps)
    assert call == missed.end + timedelta(hours=1)
    assert message == missed.end + timedelta(days=1)
    assert final == missed.end + timedelta(days=5)
    assert no_show.next_action.due_at == call


def test_the_no_show_sequence_stops_once_the_patient_is_reached(settings: NurtureSettings) -> None:
    monday = visit(local(6, 10))
    _, person = scheduled(settings, monday)
    missed = Appointment(**{**_as_dict(monday), "status": AppointmentStatus.NO_SHOW})
    no_show = lead_after_no_show(person, missed, settings)
    reached = Touch(channel=CALL, outcome=TouchOutcome.REACHED, at=missed.end + timedelta(hours=1), step="noshow_call")

    assert plan_no_show(no_show, [reached], missed, settings=settings, now=reached.at).stopped == "reached"
    rebooked = lead_after_booking(no_show, visit(local(9, 10)), settings)
    assert plan_no_show(rebooked, [], missed, settings=settings, now=reached.at).stopped == "stage:scheduled"


def test_a_kept_visit_ends_the_nurture_work(settings: NurtureSettings) -> None:
    monday = visit(local(6, 10))
    _, person = scheduled(settings, monday)

    kept = lead_after_kept(person)

    assert kept.stage is Stage.KEPT and kept.next_action is None


def test_a_hold_changes_nothing_and_news_already_applied_is_a_no_op(settings: NurtureSettings) -> None:
    monday = visit(local(6, 10))
    _, person = scheduled(settings, monday)
    held = Appointment(**{**_as_dict(monday), "status": AppointmentStatus.HELD})

    assert lead_after_appointment(person, held, settings, now=T0) is person
    assert lead_after_appointment(person, monday, settings, now=T0) is person


def _as_dict(appointment: Appointment) -> dict[str, Any]:
    return {name: getattr(appointment, name) for name in Appointment.__dataclass_fields__}


@pytest.mark.parametrize(
    "bad",
    [
        {"end": local(6, 9)},
        {"ref": ""},
        {"start": datetime(2026, 12, 7, 10, 0)},  # naive on purpose
    ],
)
def test_appointments_validate(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"Appointment|appointment"):
        Appointment(**{**_as_dict(visit(local(6, 10))), **bad})
