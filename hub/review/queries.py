"""The queries behind the review: exactly the columns each measure needs, streamed.

Counting that SQL does as well on SQLite as on PostgreSQL is left to SQL (the funnel, the repeated
questions and the weekly trend are ``GROUP BY`` queries that return a few hundred rows however many
leads there are); what needs the clinic's opening hours, its time zone or exact percentiles (speed to
lead, follow-up timing, stalled reasons) is streamed row by row (``yield_per``) into the pure
functions of :mod:`hub.review.measures`. Every query touches only indexed ranges: the cohort by
``leads.created_at``, touches by ``touches.lead_id``, stalled leads by ``leads.next_action_due_at``.

No PHI is selected: ids, codes and times only.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Executable,
    Float,
    Integer,
    String,
    Text,
    case,
    cast,
    extract,
    func,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from hub.review.measures.funnel import READY_INTENTS, SCHEDULED_STAGES, FunnelCell
from hub.review.measures.questions import QuestionCell
from hub.review.measures.speed import LeadClock, LeadTiming
from hub.review.measures.stalled import StalledFact
from hub.review.measures.touches import MAX_ATTEMPT_LABEL, AttemptCell, ReplyFact, TouchFact
from hub.review.measures.trend import TrendCell
from hub.review.period import Filters, Period
from hub.store.models import LeadRow, TouchRow
from hub.store.reads import driver_rows, read_together  # read_together: the store's, named here too
from nurture.clock import zone
from nurture.vocab import CLOSED_STAGES, Stage, TouchOutcome

__all__ = [
    "attempt_cells",
    "funnel_cells",
    "lead_clocks",
    "lead_timings",
    "question_cells",
    "read_together",
    "reply_facts",
    "stalled_facts",
    "touch_facts",
    "trend_cells",
]

#: Rows fetched per round trip when streaming.
BATCH = 5000


def _stream(session: Session, statement: Executable) -> Iterator[Any]:
    result = session.execute(statement, execution_options={"yield_per": BATCH})
    try:
        yield from result
    finally:
        result.close()


def filter_conditions(filters: Filters) -> list[ColumnElement[bool]]:
    """SQL conditions on ``leads`` for ``filters``."""
    out: list[ColumnElement[bool]] = []
    if filters.channel is not None:
        out.append(LeadRow.channel == filters.channel)
    if filters.location is not None:
        out.append(LeadRow.location == filters.location)
    if filters.service is not None:
        out.append(LeadRow.service == filters.service)
    return out


def cohort_conditions(period: Period, filters: Filters) -> list[ColumnElement[bool]]:
    """The leads created in ``period`` that pass ``filters``, duplicates left out."""
    return [
        LeadRow.created_at >= period.start,
        LeadRow.created_at < period.end,
        LeadRow.stage != Stage.DUPLICATE.value,
        *filter_conditions(filters),
    ]


def funnel_cells(session: Session, period: Period, filters: Filters) -> Iterator[FunnelCell]:
    """The cohort grouped by every attribute the funnels look at, with counts."""
    contacted = LeadRow.first_contact_at.is_not(None).label("contacted")
    booked = LeadRow.booked_at.is_not(None).label("booked")
    ready = LeadRow.intent.in_([i.value for i in READY_INTENTS]).label("ready")
    keys = (
        LeadRow.channel,
        LeadRow.campaign,
        LeadRow.location,
        LeadRow.service,
        LeadRow.preferred_language,
        ready,
        LeadRow.stage,
        contacted,
        booked,
    )
    statement = select(*keys, func.count().label("n")).where(*cohort_conditions(period, filters)).group_by(*keys)
    for row in _stream(session, statement):
        yield FunnelCell(
            channel=row[0],
            campaign=row[1],
            location=row[2],
            service=row[3],
            language=row[4],
            ready=bool(row[5]),
            stage=row[6],
            contacted=bool(row[7]),
            booked=bool(row[8]),
            n=int(row[9]),
        )


def lead_clocks(session: Session, period: Period, filters: Filters) -> Iterator[LeadClock]:
    """Each cohort lead's speed-to-lead clock as timestamps. PostgreSQL gives them as doubles
    (``date_part('epoch', …)``: the doubles ``datetime.timestamp()`` gives), so 100,000 leads cost
    no datetime each; SQLite's text times are read as datetimes and turned into the same."""
    if session.get_bind().dialect.name != "postgresql":
        for timing in lead_timings(session, period, filters):
            yield timing.clock()
        return
    epochs = [
        func.date_part("epoch", column, type_=Float)
        for column in (LeadRow.created_at, LeadRow.first_attempt_at, LeadRow.first_contact_at)
    ]
    statement = select(LeadRow.channel, *epochs).where(*cohort_conditions(period, filters))
    for row in driver_rows(session, statement):
        yield LeadClock(*row)


