"""The weekly review: the six questions of the Monday meeting, answered for one ISO week.

``build_weekly(session, config, "2026-W48", now=...)`` computes the measures for the leads created in
that week (Monday 00:00 to Monday 00:00 in the clinic's time zone) and words the answers; the
renderers in :mod:`hub.review.render` turn the result into HTML, CSV and PDF.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from hub.coordinator.words import humanise, label, rule_label
from hub.review.dashboard import Measures, dashboard_measures
from hub.review.measures.counts import NONE_LABEL, Count
from hub.review.measures.demand import Verdict
from hub.review.period import Filters, Period
from hub.settings.config import HubConfig

__all__ = ["Answer", "Figure", "WeeklyReview", "build_weekly", "fmt_minutes", "fmt_share"]

#: A channel needs this many inquiries before its question mix is called out.
MIN_CHANNEL_LEADS = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class Figure:
    """One headline figure: its name, and its value as shown."""

    name: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """One of the six questions and its answer (figures, codes and lead ids only: no PHI).

    Attributes:
        key: ``channels``, ``stalled``, ``questions``, ``confusion``, ``services`` or ``timing``.
        question: the question as the seed asks it.
        answer: one or two sentences.
    """

    key: str
    question: str
    answer: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WeeklyReview:
    """The weekly review of one ISO week.

    Attributes:
        clinic_name: whose review.
        week: the ISO week (``2026-W48``).
        generated_at: when it was computed (stalled leads are counted to it).
        measures: every measure for the week's leads.
        headline: the figures at the top.
        answers: the six answers, in the seed's order.
    """

    clinic_name: str
    week: str
    generated_at: datetime
    measures: Measures
    headline: tuple[Figure, ...]
    answers: tuple[Answer, ...]

    @property
    def period(self) -> Period:
        return self.measures.period

    def answer(self, key: str) -> Answer:
        return next(a for a in self.answers if a.key == key)


QUESTIONS = {
    "channels": "Which channels produced scheduling-ready inquiries?",
    "stalled": "Which leads stalled, and why?",
    "questions": "Which questions came up repeatedly?",
    "confusion": "Which messages created confusion?",
    "services": "Which services need more or less promotion?",
    "timing": "Which follow-up timing worked best?",
}


def fmt_share(value: float | None) -> str:
    """``0.347`` → ``35%``; None → ``–``."""
    return "–" if value is None else f"{value * 100:.0f}%"


def fmt_minutes(value: float | None) -> str:
    """Minutes as ``12 min``, ``3.5 h`` or ``2.1 d``; None → ``–``."""
    if value is None:
        return "–"
    if value < 90:
        return f"{value:.0f} min"
    if value < 48 * 60:
        return f"{value / 60:.1f} h"
    return f"{value / 1440:.1f} d"


def build_weekly(
    session: Session,
    config: HubConfig,
    week: str,
    *,
    now: datetime,
    capacity: Mapping[str, int] | None = None,
    filters: Filters | None = None,
    no_answer_attempts: int = 3,
    trend_weeks: int = 8,
) -> WeeklyReview:
    """Compute the weekly review of ISO week ``week`` (``2026-W48``) in the clinic's time zone.

    Args:
        session: a session on the store (read only).
        config: the hub's configuration.
        week: the ISO week.
        now: the present (the Monday-morning job passes its tick).
        capacity: openings per service id for the coming week, from the scheduling system; None
            when there is none (the services answer then says so).
        filters: narrow the review to a channel, location or service.
        no_answer_attempts: the N of "no answer after N attempts".
        trend_weeks: weeks in the trend chart, ending with ``week``.

    Raises:
        ValueError: when ``week`` is not an ISO week like ``2026-W48``.
    """
    period = Period.iso_week(week, config.settings.hours.timezone)
    measures = dashboard_measures(
        session,
        config,
        period,
        filters,
        now=now,
        capacity=capacity,
        no_answer_attempts=no_answer_attempts,
        trend_weeks=trend_weeks,
    )
    return WeeklyReview(
        clinic_name=config.settings.clinic_name,
        week=period.label,
        generated_at=now,
        measures=measures,
        headline=headline(measures),
        answers=answers(measures),
    )


def headline(m: Measures) -> tuple[Figure, ...]:
    """The figures at the top of the review."""
    total = m.funnel("channel").total
    speed = m.speed.total
    return (
        Figure(name="Inquiries", value=str(total.inquiries)),
        Figure(name="Scheduling-ready", value=f"{total.scheduling_ready} ({fmt_share(total.ready_share)})"),
        Figure(name="Reached", value=str(total.reached)),
        Figure(name="Scheduled", value=str(total.scheduled)),
        Figure(name="Kept", value=str(total.kept)),
        Figure(name="Median time to first attempt", value=fmt_minutes(speed.median_attempt_minutes)),
        Figure(name="First attempt within target", value=fmt_share(speed.within_target_share)),
        Figure(name="Received after hours", value=fmt_share(speed.after_hours_share)),
        Figure(name="Stalled now", value=str(m.stalled.total)),
    )


def answers(m: Measures) -> tuple[Answer, ...]:
    """The six answers, worded from the measures."""
    return tuple(
        Answer(key=key, question=QUESTIONS[key], answer=text)
        for key, text in (
            ("channels", _channels(m)),
            ("stalled", _stalled(m)),
            ("questions", _questions(m)),
            ("confusion", _confusion(m)),
            ("services", _services(m)),
            ("timing", _timing(m)),
        )
    )


def _channels(m: Measures) -> str:
    by_channel = m.funnel("channel")
    total = by_channel.total
    if not total.inquiries:
        return "No inquiries were received this week."
    ranked = sorted(
        (r for r in by_channel.rows if r.counts.scheduling_ready),
        key=lambda r: (-r.counts.scheduling_ready, r.key),
    )
    if not ranked:
        return f"None of the {total.inquiries} inquiries was scheduling-ready."
    parts = [
        f"{label('channel', r.key)} {r.counts.scheduling_ready} of {r.counts.inquiries} "
        f"({fmt_share(r.counts.ready_share)})"
        for r in ranked[:4]
    ]
    return (
        f"{total.scheduling_ready} of {total.inquiries} inquiries were scheduling-ready "
        f"({fmt_share(total.ready_share)}): {', '.join(parts)}. "
        f"{total.scheduled} were scheduled and {total.kept} kept so far."
    )


def _stalled(m: Measures) -> str:
    s = m.stalled
    if not s.total:
        return "No open lead has an overdue next action."
    reasons = ", ".join(f"{label('stalled_reason', c.name).lower()} {c.n}" for c in s.by_reason)
    top = s.groups[0]
    return (
        f"{s.total} open leads have an overdue next action ({reasons}). The largest group: "
        f"{label('next_action', top.kind).lower()} in {top.queue} "
        f"({label('stalled_reason', top.reason.value).lower()}, "
        f"{top.n} leads, up to {top.max_overdue_hours:.0f} h overdue)."
    )


def _questions(m: Measures) -> str:
    q = m.questions.overall
    if not q.leads:
        return "No inquiries this week."

    def listed(counts: Sequence[Count], kind: str, limit: int = 3) -> str:
        names = [rule_label(c.name) if kind == "rule" else label(kind, c.name) for c in counts[:limit]]
        items = [f"{name} ({fmt_share(c.share)})" for name, c in zip(names, counts[:limit], strict=True)]
        return ", ".join(items) if items else "none"

    text = (
        f"Intents: {listed(q.intents, 'intent')}. Needs: {listed(q.needs, 'need')}. "
        f"Triage keywords that fired most: {listed(q.keywords, 'rule')}."
    )
    flagged = [
        (need.share or 0.0, row.channel, need.name, need.n, row.leads)
        for row in m.questions.by_channel
        if row.leads >= MIN_CHANNEL_LEADS
        for need in row.needs
    ]
    if flagged:
        share, channel, need, n, leads = max(flagged, key=lambda f: (f[0], f[1]))
        text += (
            f" The channel drawing the most {label('need', need).lower()} questions: {label('channel', channel)} ({n}"
        )
        text += f" of {leads}, {fmt_share(share)})."
    return text


def _confusion(m: Measures) -> str:
    c = m.confusion
    worst = c.worst
    if worst is None:
        sends = sum(r.sends for r in c.rows)
        return f"No lead replied right after a template ({sends} templated sends)."
    parts = [
        f"{humanise(r.template)} {r.questions} of {r.sends} sends ({fmt_share(r.rate)})" for r in c.rows if r.questions
    ][:3]
    return (
        f"{c.leads} leads replied right after a template: {', '.join(parts)}. Review {humanise(worst.template)} first."
    )


def _services(m: Measures) -> str:
    rows = [s for s in m.services if s.inquiries or s.openings]
    if not rows:
        return "No inquiries named a service this week."
    if not m.capacity_known:
        demand = ", ".join(f"{humanise(s.service)} {s.demand}" for s in rows[:5])
        return f"No capacity data from the scheduling system. Demand this week: {demand}."
    out = []
    for verdict in (Verdict.PROMOTE_MORE, Verdict.PROMOTE_LESS):
        picked = [s for s in rows if s.verdict is verdict]
        if picked:
            listed = ", ".join(f"{humanise(s.service)} (demand {s.demand} for {s.openings} openings)" for s in picked)
            out.append(f"{humanise(verdict.value)}: {listed}.")
    unknown = [s.service for s in rows if s.verdict is Verdict.NO_CAPACITY_DATA and s.service != NONE_LABEL]
    if unknown:
        out.append(f"No capacity data for {', '.join(humanise(u) for u in unknown)}.")
    return " ".join(out) or "Demand matches openings for every service."


def _timing(m: Measures) -> str:
    t = m.timing
    if not t.attempts:
        return "No follow-up attempts were made for this week's leads."
    parts = [f"{t.attempts} attempts reached {fmt_share(t.rate)} of the time"]
    if t.best_hour is not None:
        parts.append(f"best hour {t.best_hour.key} ({fmt_share(t.best_hour.rate)} of {t.best_hour.attempts})")
    if t.best_part_of_day is not None:
        p = t.best_part_of_day
        parts.append(f"best part of day {label('contact_window', p.key).lower()} ({fmt_share(p.rate)})")
    if t.best_step is not None:
        parts.append(f"best step {humanise(t.best_step.key).lower()} ({fmt_share(t.best_step.rate)})")
    by_attempt = ", ".join(f"#{r.key} {fmt_share(r.rate)}" for r in t.by_attempt[:4])
    text = "; ".join(parts) + f". Reach by attempt: {by_attempt}."
    if t.best_hour is None:
        text += f" Too few attempts per hour (under {t.min_sample}) to name a best hour."
    return text
