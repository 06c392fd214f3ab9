from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from nurture.cadence import CadencePlan, PlannedStep, plan_cadence
from nurture.clock import ClinicHours, DailyWindow, window_of
from nurture.lead import Lead
from nurture.settings import NurtureSettings
from nurture.touches import Touch
from nurture.vocab import Channel, ContactChannel, ContactWindow, Stage, TouchOutcome
from tests.factories import consent, lead

CHICAGO = ZoneInfo("America/Chicago")


def local(*args: int, tz: ZoneInfo = CHICAGO) -> datetime:
    return datetime(*args, tzinfo=tz).astimezone(UTC)  # type: ignore[misc]


def plan(settings: NurtureSettings, the_lead: Lead, touches: list[Touch] | None = None,
         now: datetime | None = None) -> CadencePlan:  # fmt: skip
    return plan_cadence(
        the_lead,
        touches or [],
        cadence=settings.cadence,
        hours=settings.hours,
        rules=settings.contact,
        response_target=settings.channel(the_lead.channel).response_target,
        now=now or the_lead.created_at,
    )


def steps(p: CadencePlan) -> dict[str, PlannedStep]:
    return {s.key: s for s in p.steps}


def weekday_clinic(settings: NurtureSettings) -> NurtureSettings:
    """The example clinic, but closed at weekends (opens Monday 08:00, closes 19:00)."""
    hours = dataclasses.replace(settings.hours, weekly={**settings.hours.weekly, 5: ()})
    return dataclasses.replace(settings, hours=hours)


def missed(at: datetime, step: str = "day0_call") -> Touch:
    return Touch(channel=ContactChannel.CALL, outcome=TouchOutcome.MISSED, at=at, step=step)


def test_a_lead_in_clinic_hours_gets_its_call_within_the_channel_target(settings: NurtureSettings) -> None:
    created = local(2026, 12, 1, 10, 0)
    p = plan(settings, lead(created_at=created, updated_at=created))
    assert p.steps[0].key == "day0_call"
    assert p.steps[0].due_at == created + settings.channel(Channel.WEBSITE_FORM).response_target


def test_friday_evening_inquiry_is_called_at_mondays_opening(settings: NurtureSettings) -> None:
    clinic = weekday_clinic(settings)
    created = local(2026, 12, 4, 18, 55)  # Friday, five minutes before closing, 15-minute target
    p = plan(clinic, lead(created_at=created, updated_at=created))
    assert p.steps[0].due_at == local(2026, 12, 7, 8, 0)


def test_after_hours_inquiries_get_the_first_slot_at_the_next_opening(settings: NurtureSettings) -> None:
    created = local(2026, 12, 1, 22, 30)  # Tuesday night
    p = plan(settings, lead(created_at=created, updated_at=created))
    assert p.steps[0].due_at == local(2026, 12, 2, 8, 0)


def test_the_first_call_respects_the_patients_calling_hours(settings: NurtureSettings) -> None:
    created = local(2026, 12, 1, 21, 0)
    the_lead = lead(created_at=created, updated_at=created, timezone="America/Los_Angeles")
    # The clinic opens at 08:00 Chicago = 06:00 Los Angeles: too early to call the patient.
    assert plan(settings, the_lead).steps[0].due_at == local(2026, 12, 2, 10, 0)


def test_a_requested_callback_time_overrides_the_slot(settings: NurtureSettings) -> None:
    created = local(2026, 12, 1, 9, 0)
    wanted = local(2026, 12, 2, 16, 30)
    p = plan(settings, lead(created_at=created, updated_at=created, requested_callback_at=wanted))
    assert p.steps[0].due_at == wanted


def test_no_text_until_the_first_call_was_missed(settings: NurtureSettings) -> None:
    the_lead = lead(consent=consent(ContactChannel.SMS))
    p = plan(settings, the_lead)
    assert "day0_text" not in steps(p)
    assert ("day0_text", "waiting_for_missed_call") in p.skipped


