"""Capacity feedback: availability refines the next action and the first response."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from connectors.scheduling import AvailabilityQuery
from connectors.scheduling.fhir import FhirScheduling
from nurture.actions import propose_next_action, score_for
from nurture.capacity import (
    CapacityDecision,
    CapacityOutcome,
    CapacityRules,
    Clearance,
    LanguageSupport,
    Opening,
    ServiceInfo,
    apply_capacity,
    format_offers,
    language_support,
    summarize_capacity,
)
from nurture.lead import Lead
from nurture.settings import NurtureSettings
from nurture.templates import TemplateCatalog
from nurture.vocab import ContactWindow, Intent, NextActionKind, Score
from tests.factories import T0, lead

AUSTIN = ZoneInfo("America/Chicago")
PRIMARY = ServiceInfo(id="primary_care")
PT = ServiceInfo(id="physical_therapy", requires_referral=True)
SLEEP = ServiceInfo(id="sleep_study", requires_referral=True, requires_authorization=True)
NOTHING_YET = Clearance()


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """Local Austin time, ``day`` days after Tuesday 1 December 2026."""
    return datetime(2026, 12, 1, hour, minute, tzinfo=AUSTIN) + timedelta(days=day)


def opening(
    start: datetime,
    *,
    service: str = "primary_care",
    location: str = "downtown",
    languages: tuple[str, ...] = ("en",),
    interpreter: tuple[str, ...] = (),
) -> Opening:
    return Opening(
        ref=f"test:{service}:{location}:{start:%m%d%H%M}:{''.join(languages)}{''.join(interpreter)}",
        start=start,
        end=start + timedelta(minutes=30),
        service=service,
        location=location,
        languages=frozenset(languages),
        interpreter_languages=frozenset(interpreter),
    )


def ready(**overrides: Any) -> Lead:
    values: dict[str, Any] = {"intent": Intent.READY_TO_SCHEDULE, "service": "primary_care", "location": "downtown"}
    return lead(**{**values, **overrides})


def decide(
    person: Lead,
    available: list[Opening],
    settings: NurtureSettings,
    *,
    service: ServiceInfo = PRIMARY,
    clearance: Clearance = NOTHING_YET,
    now: datetime = T0,
) -> CapacityDecision:
    proposed = propose_next_action(person, settings, now=now)
    return apply_capacity(
        person, proposed, service=service, openings=available, clearance=clearance, settings=settings, now=now
    )


# --- offering times -----------------------------------------------------------------------------


def test_openings_this_week_are_offered_in_the_patients_part_of_the_day(settings: NurtureSettings) -> None:
    week = [opening(at(d, h)) for d in (1, 2, 3) for h in (9, 14)]

    morning = decide(ready(contact_window=ContactWindow.MORNING), week, settings)
    afternoon = decide(ready(contact_window=ContactWindow.AFTERNOON), week, settings)

    assert morning.outcome is CapacityOutcome.OFFER_TIMES
    assert [o.start.astimezone(AUSTIN).hour for o in morning.offers] == [9, 9, 9]
    assert [o.start.astimezone(AUSTIN).hour for o in afternoon.offers] == [14, 14, 14]
    assert morning.next_action.kind is NextActionKind.BOOK_APPOINTMENT
    assert morning.template == "scheduling_ready"
    assert score_for(morning.next_action, Intent.READY_TO_SCHEDULE) is Score.A


def test_offers_spread_over_days_before_doubling_up(settings: NurtureSettings) -> None:
    week = [opening(at(1, h)) for h in (9, 10, 11)] + [opening(at(2, 9)), opening(at(2, 9))]

    decision = decide(ready(), week, settings)

    days = [o.start.astimezone(AUSTIN).day for o in decision.offers]
    assert days == [2, 2, 3]  # two days first, then the earliest left; never the same time twice
    assert len({o.start for o in decision.offers}) == 3


def test_openings_starting_too_soon_or_after_this_week_are_not_offered(settings: NurtureSettings) -> None:
    soon, later = opening(T0 + timedelta(hours=1)), opening(T0 + timedelta(days=9))

    decision = decide(ready(), [soon, later], settings)

    assert decision.outcome is CapacityOutcome.WAITLIST
    assert decision.offers == ()
    assert decision.next_available == later.start


# --- referral and authorization -----------------------------------------------------------------

_starts = st.integers(min_value=3, max_value=24 * 20).map(lambda h: T0 + timedelta(hours=h))
_openings = st.lists(
    st.builds(
        opening,
        _starts,
        service=st.sampled_from(["primary_care", "physical_therapy", "sleep_study"]),
        location=st.sampled_from(["downtown", "eastside", "telehealth"]),
        languages=st.sampled_from([("en",), ("es", "en"), ("en", "zh")]),
        interpreter=st.sampled_from([(), ("es",)]),
    ),
    max_size=40,
)
_booking_intents = st.sampled_from(
    [
        Intent.READY_TO_SCHEDULE,
        Intent.SERVICE_FIT,
        Intent.LANGUAGE_SUPPORT,
        Intent.NOT_READY_YET,
        Intent.REFERRAL_COORDINATION,
    ]
)


@given(available=_openings, intent=_booking_intents, insurance=st.booleans(), language=st.sampled_from(["en", "es"]))
@hsettings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
def test_a_referral_service_never_offers_times_before_the_documents_arrive(
    settings: NurtureSettings, available: list[Opening], intent: Intent, insurance: bool, language: str
) -> None:
    person = ready(intent=intent, service="physical_therapy", preferred_language=language)

    decision = decide(person, available, settings, service=PT, clearance=Clearance(insurance_collected=insurance))

    assert decision.offers == ()
    if intent is Intent.NOT_READY_YET:
        # Someone only researching is neither asked for documents nor offered times yet.
        assert decision.next_action.kind is not NextActionKind.REQUEST_REFERRAL_DOCUMENTS
        return
    assert decision.next_action.kind in (NextActionKind.REQUEST_REFERRAL_DOCUMENTS, NextActionKind.ADD_TO_NURTURE)
    if decision.next_action.kind is NextActionKind.REQUEST_REFERRAL_DOCUMENTS:
        assert decision.next_action.owner_queue == settings.routing.referral_queue


def test_once_the_referral_is_in_times_are_offered(settings: NurtureSettings) -> None:
    week = [opening(at(2, 9), service="physical_therapy")]
    person = ready(service="physical_therapy")

    before = decide(person, week, settings, service=PT)
    after = decide(person, week, settings, service=PT, clearance=Clearance(referral_documents_received=True))

    assert before.outcome is CapacityOutcome.REFERRAL_FIRST
    assert before.next_action.reason == "referral_documents_required"
    assert score_for(before.next_action, person.intent) is Score.C
    assert after.outcome is CapacityOutcome.OFFER_TIMES and after.offers == tuple(week)


def test_prior_authorization_means_insurance_first_then_times(settings: NurtureSettings) -> None:
    week = [opening(at(2, 21), service="sleep_study")]
    person = ready(service="sleep_study")
    referral_in = Clearance(referral_documents_received=True)

    collect = decide(person, week, settings, service=SLEEP, clearance=referral_in)
    pending = decide(
        person,
        week,
        settings,
        service=SLEEP,
        clearance=Clearance(referral_documents_received=True, insurance_collected=True),
    )
    approved = decide(
        person,
        week,
        settings,
        service=SLEEP,
        clearance=Clearance(referral_documents_received=True, insurance_collected=True, authorization_approved=True),
    )

    assert (collect.outcome, collect.next_action.kind) == (
        CapacityOutcome.AUTHORIZATION_FIRST,
        NextActionKind.VERIFY_INSURANCE,
    )
    assert collect.next_action.reason == "collect_insurance_for_authorization"
    assert pending.next_action.reason == "prior_authorization_pending" and pending.offers == ()
    assert collect.next_action.owner_queue == settings.routing.insurance_queue
    assert approved.outcome is CapacityOutcome.OFFER_TIMES


# --- booked out -----------------------------------------------------------------------------------


def test_a_booked_out_service_goes_on_the_waitlist_with_the_next_opening(settings: NurtureSettings) -> None:
    in_three_weeks = opening(at(21, 9))

    decision = decide(ready(), [in_three_weeks], settings)

    assert decision.outcome is CapacityOutcome.WAITLIST
    assert decision.offers == ()
    assert decision.next_available == in_three_weeks.start
    assert decision.next_action.kind is NextActionKind.BOOK_APPOINTMENT
    assert decision.next_action.reason == "capacity_waitlist"
    assert decision.template == "capacity_waitlist"


def test_a_clinic_without_the_outcomes_script_keeps_the_channels(settings: NurtureSettings) -> None:
    catalog = TemplateCatalog([t for t in settings.templates if t.id != "capacity_waitlist"])
    decision = decide(ready(), [opening(at(21, 9))], replace(settings, templates=catalog))
    assert decision.outcome is CapacityOutcome.WAITLIST
    assert decision.template == settings.channel(ready().channel).first_response_template


def test_a_service_full_here_but_open_elsewhere_offers_the_other_locations(settings: NurtureSettings) -> None:
    elsewhere = [opening(at(3, 9), location="eastside"), opening(at(2, 13), location="telehealth")]
    here_later = opening(at(12, 9), location="downtown")

    decision = decide(ready(location="downtown"), [*elsewhere, here_later], settings)

    assert decision.outcome is CapacityOutcome.ALTERNATE_LOCATION
    assert decision.alternate_locations == ("telehealth", "eastside")
    assert {o.location for o in decision.offers} == {"eastside", "telehealth"}
    assert decision.template == "capacity_alternate_location"


# --- language ---------------------------------------------------------------------------------------


def test_a_spanish_speaking_patient_is_offered_spanish_speaking_providers_first(settings: NurtureSettings) -> None:
    week = [
        opening(at(1, 9)),
        opening(at(1, 10), interpreter=("es",)),
        opening(at(2, 9), languages=("es", "en")),
        opening(at(3, 9), languages=("es", "en")),
    ]
    person = ready(preferred_language="es")

    decision = decide(person, week, settings)

    assert decision.language_support is LanguageSupport.PROVIDER
    assert all(language_support(o, "es") for o in decision.offers)
    kinds = [str(language_support(o, "es")) for o in decision.offers]
    assert sorted(kinds) == ["interpreter", "provider", "provider"]
    assert at(1, 9) not in {o.start for o in decision.offers}  # English only, no interpreter
    assert decision.next_action.owner_queue == settings.routing.language_queues["es"]


def test_interpreter_slots_when_no_provider_speaks_the_language(settings: NurtureSettings) -> None:
    week = [opening(at(1, 9)), opening(at(2, 9), interpreter=("es",))]

    decision = decide(ready(preferred_language="es"), week, settings)
    english_only = decide(ready(preferred_language="es"), [opening(at(1, 9))], settings)

    assert decision.language_support is LanguageSupport.INTERPRETER
    assert [o.start for o in decision.offers] == [at(2, 9)]
    assert english_only.outcome is CapacityOutcome.WAITLIST


@given(
    available=_openings, language=st.sampled_from(["en", "es", "zh"]), window=st.sampled_from([None, *ContactWindow])
)
@hsettings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
def test_offers_always_fit_the_service_the_week_the_language_and_the_count(
    settings: NurtureSettings, available: list[Opening], language: str, window: ContactWindow | None
) -> None:
    rules = CapacityRules()
    person = ready(preferred_language=language, contact_window=window)

    decision = decide(person, available, settings)

    assert len(decision.offers) <= rules.max_offers
    assert len({o.start for o in decision.offers}) == len(decision.offers)
    for o in decision.offers:
        assert o.service == "primary_care"
        assert T0 + rules.min_notice <= o.start < T0 + rules.offer_window
        if language != "en":
            assert language_support(o, language) is not None
    fitting = [
        o
        for o in available
        if o.service == "primary_care"
        and T0 + rules.min_notice <= o.start < T0 + rules.offer_window
        and (language == "en" or language_support(o, language))
    ]
    here = [o for o in fitting if o.location == "downtown"]
    expected = (
        CapacityOutcome.OFFER_TIMES
        if here
        else CapacityOutcome.ALTERNATE_LOCATION
        if fitting
        else CapacityOutcome.WAITLIST
    )
    assert decision.outcome is expected
    assert bool(decision.offers) == bool(fitting)


def test_clinical_and_urgent_leads_are_never_changed(settings: NurtureSettings) -> None:
    week = [opening(at(1, 9))]
    clinical = ready(intent=Intent.CLINICAL_QUESTION)
    urgent = ready(urgent=True)

    for person in (clinical, urgent):
        proposed = propose_next_action(person, settings, now=T0)
        decision = apply_capacity(
            person, proposed, service=PRIMARY, openings=week, clearance=Clearance(), settings=settings, now=T0
        )
        assert decision.next_action == proposed
        assert decision.outcome is CapacityOutcome.NOT_APPLICABLE and decision.offers == ()


def test_an_unknown_service_leaves_the_next_action_alone(settings: NurtureSettings) -> None:
    person = ready(service=None)
    proposed = propose_next_action(person, settings, now=T0)

    decision = apply_capacity(
        person, proposed, service=None, openings=[opening(at(1, 9))], clearance=Clearance(), settings=settings, now=T0
    )

    assert decision.next_action == proposed and decision.offers == ()


# --- the summary and the words ----------------------------------------------------------------------


def test_the_capacity_summary_shows_booked_out_services_as_zeros(settings: NurtureSettings) -> None:
    available = [
        opening(at(1, 9)),
        opening(at(5, 9), languages=("es", "en")),
        opening(at(10, 9), interpreter=("es",)),
        opening(at(20, 9)),
        opening(at(-1, 9)),  # yesterday: ignored
    ]

    rows = summarize_capacity(
        available, now=T0, services=["primary_care", "sleep_study"], locations=["downtown"], languages=["es"]
    )

    table = {(r.service, r.location, r.language): r for r in rows}
    everyone = table["primary_care", "downtown", None]
    spanish = table["primary_care", "downtown", "es"]
    sleep = table["sleep_study", "downtown", None]
    assert (everyone.openings, everyone.next_available) == ((2, 3), at(1, 9))
    assert (spanish.openings, spanish.next_available) == ((1, 2), at(5, 9))
    assert sleep.booked_out and sleep.openings == (0, 0) and sleep.next_available is None
    assert [r.language for r in rows[:2]] == [None, "es"]


def test_offered_times_are_said_in_the_patients_language_and_time_zone() -> None:
    offers = [opening(at(1, 9)), opening(at(2, 14, 30))]

    assert format_offers(offers, timezone="America/Chicago") == "Wed Dec 2, 9:00 AM; Thu Dec 3, 2:30 PM"
    assert format_offers(offers, timezone="America/Chicago", language="es") == "mié 2 dic, 9:00; jue 3 dic, 14:30"
    assert format_offers(offers[:1], timezone="America/Los_Angeles") == "Wed Dec 2, 7:00 AM"


# --- from the EHR ------------------------------------------------------------------------------------


def test_the_ehr_calendar_drives_the_decision(fhir_connector: FhirScheduling, settings: NurtureSettings) -> None:
    now = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    fortnight = [
        slot.opening() for slot in fhir_connector.find_slots(AvailabilityQuery(start=now, end=now + timedelta(days=28)))
    ]

    sleep = decide(
        ready(service="sleep_study"),
        fortnight,
        settings,
        service=SLEEP,
        clearance=Clearance(referral_documents_received=True, insurance_collected=True, authorization_approved=True),
        now=now,
    )
    spanish_pt = decide(
        ready(service="physical_therapy", location="downtown", preferred_language="es"),
        fortnight,
        settings,
        service=PT,
        clearance=Clearance(referral_documents_received=True),
        now=now,
    )

    assert sleep.outcome is CapacityOutcome.WAITLIST
    assert sleep.next_available is not None and sleep.next_available >= now + timedelta(days=13)
    assert spanish_pt.outcome is CapacityOutcome.ALTERNATE_LOCATION
    assert spanish_pt.alternate_locations == ("eastside",)
    assert {o.provider for o in spanish_pt.offers} == {"ramirez"}


@pytest.mark.parametrize("bad", [{"offer_window": timedelta(0)}, {"max_offers": 0}, {"summary_windows": ()}])
def test_capacity_rules_validate(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="CapacityRules"):
        CapacityRules(**bad)
