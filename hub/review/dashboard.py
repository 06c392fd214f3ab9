"""The dashboard's numbers: every measure for a period and filters, and today's queues.

``dashboard_measures`` is what both the admin dashboard and the weekly review compute; the admin UI
renders its charts with :mod:`hub.review.charts`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from hub.lifecycle.speed import breaches
from hub.review import queries
from hub.review.measures.confusion import Confusion, confusion
from hub.review.measures.counts import Count
from hub.review.measures.demand import ServiceDemand, service_demand
from hub.review.measures.funnel import FUNNEL_DIMENSIONS, Funnel, FunnelCell, funnels
from hub.review.measures.language import LanguageConversion, language_conversion
from hub.review.measures.questions import QuestionCell, RepeatedQuestions, repeated_questions
from hub.review.measures.speed import SpeedToLead, speed_to_lead
from hub.review.measures.stalled import Stalled, StalledFact, stalled_leads
from hub.review.measures.timing import FollowUpTiming, follow_up_timing
from hub.review.measures.touches import AttemptCell, ReplyFact
from hub.review.measures.trend import TrendCell, WeekPoint, trend
from hub.review.period import Filters, Period
from hub.settings.config import HubConfig
from hub.store.models import LeadRow
from hub.store.reads import read_together
from nurture.clock import require_aware
from nurture.vocab import CLOSED_STAGES, Channel

__all__ = ["ALL_PARTS", "DASHBOARD_PARTS", "Measures", "QueueLead", "Queues", "dashboard_measures", "todays_queues"]

#: Every part of the measures (what the weekly review shows).
ALL_PARTS = frozenset({"funnels", "speed", "stalled", "questions", "timing", "confusion", "trend"})
#: What the admin dashboard shows: the rest is left empty, not computed.
DASHBOARD_PARTS = frozenset({"funnels", "speed", "stalled", "timing", "trend"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Measures:
    """Every measure of the review for one period and set of filters.

    Attributes:
        period: the cohort's creation span.
        filters: the filters applied.
        as_of: when the measures were taken (stalled leads and missed targets are counted to it).
        timezone: the clinic's time zone (hours of day, weeks).
        funnels: one per dimension (channel, campaign, location, service, language).
        speed: speed to lead per channel.
        stalled: open leads whose next action is overdue at ``as_of`` (any creation date).
        questions: repeated intents, needs and triage keywords.
        timing: reach rate by attempt number and time of day.
        confusion: replies after each template.
        language: Spanish against English conversion.
        services: demand against capacity per service.
        capacity_known: whether capacity data was given.
        trend: funnel counts for the weeks up to the period's last week.
    """

    period: Period
    filters: Filters
    as_of: datetime
    timezone: str
    funnels: tuple[Funnel, ...]
    speed: SpeedToLead
    stalled: Stalled
    questions: RepeatedQuestions
    timing: FollowUpTiming
    confusion: Confusion
    language: LanguageConversion
    services: tuple[ServiceDemand, ...]
    capacity_known: bool
    trend: tuple[WeekPoint, ...]

    def funnel(self, dimension: str) -> Funnel:
        """The funnel by ``dimension``."""
        for f in self.funnels:
            if f.dimension == dimension:
                return f
        raise KeyError(dimension)


def step_templates(config: HubConfig) -> dict[str, str]:
    """Cadence step key → the template it sends, for every step that has one."""
    return {s.key: s.template for s in config.settings.cadence.steps if s.template}


def response_targets(config: HubConfig) -> tuple[dict[str, int], int]:
    """Response target minutes per channel, and the fallback (the ``other`` channel's)."""
    channels = config.settings.channels
    return {c.value: s.response_minutes for c, s in channels.items()}, channels[Channel.OTHER].response_minutes


def dashboard_measures(
    session: Session,
    config: HubConfig,
    period: Period,
    filters: Filters | None = None,
    *,
    now: datetime,
    capacity: Mapping[str, int] | None = None,
    no_answer_attempts: int = 3,
    trend_weeks: int = 8,
    min_sample: int = 30,
    parts: frozenset[str] = ALL_PARTS,
    concurrent: bool = True,
) -> Measures:
    """Compute every measure for the leads created in ``period`` that pass ``filters``.

    Args:
        session: a session on the store (read only).
        config: the hub's configuration (hours, time zone, targets, cadence templates).
        period: the cohort's creation span.
        filters: channel, location, service (None: all leads).
        now: the present; stalled leads and missed targets are counted to it.
        capacity: openings per service id for a span as long as the period, from the scheduling
            system; None when there is no capacity data.
        no_answer_attempts: the N of "no answer after N attempts".
        trend_weeks: how many ISO weeks the trend shows, ending with the period's last week.
        min_sample: the least attempts a time of day needs to be called best.
        parts: which measures to compute (:data:`ALL_PARTS`); the others are empty. Funnels are
            always computed (language and service demand are read from them).
        concurrent: on PostgreSQL, run the independent reads at once on one shared snapshot
            (:func:`hub.store.reads.read_together`); False reads them one after another.
    """
    require_aware(now, "now")
    filters = filters or Filters()
    settings = config.settings
    hours = settings.hours
    targets, default_target = response_targets(config)
    weeks = period.weeks_back(trend_weeks, hours.timezone)
    timing_wanted = "timing" in parts or "confusion" in parts

    def speed_of_cohort(s: Session) -> SpeedToLead:  # Python work: overlaps the other reads' SQL
        return speed_to_lead(
            queries.lead_clocks(s, period, filters), hours=hours, targets=targets, default_target=default_target,
            as_of=now, span=(period.start, max(now, period.end)),
        )  # fmt: skip

    def attempts(s: Session) -> list[AttemptCell]:
        if not timing_wanted:
            return []
        return queries.attempt_cells(s, period, filters, timezone=hours.timezone, as_of=now, replies=False)[0]

    def replies(s: Session) -> list[ReplyFact]:  # a scan of its own, beside the attempts'
        return queries.reply_facts(s, period, filters)

    def the_rest(s: Session) -> tuple[list[FunnelCell], list[StalledFact], list[QuestionCell], list[TrendCell]]:
        return (
            list(queries.funnel_cells(s, period, filters)),
            list(queries.stalled_facts(s, filters, as_of=now)),
            list(queries.question_cells(s, period, filters)) if "questions" in parts else [],
            list(queries.trend_cells(s, weeks, filters)),
        )

    reads: list[Callable[[Session], Any]] = [attempts, the_rest]
    if "confusion" in parts:
        reads.append(replies)
    speed, found = read_together(session, speed_of_cohort, *reads, concurrent=concurrent)
    cells, (funnel_rows, stalled_rows, question_rows, trend_rows) = found[0], found[1]
    reply_rows: list[ReplyFact] = found[2] if len(found) > 2 else []
    by_dimension = funnels(iter(funnel_rows), FUNNEL_DIMENSIONS)
    stalled = stalled_leads(
        iter(stalled_rows),
        as_of=now,
        clinic_language=settings.clinic_language,
        no_answer_attempts=no_answer_attempts,
        capacity=capacity,
    )
    questions = repeated_questions(iter(question_rows))
    timing = follow_up_timing(cells, min_sample=min_sample)
    confused = confusion(cells, reply_rows, step_templates=step_templates(config))
    points = trend(iter(trend_rows), [w.label for w in weeks])
    by_language = next(f for f in by_dimension if f.dimension == "language")
    by_service = next(f for f in by_dimension if f.dimension == "service")
    return Measures(
        period=period,
        filters=filters,
        as_of=now,
        timezone=hours.timezone,
        funnels=by_dimension,
        speed=speed,
        stalled=stalled,
        questions=questions,
        timing=timing,
        confusion=confused,
        language=language_conversion(by_language, base=settings.clinic_language),
        services=service_demand(by_service, capacity, services=config.services),
        capacity_known=capacity is not None,
        trend=points,
    )


# --- today's queues -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueLead:
    """A lead in one of today's lists: its id and codes, never PHI.

    Attributes:
        lead_id: the lead.
        channel: its channel.
        queue: the owner queue of its next action (or of its first call, for a breach).
        kind: its next action (``first_call`` for a breach).
        due_at: when it is (was) due.
        minutes: minutes overdue (negative: minutes until due).
    """

    lead_id: str
    channel: str
    queue: str
    kind: str
    due_at: datetime
    minutes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Queues:
    """Today's work: overdue next actions, next actions due soon, and speed-to-lead breaches.

    Attributes:
        as_of: when they were counted.
        overdue, due_soon, breached: per owner queue, most first.
        overdue_total, due_soon_total, breached_total: how many in all.
        overdue_leads, due_soon_leads, breached_leads: the first few (most urgent first).
    """

    as_of: datetime
    overdue: tuple[Count, ...]
    overdue_total: int
    overdue_leads: tuple[QueueLead, ...]
    due_soon: tuple[Count, ...]
    due_soon_total: int
    due_soon_leads: tuple[QueueLead, ...]
    breached: tuple[Count, ...]
    breached_total: int
    breached_leads: tuple[QueueLead, ...]


def todays_queues(
    session: Session,
    *,
    now: datetime,
    filters: Filters | None = None,
    soon: timedelta = timedelta(hours=2),
    list_limit: int = 50,
) -> Queues:
    """Open leads' next actions overdue at ``now`` and due within ``soon``, and leads whose first
    call is past its response target (``hub.lifecycle.speed.breaches``), per owner queue."""
    require_aware(now, "now")
    filters = filters or Filters()
    open_leads = [
        LeadRow.next_action_kind.is_not(None),
        LeadRow.stage.not_in([s.value for s in CLOSED_STAGES]),
        *queries.filter_conditions(filters),
    ]

    def per_queue(*window: ColumnElement[bool]) -> tuple[tuple[Count, ...], int, tuple[QueueLead, ...]]:
        where = [*open_leads, *window]
        counts = session.execute(
            select(LeadRow.next_action_queue, func.count()).where(*where).group_by(LeadRow.next_action_queue)
        ).all()
        total = sum(int(n) for _, n in counts)
        rows = session.execute(
            select(
                LeadRow.id,
                LeadRow.channel,
                LeadRow.next_action_queue,
                LeadRow.next_action_kind,
                LeadRow.next_action_due_at,
            )
            .where(*where)
            .order_by(LeadRow.next_action_due_at, LeadRow.id)
            .limit(list_limit)
        ).all()
        leads = tuple(
            QueueLead(
                lead_id=r[0],
                channel=r[1],
                queue=r[2] or "",
                kind=r[3] or "",
                due_at=r[4],
                minutes=int((now - r[4]).total_seconds() // 60),
            )
            for r in rows
            if r[4] is not None
        )
        ranked = sorted(((str(q or ""), int(n)) for q, n in counts), key=lambda kv: (-kv[1], kv[0]))
        return tuple(Count(name=q, n=n, share=n / total) for q, n in ranked), total, leads

    overdue = per_queue(LeadRow.next_action_due_at < now)
    due_soon = per_queue(LeadRow.next_action_due_at >= now, LeadRow.next_action_due_at < now + soon)
    found = breaches(session, now=now, limit=10_000)
    if filters.active and found:
        wanted = set(
            session.scalars(
                select(LeadRow.id).where(
                    LeadRow.id.in_([b.lead_id for b in found]), *queries.filter_conditions(filters)
                )
            )
        )
        found = [b for b in found if b.lead_id in wanted]
    tally: dict[str, int] = {}
    for b in found:
        tally[b.owner_queue] = tally.get(b.owner_queue, 0) + 1
    total = len(found)
    return Queues(
        as_of=now,
        overdue=overdue[0],
        overdue_total=overdue[1],
        overdue_leads=overdue[2],
        due_soon=due_soon[0],
        due_soon_total=due_soon[1],
        due_soon_leads=due_soon[2],
        breached=tuple(
            Count(name=q, n=n, share=n / total) for q, n in sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))
        ),
        breached_total=total,
        breached_leads=tuple(
            QueueLead(
                lead_id=b.lead_id,
                channel=b.channel,
                queue=b.owner_queue,
                kind="first_call",
                due_at=b.due_at,
                minutes=b.minutes_over,
            )
            for b in found[:list_limit]
        ),
    )