def test_a_missed_call_brings_a_text_when_consented(settings: NurtureSettings) -> None:
    the_lead = lead(consent=consent(ContactChannel.SMS))
    call = the_lead.created_at + timedelta(minutes=4)
    p = plan(settings, the_lead, [missed(call)], now=call)
    text = steps(p)["day0_text"]
    assert text.channel is ContactChannel.SMS
    assert text.due_at == call + settings.cadence.min_gap


def test_a_missed_call_brings_an_email_without_text_consent(settings: NurtureSettings) -> None:
    the_lead = lead()
    call = the_lead.created_at + timedelta(minutes=4)
    assert steps(plan(settings, the_lead, [missed(call)], now=call))["day0_text"].channel is ContactChannel.EMAIL


def test_no_text_and_no_email_when_neither_is_allowed(settings: NurtureSettings) -> None:
    the_lead = lead(email=None, consent=consent(denied=(ContactChannel.SMS,)))
    call = the_lead.created_at + timedelta(minutes=4)
    p = plan(settings, the_lead, [missed(call)], now=call)
    assert "day0_text" not in steps(p)
    assert ("day0_text", "no_channel_with_consent") in p.skipped


def test_the_day_1_callback_is_at_another_time_of_day(settings: NurtureSettings) -> None:
    created = local(2026, 12, 1, 10, 0)  # a morning first call
    p = plan(settings, lead(created_at=created, updated_at=created))
    first, second = steps(p)["day0_call"], steps(p)["day1_call"]
    assert window_of(first.due_at, CHICAGO) is ContactWindow.MORNING
    assert window_of(second.due_at, CHICAGO) is not ContactWindow.MORNING
    assert second.due_at.astimezone(CHICAGO).date() == datetime(2026, 12, 2).date()


def test_the_day_1_callback_prefers_the_patients_window(settings: NurtureSettings) -> None:
    created = local(2026, 12, 1, 10, 0)
    p = plan(settings, lead(created_at=created, updated_at=created, contact_window=ContactWindow.EVENING))
    assert steps(p)["day1_call"].due_at == local(2026, 12, 2, 17, 0)


def test_the_whole_cadence_through_day_7_and_closing(settings: NurtureSettings) -> None:
    created = local(2026, 12, 1, 10, 0)
    p = plan(settings, lead(created_at=created, updated_at=created))
    assert [s.key for s in p.steps] == ["day0_call", "day1_call", "day3_followup", "day7_final", "close"]
    days = {s.key: s.due_at.astimezone(CHICAGO).date().isoformat() for s in p.steps}
    assert days == {
        "day0_call": "2026-12-01",
        "day1_call": "2026-12-02",
        "day3_followup": "2026-12-04",
        "day7_final": "2026-12-08",
        "close": "2026-12-09",
    }
    assert p.steps[-1].channel is None


def test_day_n_counts_from_the_day_of_the_first_call_across_a_weekend(settings: NurtureSettings) -> None:
    clinic = weekday_clinic(settings)
    created = local(2026, 12, 4, 18, 55)  # Friday evening: Day 0 is Monday
    days = [
        s.due_at.astimezone(CHICAGO).date().isoformat()
        for s in plan(clinic, lead(created_at=created, updated_at=created)).steps
    ]
    assert days == ["2026-12-07", "2026-12-08", "2026-12-10", "2026-12-14", "2026-12-15"]


def test_clinic_hours_hold_across_the_spring_dst_change(settings: NurtureSettings) -> None:
    created = local(2027, 3, 10, 18, 0)  # Wednesday before DST begins on Sunday 14 March 2027
    p = plan(settings, lead(created_at=created, updated_at=created))
    for step in p.steps:
        assert settings.hours.is_open(step.due_at), step
    day7 = steps(p)["day7_final"].due_at.astimezone(CHICAGO)
    assert (day7.date().isoformat(), day7.hour) == ("2027-03-17", 8)  # 08:00 CDT, not 07:00 or 09:00


