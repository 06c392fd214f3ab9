"""The weekly review: six answers, and the page, the CSV and the PDF that carry them."""

from __future__ import annotations

import csv
import io
import re
import zlib
from collections.abc import Iterator

import pytest

from hub.review import WeeklyReview, build_weekly, render_csv, render_html, render_pdf
from hub.settings.config import HubConfig
from hub.store import Store
from tests.canary import CANARIES
from tests.hub.review.history import NOW, WEEK, build, store_history

SIX = ("channels", "stalled", "questions", "confusion", "services", "timing")
CAPACITY = {"primary_care": 200, "physical_therapy": 20, "sleep_study": 0}


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('weekly') / 'hub.sqlite3'}")
    store.migrate()
    store_history(store, build())
    yield store
    store.dispose()


@pytest.fixture(scope="module")
def review(sqlite_store: Store, config: HubConfig) -> WeeklyReview:
    with sqlite_store.session() as s:
        return build_weekly(s, config, WEEK, now=NOW, capacity=CAPACITY)


@pytest.fixture(scope="module")
def pdf_text(review: WeeklyReview) -> str:
    data = render_pdf(review)
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S)
    return "\n".join(zlib.decompress(s).decode("latin-1") for s in streams if s[:1] == b"x")


def test_the_review_answers_the_six_questions(review: WeeklyReview) -> None:
    assert tuple(a.key for a in review.answers) == SIX
    assert all(a.answer and a.question.endswith("?") for a in review.answers)
    assert review.week == WEEK
    assert "scheduling-ready" in review.answer("channels").answer


def test_the_answers_carry_the_measures(review: WeeklyReview) -> None:
    m = review.measures
    assert f"{m.stalled.total} open leads have an overdue next action" in review.answer("stalled").answer
    assert "booked out" in review.answer("stalled").answer
    # every third lead replied right after its Day 0 text, whose template is missed_call
    assert "Missed call" in review.answer("confusion").answer
    assert "Promote less: " in review.answer("services").answer
    assert "Sleep study (demand" in review.answer("services").answer
    assert "Insurance or authorization" in review.answer("questions").answer
    assert f"{m.timing.attempts} attempts" in review.answer("timing").answer


def test_without_capacity_the_services_answer_says_so(sqlite_store: Store, config: HubConfig) -> None:
    with sqlite_store.session() as s:
        review = build_weekly(s, config, WEEK, now=NOW)
    assert review.answer("services").answer.startswith("No capacity data")


def test_postgresql_and_sqlite_give_the_same_review(store: Store, config: HubConfig, review: WeeklyReview) -> None:
    store_history(store, build())
    with store.session() as s:
        again = build_weekly(s, config, WEEK, now=NOW, capacity=CAPACITY)
    assert again.answers == review.answers
    assert again.measures == review.measures


def test_a_malformed_week_is_refused(sqlite_store: Store, config: HubConfig) -> None:
    with sqlite_store.session() as s, pytest.raises(ValueError, match="2026-48"):
        build_weekly(s, config, "2026-48", now=NOW)


def test_the_page_holds_the_six_answers_and_its_charts(review: WeeklyReview) -> None:
    page = render_html(review)
    for a in review.answers:
        assert f'<section id="{a.key}">' in page
        assert a.question in page
    assert page.count("<svg") >= 6
    assert page.count('class="bar"') > 20
    for headline in review.headline:
        assert headline.value in page


def test_the_page_is_self_contained(review: WeeklyReview) -> None:
    page = render_html(review)
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<style>" in page


def test_the_page_shows_lead_ids_never_phi(review: WeeklyReview) -> None:
    page = render_html(review, lead_link="/admin/leads/{id}")
    assert '<a href="/admin/leads/nh_h' in page
    for canary in CANARIES:
        assert canary not in page


def test_the_csv_parses_into_one_section_per_measure(review: WeeklyReview) -> None:
    rows = list(csv.reader(io.StringIO(render_csv(review))))
    sections: dict[str, list[list[str]]] = {}
    current = None
    for row in rows:
        if row[:1] == ["section"]:
            current = row[1]
            sections[current] = []
        elif row and current is not None:
            sections[current].append(row)
    assert {
        "headline",
        "answers",
        "funnel_by_channel",
        "funnel_by_campaign",
        "funnel_by_location",
        "funnel_by_service",
        "funnel_by_language",
        "speed_to_lead",
        "speed_distribution",
        "stalled_by_reason",
        "stalled_groups",
        "stalled_leads",
        "repeated_questions",
        "confusion",
        "services",
        "timing_by_attempt",
        "timing_by_hour",
        "timing_by_part_of_day",
        "timing_by_step",
        "language",
        "trend",
    } <= set(sections)
    header, *data = sections["funnel_by_channel"]
    total = dict(zip(header, data[-1], strict=True))
    assert total["channel"] == "all"
    assert int(total["inquiries"]) == review.measures.funnel("channel").total.inquiries
    assert len(sections["stalled_leads"]) - 1 == len(review.measures.stalled.leads)
    assert [r[0] for r in sections["answers"][1:]] == list(SIX)
    text = render_csv(review)
    for canary in CANARIES:
        assert canary not in text


def test_the_pdf_opens_and_holds_the_headline_figures(review: WeeklyReview, pdf_text: str) -> None:
    data = render_pdf(review)
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    assert f"Weekly review {WEEK}" in pdf_text
    total = review.measures.funnel("channel").total
    for figure in review.headline:
        assert f"({figure.name})" in pdf_text
    assert f"({total.inquiries})" in pdf_text
    assert "Which services need more or less promotion?" in pdf_text
    for canary in CANARIES:
        assert canary not in pdf_text