def lead_timings(session: Session, period: Period, filters: Filters) -> Iterator[LeadTiming]:
    """Each cohort lead's speed-to-lead clock."""
    times: list[Any] = [LeadRow.created_at, LeadRow.first_attempt_at, LeadRow.first_contact_at]
    if session.get_bind().dialect.name == "postgresql":
        # psycopg already returns aware datetimes: skip the per-value conversion (100,000s of rows).
        times = [type_coerce(t, DateTime(timezone=True)) for t in times]
    statement = select(LeadRow.channel, *times).where(*cohort_conditions(period, filters))
    for row in _stream(session, statement):
        yield LeadTiming(*row)


def question_cells(session: Session, period: Period, filters: Filters) -> Iterator[QuestionCell]:
    """The cohort grouped by channel, intent, needs and fired keywords (the lists as JSON text)."""
    needs = cast(LeadRow.needs, Text)
    keywords = cast(LeadRow.triage_keywords, Text)
    statement = (
        select(LeadRow.channel, LeadRow.intent, needs, keywords, func.count())
        .where(*cohort_conditions(period, filters))
        .group_by(LeadRow.channel, LeadRow.intent, needs, keywords)
    )
    for row in _stream(session, statement):
        yield QuestionCell(channel=row[0], intent=row[1], needs=row[2] or "", keywords=row[3] or "", n=int(row[4]))


def stalled_facts(session: Session, filters: Filters, *, as_of: datetime) -> Iterator[StalledFact]:
    """Open leads (any creation date) whose next action was due before ``as_of``, with their
    outbound attempt counts."""
    attempts = (
        select(func.count())
        .select_from(TouchRow)
        .where(TouchRow.lead_id == LeadRow.id, TouchRow.outbound.is_(True))
        .scalar_subquery()
    )
    statement = select(
        LeadRow.id,
        LeadRow.channel,
        LeadRow.service,
        LeadRow.location,
        LeadRow.stage,
        LeadRow.next_action_kind,
        LeadRow.next_action_queue,
        LeadRow.next_action_reason,
        LeadRow.next_action_due_at,
        LeadRow.preferred_language,
        cast(LeadRow.needs, Text),
        LeadRow.first_contact_at.is_not(None),
        attempts,
    ).where(
        LeadRow.next_action_due_at < as_of,
        LeadRow.next_action_kind.is_not(None),
        LeadRow.stage.not_in([s.value for s in CLOSED_STAGES]),
        *filter_conditions(filters),
    )
    needs: dict[str, tuple[str, ...]] = {}  # JSON text → flags, parsed once per distinct list
    for row in _stream(session, statement):
        text = row[10] or "[]"
        flags = needs.get(text)
        if flags is None:
            flags = needs[text] = tuple(str(v) for v in json.loads(text))
        yield StalledFact(
            id=row[0],
            channel=row[1],
            service=row[2],
            location=row[3],
            stage=row[4],
            kind=row[5],
            queue=row[6] or "",
            reason=row[7],
            due_at=row[8],
            language=row[9],
            needs=flags,
            contacted=bool(row[11]),
            attempts=int(row[12]),
        )