def test_booking_declining_reaching_or_opting_out_stops_the_cadence(settings: NurtureSettings) -> None:
    assert plan(settings, lead(stage=Stage.SCHEDULED)).stopped == "booked"
    assert plan(settings, lead(stage=Stage.DECLINED, close_reason="no")).stopped == "closed:declined"
    reached = Touch(channel=ContactChannel.CALL, outcome=TouchOutcome.REACHED, at=lead().created_at, step="day0_call")
    assert plan(settings, lead(), [reached]).stopped == "reached"
    all_out = consent(denied=(ContactChannel.CALL, ContactChannel.SMS, ContactChannel.EMAIL))
    p = plan(settings, lead(consent=all_out))
    assert (p.stopped, p.steps) == ("opted_out", ())


def test_an_sms_opt_out_removes_only_texts(settings: NurtureSettings) -> None:
    the_lead = lead(email=None, consent=consent(denied=(ContactChannel.SMS,)))
    p = plan(settings, the_lead)
    assert all(s.channel is not ContactChannel.SMS for s in p.steps)
    assert steps(p)["day3_followup"].channel is ContactChannel.CALL


def test_someone_who_may_not_be_called_is_answered_in_writing_on_day_0(settings: NurtureSettings) -> None:
    # "I'm deaf, text or email only, do not call": the first response is an email within the
    # channel's target, not a first contact on Day 3 (found trying it as a coordinator would).
    created = local(2026, 12, 1, 10, 0)
    the_lead = lead(created_at=created, updated_at=created, consent=consent(denied=(ContactChannel.CALL,)))
    first = plan(settings, the_lead).steps[0]
    assert (first.key, first.channel) == ("day0_call", ContactChannel.EMAIL)
    assert first.due_at == created + settings.channel(Channel.WEBSITE_FORM).response_target
    assert "call" not in {s.channel.value for s in plan(settings, the_lead).steps if s.channel}
    # With a phone and a text grant but no email, the first response is a text.
    texted = lead(email=None, consent=consent(ContactChannel.SMS, denied=(ContactChannel.CALL,)))
    assert plan(settings, texted).steps[0].channel is ContactChannel.SMS


def test_completed_steps_are_not_planned_again(settings: NurtureSettings) -> None:
    the_lead = lead()
    call = the_lead.created_at + timedelta(minutes=3)
    p = plan(settings, the_lead, [missed(call)], now=call)
    assert "day0_call" not in steps(p)


# --- properties ---------------------------------------------------------------------------------

ZONES = ["America/Chicago", "America/New_York", "America/Los_Angeles", "America/Denver", "America/Phoenix",
         "Pacific/Honolulu", "America/Anchorage", "America/Puerto_Rico"]  # fmt: skip


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Lead, list[Touch], datetime]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    created = start + timedelta(minutes=draw(st.integers(0, 2 * 365 * 24 * 60)))
    granted = draw(st.sets(st.sampled_from([ContactChannel.SMS, ContactChannel.EMAIL])))
    denied = draw(st.sets(st.sampled_from([ContactChannel.SMS, ContactChannel.CALL, ContactChannel.EMAIL])))
    the_lead = lead(
        created_at=created,
        updated_at=created,
        timezone=draw(st.sampled_from(ZONES)),
        region=draw(st.sampled_from([None, "FL", "TX", "WA"])),
        channel=draw(st.sampled_from(list(Channel))),
        contact_window=draw(st.sampled_from([None, *ContactWindow])),
        email=draw(st.sampled_from([None, "ana@example.org"])),
        consent=consent(*(granted - denied), denied=tuple(denied), at=created),
    )
    touches: list[Touch] = []
    now = created
    if draw(st.booleans()):
        now = created + timedelta(minutes=draw(st.integers(1, 3 * 24 * 60)))
        touches.append(missed(now))
    return the_lead, touches, now


