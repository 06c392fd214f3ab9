"""The review's measures, on their own: a generated history of a few thousand leads whose answers are
known by construction (each expected figure is worked out from the recipe, not by running the code)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.review.measures.confusion import confusion
from hub.review.measures.counts import percentile
from hub.review.measures.demand import Verdict, service_demand
from hub.review.measures.funnel import FunnelCell, funnel, funnels
from hub.review.measures.language import language_conversion
from hub.review.measures.questions import QuestionCell, repeated_questions
from hub.review.measures.speed import LeadTiming, SpeedToLead, open_minutes, speed_to_lead
from hub.review.measures.stalled import StalledFact, StallReason, stall_reason, stalled_leads
from hub.review.measures.timing import follow_up_timing
from hub.review.measures.touches import AttemptCell, ReplyFact, TouchFact, attempt_cells
from hub.review.measures.trend import TrendCell, trend
from hub.review.period import Period
from hub.settings.config import HubConfig

Cells = tuple[list[AttemptCell], list[ReplyFact]]

CHICAGO = "America/Chicago"
# Tuesday 1 December 2026, 10:00 in Chicago: the clinic is open (08:00–12:00, 13:00–19:00).
TUESDAY_10 = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
SUNDAY_10 = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)  # closed all day

# --- the funnel ---------------------------------------------------------------------------------

#: Leads per stage for a channel of weight 1; channel c has (c + 1) times as many.
RECIPE = {
    "new": 9,
    "attempting": 21,
    "reached": 30,
    "scheduled": 40,
    "prepared": 25,
    "kept": 100,
    "no_show": 5,
    "declined": 16,
    "not_a_fit": 12,
    "unreachable": 60,
    "duplicate": 3,
}
CHANNELS = ("website_form", "paid_search", "referral_partner", "gbp_call")
BOOKED_THEN_DECLINED = 2  # of the declined leads, the first ones were booked (and so reached) first


def _channel_leads(c: int, channel: str) -> list[FunnelCell]:
    """One cell per lead. In each stage block, lead i is ready when i % 3 == 0; declined leads: the
    first half were contacted, the first two of them booked."""
    cells = []
    for stage, base in RECIPE.items():
        n = base * (c + 1)
        for i in range(n):
            declined = stage == "declined"
            cells.append(
                FunnelCell(
                    channel=channel,
                    campaign=None if i % 2 else f"{channel}_spring",
                    location=("downtown", "eastside")[i % 2],
                    service="primary_care",
                    language="en",
                    ready=stage != "duplicate" and i % 3 == 0,
                    stage=stage,
                    contacted=declined and i < n // 2,
                    booked=declined and i < BOOKED_THEN_DECLINED,
                )
            )
    return cells


@pytest.fixture(scope="module")
def history() -> list[FunnelCell]:
    return [cell for c, channel in enumerate(CHANNELS) for cell in _channel_leads(c, channel)]


def expected_funnel(c: int) -> dict[str, int]:
    n = {stage: base * (c + 1) for stage, base in RECIPE.items()}
    inquiries = sum(v for k, v in n.items() if k != "duplicate")
    return {
        "inquiries": inquiries,
        "reached": n["reached"] + n["scheduled"] + n["prepared"] + n["kept"] + n["no_show"] + n["declined"] // 2,
        "scheduled": n["scheduled"] + n["prepared"] + n["kept"] + n["no_show"] + BOOKED_THEN_DECLINED,
        "prepared": n["prepared"] + n["kept"],
        "kept": n["kept"],
        "declined": n["declined"],
        "not_a_fit": n["not_a_fit"],
        "unreachable": n["unreachable"],
        "no_show": n["no_show"],
        "scheduling_ready": sum(math.ceil(v / 3) for k, v in n.items() if k != "duplicate"),
    }


def test_the_history_has_a_few_thousand_leads(history: list[FunnelCell]) -> None:
    assert len(history) == sum(RECIPE.values()) * (1 + 2 + 3 + 4) == 3210


@pytest.mark.parametrize(("c", "channel"), list(enumerate(CHANNELS)))
def test_the_funnel_per_channel_counts_each_step_as_constructed(
    history: list[FunnelCell], c: int, channel: str
) -> None:
    counts = funnel(history, "channel").row(channel)
    for name, value in expected_funnel(c).items():
        assert getattr(counts, name) == value, name


def test_the_total_funnel_adds_the_channels_and_leaves_duplicates_out(history: list[FunnelCell]) -> None:
    total = funnel(history, "channel").total
    expected = [expected_funnel(c) for c in range(len(CHANNELS))]
    assert total.inquiries == sum(e["inquiries"] for e in expected) == 3210 - 3 * 10
    assert total.kept == sum(e["kept"] for e in expected)


def test_conversion_at_each_step_divides_by_the_step_before(history: list[FunnelCell]) -> None:
    e = expected_funnel(0)
    steps = {s.name: s for s in funnel(history, "channel").row("website_form").steps}
    assert steps["inquiries"].from_previous is None
    assert steps["reached"].from_previous == pytest.approx(e["reached"] / e["inquiries"])
    assert steps["scheduled"].from_previous == pytest.approx(e["scheduled"] / e["reached"])
    assert steps["kept"].from_previous == pytest.approx(e["kept"] / e["prepared"])
    assert steps["kept"].from_inquiries == pytest.approx(e["kept"] / e["inquiries"])


def test_each_dimension_splits_the_same_total(history: list[FunnelCell]) -> None:
    by = {f.dimension: f for f in funnels(history)}
    for f in by.values():
        assert sum(r.counts.inquiries for r in f.rows) == f.total.inquiries
    assert by["campaign"].row("(none)").inquiries > 0
    assert {r.key for r in by["location"].rows} == {"downtown", "eastside"}


def test_grouped_cells_count_like_single_leads(history: list[FunnelCell]) -> None:
    grouped: dict[FunnelCell, int] = {}
    for cell in history:
        grouped[cell] = grouped.get(cell, 0) + 1
    cells = [cell._replace(n=n) for cell, n in grouped.items()]
    assert len(cells) < len(history)
    assert funnel(cells, "channel") == funnel(history, "channel")


def test_an_unknown_dimension_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown funnel dimension 'colour'"):
        funnel([], "colour")


# --- language and services ----------------------------------------------------------------------


def _cells(language: str, n: int, scheduled: int, kept: int) -> list[FunnelCell]:
    base = FunnelCell("website_form", None, None, "primary_care", language, False, "attempting", False, False)
    return [
        base._replace(stage="kept" if i < kept else "scheduled" if i < scheduled else "attempting") for i in range(n)
    ]


def test_spanish_conversion_is_compared_with_english_in_points() -> None:
    cells = _cells("es", 100, scheduled=30, kept=20) + _cells("en", 400, scheduled=200, kept=100)
    result = language_conversion(funnel(cells, "language"))
    es, en = result.row("es"), result.row("en")
    assert es is not None and en is not None
    assert (es.scheduled_rate, en.scheduled_rate) == (0.30, 0.50)
    assert result.scheduled_gap_points == pytest.approx(-20)
    assert result.kept_gap_points == pytest.approx(-5)


def test_services_are_judged_against_openings() -> None:
    cells = (
        [c._replace(service="primary_care") for c in _cells("en", 20, 5, 0)]
        + [c._replace(service="physical_therapy") for c in _cells("en", 60, 30, 10)]
        + [c._replace(service="sleep_study", stage="declined") for c in _cells("en", 4, 0, 0)]
        + [c._replace(service="sleep_study") for c in _cells("en", 10, 0, 0)]
    )
    by_service = funnel(cells, "service")
    verdicts = {
        s.service: (s.demand, s.load, s.verdict)
        for s in service_demand(by_service, {"primary_care": 100, "physical_therapy": 40, "sleep_study": 12})
    }
    assert verdicts["primary_care"] == (20, 0.2, Verdict.PROMOTE_MORE)
    assert verdicts["physical_therapy"] == (60, 1.5, Verdict.PROMOTE_LESS)
    demand, load, verdict = verdicts["sleep_study"]
    assert (demand, verdict) == (10, Verdict.BALANCED)
    assert load == pytest.approx(10 / 12)


def test_without_capacity_every_service_says_no_capacity_data() -> None:
    rows = service_demand(funnel(_cells("en", 5, 1, 0), "service"), None, services=["sleep_study"])
    assert {(r.service, r.verdict) for r in rows} == {
        ("primary_care", Verdict.NO_CAPACITY_DATA),
        ("sleep_study", Verdict.NO_CAPACITY_DATA),
    }


def test_a_booked_out_service_with_demand_needs_less_promotion() -> None:
    (row,) = service_demand(funnel(_cells("en", 3, 0, 0), "service"), {"primary_care": 0})
    assert row.verdict is Verdict.PROMOTE_LESS


# --- speed to lead ------------------------------------------------------------------------------

TARGETS = {"website_form": 15, "paid_search": 5, "referral_partner": 60, "gbp_call": 5}
N_SPEED = 300


def _speed_history(as_of: datetime) -> list[LeadTiming]:
    """Per channel: lead j's first attempt comes j + 1 minutes after receipt, its first contact
    2 (j + 1) minutes after; every tenth lead (j % 10 == 9) arrives on a Sunday (closed). Then 7 never
    attempted leads from the day before ``as_of`` (their target has passed) and 3 from a minute before
    (not due yet)."""
    out = []
    for channel in TARGETS:
        for j in range(N_SPEED):
            created = SUNDAY_10 if j % 10 == 9 else TUESDAY_10
            out.append(
                LeadTiming(
                    channel, created, created + timedelta(minutes=j + 1), created + timedelta(minutes=2 * (j + 1))
                )
            )
        out += [LeadTiming(channel, as_of - timedelta(days=1), None, None)] * 7
        out += [LeadTiming(channel, as_of - timedelta(minutes=1), None, None)] * 3
    return out


@pytest.fixture(scope="module")
def speed(config: HubConfig) -> SpeedToLead:
    as_of = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)  # Thursday 11:00: open
    return speed_to_lead(
        _speed_history(as_of), hours=config.settings.hours, targets=TARGETS, default_target=30, as_of=as_of
    )


@pytest.mark.parametrize("channel", list(TARGETS))
def test_median_and_90th_percentile_follow_the_recipe(speed: SpeedToLead, channel: str) -> None:
    row = next(r for r in speed.rows if r.channel == channel)
    # minutes 1..N: the median is (N + 1) / 2, the 90th percentile 1 + 0.9 (N - 1)
    assert row.attempted == N_SPEED
    assert row.median_attempt_minutes == pytest.approx((N_SPEED + 1) / 2)
    assert row.p90_attempt_minutes == pytest.approx(1 + 0.9 * (N_SPEED - 1))
    assert row.median_contact_minutes == pytest.approx(N_SPEED + 1)
    assert row.p90_contact_minutes == pytest.approx(2 * (1 + 0.9 * (N_SPEED - 1)))


@pytest.mark.parametrize("channel", list(TARGETS))
def test_the_target_is_counted_in_opening_time(speed: SpeedToLead, channel: str) -> None:
    row = next(r for r in speed.rows if r.channel == channel)
    target = TARGETS[channel]
    # Tuesday leads answered within the target; Sunday leads were answered while the clinic was
    # closed, so no opening time passed at all. The 7 overdue unattempted leads are misses.
    within = len({j for j in range(N_SPEED) if j + 1 <= target or j % 10 == 9})
    assert row.leads == N_SPEED + 10
    assert row.due == N_SPEED + 7
    assert row.within_target == within
    assert row.within_target_share == pytest.approx(within / (N_SPEED + 7))
    assert row.target_minutes == target


def test_after_hours_share_counts_inquiries_received_while_closed(speed: SpeedToLead) -> None:
    total = speed.total
    assert total.after_hours == len(TARGETS) * (N_SPEED // 10)
    assert total.after_hours_share == pytest.approx(total.after_hours / total.leads)


def test_the_distribution_puts_every_lead_in_one_bucket(speed: SpeedToLead) -> None:
    total = speed.total
    buckets = {c.name: c.n for c in total.distribution}
    assert sum(buckets.values()) == total.leads
    assert buckets["≤ 5 min"] == 5 * len(TARGETS)
    assert buckets["1–4 h"] == (240 - 60) * len(TARGETS)
    assert buckets["not attempted"] == 10 * len(TARGETS)


def test_working_the_openings_out_once_for_a_span_gives_the_same_answers(config: HubConfig) -> None:
    as_of = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
    history = _speed_history(as_of)
    # Leads across the fall-back change (1 November 2026) too, attempted hours and days later.
    for day in range(20):
        created = datetime(2026, 10, 20, 13, 30, tzinfo=UTC) + timedelta(days=day, minutes=37 * day)
        history.append(LeadTiming("website_form", created, created + timedelta(hours=day * 5 + 1), None))
    plain = speed_to_lead(history, hours=config.settings.hours, targets=TARGETS, default_target=30, as_of=as_of)
    span = (datetime(2026, 10, 20, tzinfo=UTC), as_of)
    fast = speed_to_lead(
        history, hours=config.settings.hours, targets=TARGETS, default_target=30, as_of=as_of, span=span
    )
    assert fast == plain


def test_opening_minutes_skip_lunch_nights_and_sundays(config: HubConfig) -> None:
    hours = config.settings.hours
    assert open_minutes(hours, TUESDAY_10, TUESDAY_10 + timedelta(hours=3)) == 120  # 10–12, then lunch
    assert open_minutes(hours, TUESDAY_10, TUESDAY_10 + timedelta(hours=4)) == 180
    saturday_18 = datetime(2026, 11, 29, 0, 0, tzinfo=UTC)  # Saturday 18:00: closed since 13:00
    monday_0815 = datetime(2026, 11, 30, 14, 15, tzinfo=UTC)
    assert open_minutes(hours, saturday_18, monday_0815) == 15
    assert open_minutes(hours, monday_0815, saturday_18) == 0
    assert open_minutes(hours, TUESDAY_10, TUESDAY_10 + timedelta(days=60), cap=30) > 30


def test_percentile_interpolates_between_closest_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([4.0], 0.9) == 4.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([float(v) for v in range(1, 11)], 0.9) == pytest.approx(9.1)


# --- stalled leads ------------------------------------------------------------------------------

AS_OF = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)

#: (next action, queue, reason code, service, language, attempts, contacted) → how many, and why.
STALLED_RECIPE = [
    (
        ("request_referral_documents", "Referral Coordinators", "intent_referral_coordination", None, "en", 5, False),
        11,
        StallReason.REFERRAL_DOCUMENTS,
    ),
    (
        ("verify_insurance", "Insurance Desk", "intent_insurance_authorization", None, "es", 0, False),
        13,
        StallReason.AUTHORIZATION,
    ),
    (
        ("book_appointment", "Front Desk", "intent_ready_to_schedule", "sleep_study", "en", 4, False),
        7,
        StallReason.BOOKED_OUT,
    ),
    (("triage", "Front Desk", "booked_out", None, "en", 0, False), 5, StallReason.BOOKED_OUT),
    (
        ("book_appointment", "Front Desk", "intent_ready_to_schedule", "primary_care", "en", 3, False),
        17,
        StallReason.NO_ANSWER,
    ),
    (
        ("book_appointment", "Bilingual Team", "intent_language_support", "primary_care", "es", 1, False),
        19,
        StallReason.LANGUAGE_COVERAGE,
    ),
    (
        ("book_appointment", "Front Desk", "intent_ready_to_schedule", "primary_care", "en", 4, True),
        23,
        StallReason.OTHER,
    ),
]


def _stalled_history() -> list[StalledFact]:
    facts = []
    number = 0
    for (kind, queue, reason, service, language, attempts, contacted), n, _ in STALLED_RECIPE:
        for _ in range(n):
            number += 1
            facts.append(
                StalledFact(
                    id=f"nh_s{number:04d}",
                    channel="website_form",
                    service=service,
                    location="downtown",
                    stage="attempting",
                    kind=kind,
                    queue=queue,
                    reason=reason,
                    due_at=AS_OF - timedelta(hours=number),
                    language=language,
                    needs=("language",) if language == "es" else (),
                    contacted=contacted,
                    attempts=attempts,
                )
            )
    return facts


def test_stalled_leads_are_grouped_by_reason_as_constructed() -> None:
    stalled = stalled_leads(
        _stalled_history(), as_of=AS_OF, clinic_language="en", capacity={"sleep_study": 0, "primary_care": 9}
    )
    expected: dict[str, int] = {}
    for _, n, reason in STALLED_RECIPE:
        expected[reason.value] = expected.get(reason.value, 0) + n
    assert stalled.total == sum(n for _, n, _ in STALLED_RECIPE) == 95
    assert {c.name: c.n for c in stalled.by_reason} == expected
    assert stalled.by_reason[0].name == StallReason.OTHER.value
    assert {c.name: c.n for c in stalled.by_queue}["Insurance Desk"] == 13


def test_stalled_groups_list_the_most_overdue_ids_first() -> None:
    stalled = stalled_leads(_stalled_history(), as_of=AS_OF, clinic_language="en", capacity={"sleep_study": 0})
    other = next(g for g in stalled.groups if g.reason is StallReason.OTHER)
    # The "other" leads are the last 23 of the 95, numbered 73..95: 95 is the most overdue.
    assert other.n == 23
    assert other.max_overdue_hours == 95.0
    assert other.lead_ids[:3] == ("nh_s0095", "nh_s0094", "nh_s0093")
    assert len(other.lead_ids) == 10
    assert stalled.leads[0].lead_id == "nh_s0095"


def test_without_capacity_data_a_booking_is_not_called_booked_out() -> None:
    facts = [f for f in _stalled_history() if f.service == "sleep_study"]
    assert {stall_reason(f, clinic_language="en") for f in facts} == {StallReason.NO_ANSWER}


def test_no_answer_takes_the_configured_number_of_attempts() -> None:
    fact = _stalled_history()[11 + 13 + 7 + 5]  # the first of the 17 "no answer" leads: 3 attempts
    assert stall_reason(fact, clinic_language="en", no_answer_attempts=3) is StallReason.NO_ANSWER
    assert stall_reason(fact, clinic_language="en", no_answer_attempts=4) is StallReason.OTHER


# --- repeated questions -------------------------------------------------------------------------


def test_repeated_questions_count_each_flag_once_per_lead() -> None:
    keyword = "insurance_authorization:en:insurance"
    cells = [
        QuestionCell("paid_search", "insurance_authorization", ("insurance",), (keyword, keyword), 30),
        QuestionCell("paid_search", "ready_to_schedule", '["insurance"]', "[]", 5),
        QuestionCell("paid_search", "ready_to_schedule", "[]", "[]", 15),
        QuestionCell("website_form", None, ("language",), ("language_support:es:espanol",), 10),
    ]
    result = repeated_questions(cells)
    paid = next(r for r in result.by_channel if r.channel == "paid_search")
    assert paid.leads == 50
    assert [(c.name, c.n, c.share) for c in paid.intents] == [
        ("insurance_authorization", 30, 0.6),
        ("ready_to_schedule", 20, 0.4),
    ]
    assert [(c.name, c.n) for c in paid.needs] == [("insurance", 35)]
    assert [(c.name, c.n) for c in paid.keywords] == [(keyword, 30)]
    assert result.overall.leads == 60
    assert {c.name: c.n for c in result.overall.intents} == {
        "insurance_authorization": 30,
        "ready_to_schedule": 20,
        "unknown": 10,
    }


# --- follow-up timing and confusion -------------------------------------------------------------

N_TIMING = 400
STEP_TEMPLATES = {"day0_call": "first_response", "day0_text": "missed_call", "day1_call": "first_response"}


def _local(day: int, hour: int, minute: int = 0) -> datetime:
    # December 2026 in Chicago is UTC-6
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC) + timedelta(hours=6)


def _timing_history() -> list[TouchFact]:
    """Lead i: a Day 0 call at 09:10 (reached when i % 4 == 0); a text at 09:40 that the patient
    answers with a reply when i % 4 == 1; a Day 1 call at 15:20 (reached when i % 4 == 2); then, for
    every fifth lead, five more unanswered calls at 18:05 on later days (attempts 4..8)."""
    touches: list[TouchFact] = []
    for i in range(N_TIMING):
        lead = f"nh_t{i:04d}"
        touches.append(TouchFact(lead, _local(1, 9, 10), "reached" if i % 4 == 0 else "missed", True, "day0_call"))
        touches.append(TouchFact(lead, _local(1, 9, 40), "texted", True, "day0_text"))
        if i % 4 == 1:
            touches.append(TouchFact(lead, _local(1, 11, 0), "replied", False, None))
        touches.append(TouchFact(lead, _local(2, 15, 20), "reached" if i % 4 == 2 else "missed", True, "day1_call"))
        if i % 5 == 0:
            touches += [TouchFact(lead, _local(3 + k, 18, 5), "missed", True, None) for k in range(5)]
    return touches


@pytest.fixture(scope="module")
def timing_cells(config: HubConfig) -> Cells:
    return attempt_cells(_timing_history(), hours=config.settings.hours)


def test_reach_rate_by_attempt_number_follows_the_recipe(timing_cells: Cells) -> None:
    timing = follow_up_timing(timing_cells[0])
    rates = {r.key: (r.attempts, r.reached) for r in timing.by_attempt}
    quarter, fifth = N_TIMING // 4, N_TIMING // 5
    assert rates["1"] == (N_TIMING, quarter)
    assert rates["2"] == (N_TIMING, quarter)  # answered by a reply
    assert rates["3"] == (N_TIMING, quarter)
    assert rates["4"] == (fifth, 0)
    assert rates["6+"] == (3 * fifth, 0)  # attempts 6, 7 and 8
    assert timing.attempts == 3 * N_TIMING + 5 * fifth


def test_reach_rate_by_local_hour_and_part_of_day(timing_cells: Cells) -> None:
    timing = follow_up_timing(timing_cells[0], min_sample=50)
    hours = {r.key: (r.attempts, r.reached) for r in timing.by_hour}
    assert hours == {
        "09:00": (2 * N_TIMING, N_TIMING // 2),
        "15:00": (N_TIMING, N_TIMING // 4),
        "18:00": (N_TIMING, 0),
    }
    parts = {r.key: r.rate for r in timing.by_part_of_day}
    assert parts == {"morning": 0.25, "afternoon": 0.25, "evening": 0.0}
    assert timing.best_hour is not None and timing.best_hour.key == "09:00"
    assert timing.best_step is not None and timing.best_step.rate == 0.25


def test_a_best_hour_needs_enough_attempts(timing_cells: Cells) -> None:
    timing = follow_up_timing(timing_cells[0], min_sample=10_000)
    assert timing.best_hour is None


def test_confusion_counts_replies_right_after_each_template(timing_cells: Cells) -> None:
    cells, replies = timing_cells
    result = confusion(cells, replies, step_templates=STEP_TEMPLATES)
    rows = {r.template: r for r in result.rows}
    assert rows["missed_call"].sends == N_TIMING
    assert rows["missed_call"].questions == N_TIMING // 4
    assert rows["missed_call"].rate == 0.25
    assert rows["missed_call"].leads == N_TIMING // 4
    assert rows["missed_call"].lead_ids[:2] == ("nh_t0001", "nh_t0005")
    assert rows["first_response"].sends == 2 * N_TIMING
    assert rows["first_response"].questions == 0
    assert result.worst is not None and result.worst.template == "missed_call"
    assert result.leads == N_TIMING // 4


def test_local_hours_follow_daylight_saving_time(config: HubConfig) -> None:
    # 14:30 UTC is 09:30 in Chicago on 31 October (CDT) and 08:30 on 2 November (CST).
    touches = [
        TouchFact("a", datetime(2026, 10, 31, 14, 30, tzinfo=UTC), "missed", True, None),
        TouchFact("b", datetime(2026, 11, 2, 14, 30, tzinfo=UTC), "missed", True, None),
    ]
    cells, _ = attempt_cells(touches, hours=config.settings.hours)
    assert sorted(c.hour for c in cells) == [8, 9]


# --- trend and periods --------------------------------------------------------------------------


def test_trend_fills_missing_weeks_with_zeros() -> None:
    points = trend([TrendCell(0, 5, 2, 1, 1), TrendCell(2, 7, 3, 2, 0)], ["2026-W46", "2026-W47", "2026-W48"])
    assert [(p.week, p.inquiries) for p in points] == [("2026-W46", 5), ("2026-W47", 0), ("2026-W48", 7)]


def test_an_iso_week_runs_from_local_monday_midnight() -> None:
    week = Period.iso_week("2026-W48", CHICAGO)
    assert week.start == datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    assert week.end == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    # the week with the fall-back change has 169 hours
    dst = Period.iso_week("2026-W44", CHICAGO)
    assert dst.end - dst.start == timedelta(hours=169)
    assert [w.label for w in week.weeks_back(3, CHICAGO)] == ["2026-W46", "2026-W47", "2026-W48"]


@pytest.mark.parametrize("bad", ["2026-48", "2026-W54", "W48", ""])
def test_a_malformed_week_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"ISO week|week of that year"):
        Period.iso_week(bad, CHICAGO)


def _reference_speed(leads: list[LeadTiming], hours: Any, as_of: datetime) -> dict[str, tuple[Any, ...]]:
    """Speed to lead by its definition, one lead at a time with datetimes (no calendar, no
    timestamps): what the dashboard's fast path must equal."""
    out: dict[str, list[Any]] = {}
    for lead in leads:
        target = TARGETS.get(lead.channel, 30)
        row = out.setdefault(lead.channel, [0, 0, 0, 0, [], [], [0] * 8])
        row[0] += 1
        row[3] += not hours.is_open(lead.created_at)
        if lead.first_attempt_at is not None:
            minutes = max(0.0, (lead.first_attempt_at - lead.created_at).total_seconds() / 60)
            row[6][next(i for i, b in enumerate((5, 15, 30, 60, 240, 1440, math.inf)) if minutes <= b)] += 1
            row[4].append(minutes)
            row[1] += 1
            row[2] += open_minutes(hours, lead.created_at, lead.first_attempt_at) <= target
        else:
            row[6][7] += 1
            row[1] += open_minutes(hours, lead.created_at, as_of) > target
        if lead.first_contact_at is not None:
            row[5].append(max(0.0, (lead.first_contact_at - lead.created_at).total_seconds() / 60))
    return {
        c: (r[0], r[1], r[2], r[3], percentile(sorted(r[4]), 0.5), percentile(sorted(r[4]), 0.9),
            percentile(sorted(r[5]), 0.9), tuple(r[6]))
        for c, r in out.items()
    }  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.sampled_from([*TARGETS, "webinar"]),
            st.integers(0, 60 * 24 * 40 * 60 * 10**6),  # µs after 20 Oct 2026 (across the fall-back change)
            st.one_of(
                st.none(),
                st.sampled_from([0, 1, 300 * 10**6, 300 * 10**6 + 1, 900 * 10**6]),
                st.integers(0, 3 * 24 * 3600 * 10**6),
            ),
            st.one_of(st.none(), st.integers(0, 5 * 24 * 3600 * 10**6)),
        ),
        max_size=40,
    ),
    st.booleans(),
)
def test_the_fast_speed_path_equals_the_definition_to_the_microsecond(
    config: HubConfig, raw: list[tuple[str, int, int | None, int | None]], with_span: bool
) -> None:
    start = datetime(2026, 10, 20, tzinfo=UTC)
    as_of = start + timedelta(days=45)
    leads = [
        LeadTiming(
            channel, start + timedelta(microseconds=at),
            None if attempt is None else start + timedelta(microseconds=at + attempt),
            None if contact is None else start + timedelta(microseconds=at + contact),
        )
        for channel, at, attempt, contact in raw
    ]  # fmt: skip
    hours = config.settings.hours
    got = speed_to_lead(
        leads, hours=hours, targets=TARGETS, default_target=30, as_of=as_of, span=(start, as_of) if with_span else None
    )
    rows = {
        r.channel: (r.leads, r.due, r.within_target, r.after_hours, r.median_attempt_minutes, r.p90_attempt_minutes,
                    r.p90_contact_minutes, tuple(c.n for c in r.distribution))
        for r in got.rows
    }  # fmt: skip
    assert rows == _reference_speed(leads, hours, as_of)


@pytest.mark.parametrize("micros", [0, 1, 123_456, 999_999])
def test_an_attempt_exactly_at_the_target_is_within_it_on_the_fast_path(config: HubConfig, micros: int) -> None:
    created = TUESDAY_10 + timedelta(minutes=7, microseconds=micros)  # open; paid search's target is 5 minutes
    leads = [LeadTiming("paid_search", created, created + timedelta(minutes=5), None)]
    span = (TUESDAY_10 - timedelta(days=2), TUESDAY_10 + timedelta(days=2))
    for given_span in (None, span):
        got = speed_to_lead(
            leads, hours=config.settings.hours, targets=TARGETS, default_target=30, as_of=span[1], span=given_span
        )
        assert (got.total.due, got.total.within_target) == (1, 1)
        assert got.total.distribution[0].n == 1  # "≤ 5 min"