def _utc_offsets(timezone: str, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """The clinic's UTC offset (minutes) over [start, end]: ``(from, offset)`` pairs, the first
    ``from`` being ``start``; each later one the exact instant of a daylight-saving change."""
    tz = zone(timezone)

    def offset(at: datetime) -> int:
        delta = at.astimezone(tz).utcoffset()
        return int(delta.total_seconds() // 60) if delta is not None else 0

    out = [(start, offset(start))]
    day = start
    while day < end:
        following = min(day + timedelta(days=1), end)
        if offset(following) != out[-1][1]:
            low, high = day, following  # offset(low) is the current one, offset(high) the new one
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if offset(middle) == out[-1][1] else (low, middle)
            out.append((high.replace(microsecond=0), offset(following)))
        day = following
    return out


def local_hour(session: Session, column: Any, timezone: str, start: datetime, end: datetime) -> ColumnElement[int]:
    """SQL for the local hour (0–23) of the UTC time ``column`` in ``timezone``: the offset in
    force added to it, from a CASE over the daylight-saving changes between ``start`` and ``end``
    (computed with the same zoneinfo data the rest of the hub uses); times outside the span take
    the nearest offset on SQLite, which has no time-zone database (it adds the offset as a
    modifier). On PostgreSQL the span's times are integer arithmetic on the epoch, cheaper than
    converting 850,000 touch times with ``timezone()`` (600 → 450 ms for the dashboard's attempts),
    and times before it are converted exactly.
    """
    offsets = _utc_offsets(timezone, start, end)
    if session.get_bind().dialect.name == "postgresql":
        seconds: ColumnElement[int] = literal(offsets[-1][1] * 60, Integer)
        if len(offsets) > 1:
            seconds = case(
                *(
                    (column < until, literal(minutes * 60, Integer))
                    for (_, minutes), (until, _) in itertools.pairwise(offsets)
                ),
                else_=literal(offsets[-1][1] * 60, Integer),
            )
        local = func.date_part("epoch", column, type_=Float) + seconds
        by_offset = cast(func.mod(cast(func.floor(local / 3600), BigInteger), 24), Integer)
        # Outside the span (a touch read from a CRM before the cohort began, say) PostgreSQL's own
        # conversion answers exactly; those rows are few.
        exact = cast(extract("hour", func.timezone(timezone, column)), Integer)
        return case((column < start, exact), else_=by_offset)  # (no touch is later than the present)
    modifier: ColumnElement[str] = literal(f"{offsets[-1][1]:+d} minutes", String)
    if len(offsets) > 1:
        modifier = case(
            *(
                (column < until, literal(f"{minutes:+d} minutes", String))
                for (_, minutes), (until, _) in itertools.pairwise(offsets)
            ),
            else_=literal(f"{offsets[-1][1]:+d} minutes", String),
        )
    # Whole seconds: SQLite rounds fractions to milliseconds, and 59.9996 s must not become the next hour.
    return cast(func.strftime("%H", func.substr(column, 1, 19), modifier), Integer)


#: Inquiry touches are not answers to an attempt: the follow-up timing measures leave them out.
_INQUIRED = TouchOutcome.INQUIRED.value


def attempt_cells(
    session: Session, period: Period, filters: Filters, *, timezone: str, as_of: datetime, replies: bool = True
) -> tuple[list[AttemptCell], list[ReplyFact]]:
    """The cohort's attempts counted in SQL, by attempt number, local hour and step; and the leads
    that replied right after a step (as :func:`hub.review.measures.touches.attempt_cells` counts them), or
    none when ``replies`` is false (only the confusion measure reads them: a second scan saved).

    Each touch keeps its place in its lead's sequence (``touches.attempt``, ``answered``,
    ``replied_next``: :func:`hub.store.repo.renumber_touches`), so this is one ``GROUP BY`` over
    the cohort's outbound touches; the grouping leaves a few hundred rows however many touches
    there are.
    """
    hour = local_hour(session, TouchRow.at, timezone, period.start, max(as_of, period.end))
    attempt = case((TouchRow.attempt > MAX_ATTEMPT_LABEL, MAX_ATTEMPT_LABEL), else_=TouchRow.attempt)
    reached = or_(TouchRow.outcome == TouchOutcome.REACHED.value, TouchRow.answered.is_(True))
    outbound = [TouchRow.outbound.is_(True), *cohort_conditions(period, filters)]
    cell_rows = (
        select(
            attempt,
            hour,
            TouchRow.step,
            func.count(),
            func.sum(case((reached, 1), else_=0)),
            func.sum(case((TouchRow.replied_next.is_(True), 1), else_=0)),
        )
        .join(LeadRow, LeadRow.id == TouchRow.lead_id)
        .where(*outbound)
        .group_by(attempt, hour, TouchRow.step)
    )
    cells = [
        AttemptCell(
            attempt=int(r[0] or 1),
            hour=int(r[1]),
            step=r[2],
            attempts=int(r[3]),
            reached=int(r[4] or 0),
            questions=int(r[5] or 0),
        )
        for r in _stream(session, cell_rows)
    ]
    return cells, reply_facts(session, period, filters) if replies else []


def reply_facts(session: Session, period: Period, filters: Filters) -> list[ReplyFact]:
    """The cohort's leads that replied right after a step (the confusion measure's facts)."""
    reply_rows = (
        select(TouchRow.step, TouchRow.lead_id)
        .join(LeadRow, LeadRow.id == TouchRow.lead_id)
        .where(
            TouchRow.outbound.is_(True), *cohort_conditions(period, filters), TouchRow.step.is_not(None),
            TouchRow.replied_next.is_(True),
        )
        .distinct()
    )  # fmt: skip
    return sorted(ReplyFact(step=r[0], lead_id=r[1]) for r in _stream(session, reply_rows))


def touch_facts(session: Session, period: Period, filters: Filters) -> Iterator[TouchFact]:
    """Every touch of the cohort's leads, by lead and in time order."""
    statement = (
        select(TouchRow.lead_id, TouchRow.at, TouchRow.outcome, TouchRow.outbound, TouchRow.step)
        .join(LeadRow, LeadRow.id == TouchRow.lead_id)
        .where(*cohort_conditions(period, filters), TouchRow.outcome != _INQUIRED)
        .order_by(TouchRow.lead_id, TouchRow.at, TouchRow.id)
    )
    for row in _stream(session, statement):
        yield TouchFact(lead_id=row[0], at=row[1], outcome=row[2], outbound=bool(row[3]), step=row[4])


def trend_cells(session: Session, weeks: Sequence[Period], filters: Filters) -> Iterator[TrendCell]:
    """Funnel counts per week of ``weeks`` (contiguous, oldest first), counted in SQL."""
    if not weeks:
        return
    week = case(*((LeadRow.created_at < w.end, i) for i, w in enumerate(weeks)), else_=-1).label("week")
    scheduled = or_(LeadRow.booked_at.is_not(None), LeadRow.stage.in_([s.value for s in SCHEDULED_STAGES]))
    statement = (
        select(
            week,
            func.count(),
            func.sum(case((LeadRow.intent.in_([i.value for i in READY_INTENTS]), 1), else_=0)),
            func.sum(case((scheduled, 1), else_=0)),
            func.sum(case((LeadRow.stage == Stage.KEPT.value, 1), else_=0)),
        )
        .where(*cohort_conditions(Period(start=weeks[0].start, end=weeks[-1].end, label="trend"), filters))
        .group_by(week)
    )
    for row in _stream(session, statement):
        yield TrendCell(
            week=int(row[0]),
            inquiries=int(row[1]),
            scheduling_ready=int(row[2] or 0),
            scheduled=int(row[3] or 0),
            kept=int(row[4] or 0),
        )