def assert_sound(settings: NurtureSettings, the_lead: Lead, touches: list[Touch], p: CadencePlan) -> None:
    patient = ZoneInfo(the_lead.timezone)
    window = settings.contact.window_for(the_lead.region)
    previous = max((t.at for t in touches), default=None)
    for step in p.steps:
        assert settings.hours.is_open(step.due_at), f"{step.key} outside clinic hours"
        if step.channel in (ContactChannel.CALL, ContactChannel.SMS):
            local_day = step.due_at.astimezone(patient).date()
            assert window.on(local_day, patient).contains(step.due_at), f"{step.key} in quiet hours"
        if previous is not None:
            assert step.due_at >= previous + settings.cadence.min_gap, f"{step.key} too close to the step before"
        previous = step.due_at
        if step.channel is ContactChannel.SMS:
            from nurture.vocab import ConsentState

            assert the_lead.consent.state(ContactChannel.SMS) is ConsentState.GRANTED


@hsettings(max_examples=400, deadline=None)
@given(scenarios())
def test_no_step_outside_clinic_or_calling_hours_and_never_two_at_once(
    settings: NurtureSettings, scenario: tuple[Lead, list[Touch], datetime]
) -> None:
    the_lead, touches, now = scenario
    assert_sound(settings, the_lead, touches, plan(settings, the_lead, touches, now))


@hsettings(max_examples=300, deadline=None)
@given(scenarios())
def test_the_day_1_callback_is_always_in_another_part_of_the_day(
    settings: NurtureSettings, scenario: tuple[Lead, list[Touch], datetime]
) -> None:
    the_lead, touches, now = scenario
    p = plan(settings, the_lead, touches, now)
    planned = steps(p)
    first_at = touches[0].at if touches else planned["day0_call"].due_at if "day0_call" in planned else None
    if first_at is None or "day1_call" not in planned:
        return
    patient = ZoneInfo(the_lead.timezone)
    assert window_of(planned["day1_call"].due_at, patient) is not window_of(first_at, patient)


@hsettings(max_examples=200, deadline=None)
@given(scenarios(), st.sampled_from([Stage.SCHEDULED, Stage.PREPARED, Stage.DECLINED, Stage.UNREACHABLE]))
def test_nothing_is_planned_after_booking_or_closing(
    settings: NurtureSettings, scenario: tuple[Lead, list[Touch], datetime], stage: Stage
) -> None:
    the_lead, touches, now = scenario
    closed = the_lead.evolve(stage=stage, close_reason="x" if stage.is_closed else None)
    assert plan(settings, closed, touches, now).steps == ()


@hsettings(max_examples=200, deadline=None)
@given(scenarios(), st.sampled_from([ContactChannel.SMS, ContactChannel.EMAIL, ContactChannel.CALL]))
def test_nothing_is_planned_on_a_channel_after_opting_out_of_it(
    settings: NurtureSettings, scenario: tuple[Lead, list[Touch], datetime], channel: ContactChannel
) -> None:
    the_lead, touches, now = scenario
    out = the_lead.evolve(consent=the_lead.consent.revoke([channel], at=now, source="sms_keyword"))
    assert all(s.channel is not channel for s in plan(settings, out, touches, now).steps)


def test_calling_windows_are_local_days(settings: NurtureSettings) -> None:
    # Sanity of the helper the properties rely on.
    w = DailyWindow(start=time(8), end=time(21))
    assert w.on(datetime(2026, 12, 1).date(), CHICAGO).start == local(2026, 12, 1, 8, 0)


def test_clinic_hours_must_open_sometime() -> None:
    import pytest

    with pytest.raises(ValueError, match="open at some time"):
        ClinicHours(timezone="America/Chicago", weekly={0: ()})
