"""The review's queries, on SQLite and on PostgreSQL: what SQL counts equals what the pure measures
count from the same rows, and the cohort, week edges, filters and stalled leads are the right ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from hub.review import Filters, Period, dashboard_measures, queries, todays_queues
from hub.review.measures.funnel import funnels
from hub.review.measures.touches import attempt_cells
from hub.settings.config import HubConfig
from hub.store import Store
from tests.hub.review.history import NOW, WEEK, WEEK_START, History, build, store_history

CHICAGO = "America/Chicago"


@pytest.fixture(scope="module")
def history() -> History:
    return build()


@pytest.fixture
def seeded(store: Store, history: History) -> Store:
    store_history(store, history)
    return store


def test_the_week_holds_the_leads_created_in_it_in_local_time(seeded: Store, history: History) -> None:
    week = Period.iso_week(WEEK, CHICAGO)
    with seeded.session() as s:
        total = funnels(queries.funnel_cells(s, week, Filters()), ("channel",))[0].total
    expected = history.cohort(week.start, week.end)
    # 200 generated leads less 4 duplicates, plus Sunday 23:30 and the declined lead; Monday 00:30
    # (next week) and Sunday 23:59 of the week before are out.
    assert total.inquiries == len(expected) == 200 - 4 + 2


@pytest.mark.parametrize(
    "filters", [Filters(), Filters(channel="paid_search"), Filters(location="eastside", service="sleep_study")]
)
def test_the_funnel_counted_in_sql_equals_the_funnel_of_single_leads(
    seeded: Store, history: History, filters: Filters
) -> None:
    week = Period.iso_week(WEEK, CHICAGO)
    with seeded.session() as s:
        from_sql = funnels(queries.funnel_cells(s, week, filters))
    assert from_sql == funnels(history.funnel_cells(week.start, week.end, **filters.active))
    assert from_sql[0].total.inquiries > 0


@pytest.mark.parametrize(
    "period",
    [
        Period.iso_week(WEEK, CHICAGO),
        # four weeks across the fall-back change of 1 November
        Period.local_days(datetime(2026, 10, 26).date(), datetime(2026, 11, 29).date(), CHICAGO),
    ],
)
def test_attempts_counted_in_sql_equal_the_reference_count(
    seeded: Store, history: History, config: HubConfig, period: Period
) -> None:
    with seeded.session() as s:
        cells, replies = queries.attempt_cells(s, period, Filters(), timezone=CHICAGO, as_of=NOW)
    expected_cells, expected_replies = attempt_cells(
        history.touch_facts(period.start, period.end), hours=config.settings.hours
    )
    assert sorted(cells) == sorted(expected_cells)
    assert replies == expected_replies
    assert sum(c.attempts for c in cells) > 0
    with seeded.session() as s:  # the dashboard, which shows no confusion measure, skips the replies
        alone, none = queries.attempt_cells(s, period, Filters(), timezone=CHICAGO, as_of=NOW, replies=False)
    assert (sorted(alone), none) == (sorted(expected_cells), [])


def test_local_hours_in_sql_cross_the_daylight_saving_change(seeded: Store) -> None:
    # The trend leads' touches sit at 06:30, 07:30 and 08:30 UTC on 1 November: 01:30 CDT, then
    # 01:30 and 02:30 CST after the clocks fell back at 07:00 UTC.
    period = Period.local_days(datetime(2026, 10, 26).date(), datetime(2026, 11, 22).date(), CHICAGO)
    with seeded.session() as s:
        cells, _ = queries.attempt_cells(s, period, Filters(channel="website_form"), timezone=CHICAGO, as_of=NOW)
    assert {c.hour for c in cells if c.step is None} == {1, 2}


def test_questions_are_grouped_in_sql_by_their_json_lists(seeded: Store, history: History) -> None:
    week = Period.iso_week(WEEK, CHICAGO)
    with seeded.session() as s:
        cells = list(queries.question_cells(s, week, Filters()))
    assert sum(c.n for c in cells) == len(history.cohort(week.start, week.end))
    assert len(cells) < sum(c.n for c in cells)


def test_stalled_leads_are_open_leads_whose_next_action_is_overdue(seeded: Store, history: History) -> None:
    with seeded.session() as s:
        facts = list(queries.stalled_facts(s, Filters(), as_of=NOW))
    assert sorted(f.id for f in facts) == history.stalled(NOW)
    attempts = history.stalled_attempts()
    assert all(f.attempts == attempts.get(f.id, 0) for f in facts)
    assert any(f.reason == "booked_out" for f in facts)
    assert all(f.due_at < NOW for f in facts)


def test_the_trend_counts_weeks_cut_at_local_midnight(seeded: Store, history: History) -> None:
    week = Period.iso_week(WEEK, CHICAGO)
    weeks = week.weeks_back(5, CHICAGO)
    with seeded.session() as s:
        cells = {c.week: c for c in queries.trend_cells(s, weeks, Filters())}
    for i, w in enumerate(weeks):
        expected = history.cohort(w.start, w.end)
        assert (cells[i].inquiries if i in cells else 0) == len(expected), w.label
    # week 47 holds its 9 generated leads and the one at Sunday 23:59
    assert cells[3].inquiries == 10
    assert cells[4].kept == sum(1 for r in history.cohort(week.start, week.end) if r["stage"] == "kept")


def test_dashboard_measures_filter_every_measure(seeded: Store, config: HubConfig) -> None:
    week = Period.iso_week(WEEK, CHICAGO)
    with seeded.session() as s:
        everything = dashboard_measures(s, config, week, now=NOW)
        paid = dashboard_measures(s, config, week, Filters(channel="paid_search"), now=NOW)
    assert {r.key for r in paid.funnel("channel").rows} == {"paid_search"}
    assert paid.funnel("channel").total.inquiries < everything.funnel("channel").total.inquiries
    assert paid.speed.total.leads == paid.funnel("channel").total.inquiries
    assert all(lead.channel == "paid_search" for lead in paid.stalled.leads)
    assert 0 < paid.timing.attempts < everything.timing.attempts
    assert sum(p.inquiries for p in paid.trend) < sum(p.inquiries for p in everything.trend)


def test_todays_queues_count_overdue_and_due_soon_next_actions(seeded: Store, history: History) -> None:
    with seeded.session() as s:
        queues = todays_queues(s, now=NOW, soon=timedelta(hours=2))
        filtered = todays_queues(s, now=NOW, filters=Filters(location="eastside"))
    assert queues.overdue_total == len(history.stalled(NOW))
    assert sum(c.n for c in queues.overdue) == queues.overdue_total
    assert queues.due_soon_total == sum(1 for r in history.leads if r["next_action_due_at"] == NOW + timedelta(hours=1))
    assert queues.overdue_leads[0].minutes >= queues.overdue_leads[-1].minutes
    assert 0 < filtered.overdue_total < queues.overdue_total


def test_an_empty_store_gives_empty_measures(store: Store, config: HubConfig) -> None:
    week = Period.iso_week(WEEK, CHICAGO)
    with store.session() as s:
        m = dashboard_measures(s, config, week, now=datetime(2026, 11, 30, 20, 0, tzinfo=UTC))
    assert m.funnel("channel").total.inquiries == 0
    assert m.speed.total.median_attempt_minutes is None
    assert m.timing.attempts == 0
    assert m.stalled.total == 0
    assert [p.inquiries for p in m.trend] == [0] * 8
    assert week.start == WEEK_START


def test_reads_run_together_see_one_snapshot_whatever_commits_meanwhile(store: Store) -> None:
    """The dashboard's reads run at once on PostgreSQL: a row committed while they run is seen by
    none of them (they share the snapshot of the transaction that started them)."""
    from sqlalchemy import func, insert, select

    from hub.store.models import JobRunRow

    def runs(s: Session) -> int:
        return int(s.scalar(select(func.count()).select_from(JobRunRow)) or 0)

    def commit_one_then_count(s: Session) -> int:
        with store.engine.begin() as other:  # another process's write, committed meanwhile
            other.execute(insert(JobRunRow).values(job="cadence", tick=NOW, started_at=NOW, runner="elsewhere"))
        return runs(s)

    with store.read() as session:
        before = runs(session)
        here, (elsewhere, again) = queries.read_together(session, runs, commit_one_then_count, runs)
    assert (before, here, elsewhere, again) == (0, 0, 0, 0)
    with store.read() as session:
        assert runs(session) == 1


def test_reads_together_see_the_transactions_own_writes_and_work_inside_a_savepoint(store: Store) -> None:
    """A snapshot leaves out the exporting transaction's own writes, and a savepoint cannot export
    one: then the reads run one after another in the session, and see what it wrote."""
    from sqlalchemy import func, select

    from hub.store.models import JobRunRow

    def runs(s: Session) -> int:
        return int(s.scalar(select(func.count()).select_from(JobRunRow)) or 0)

    with store.tx() as session:
        session.add(JobRunRow(job="cadence", tick=NOW, started_at=NOW, runner="here"))
        session.flush()
        assert queries.read_together(session, runs, runs) == (1, [1])
        with session.begin_nested():
            assert queries.read_together(session, runs, runs) == (1, [1])
    with store.read() as session:
        assert queries.read_together(session, runs, runs) == (1, [1])
