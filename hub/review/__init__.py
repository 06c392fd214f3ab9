"""The review: what became of each channel's inquiries, where leads stall, how fast the clinic answers.

Public API (what the dashboard, the Monday job and ``nurturehub report weekly`` call)::

    from hub.review import Filters, Period, build_weekly, dashboard_measures, todays_queues
    from hub.review import render_csv, render_html, render_pdf

    review = build_weekly(session, config, "2026-W48", now=now, capacity=None)
    html, csv_text, pdf_bytes = render_html(review), render_csv(review), render_pdf(review)

    period = Period.local_days(first_day, last_day, config.settings.hours.timezone)
    measures = dashboard_measures(session, config, period, Filters(channel="paid_search"), now=now)
    queues = todays_queues(session, now=now, filters=Filters())

Charts for the dashboard are in :mod:`hub.review.charts` (inline SVG strings). The pure measures are
in :mod:`hub.review.measures`, the SQL in :mod:`hub.review.queries`; ``docs/review.md`` defines each
figure.
"""

from __future__ import annotations

from hub.review.dashboard import Measures, QueueLead, Queues, dashboard_measures, todays_queues
from hub.review.period import Filters, Period
from hub.review.render import render_csv, render_data, render_html, render_pdf
from hub.review.weekly import Answer, Figure, WeeklyReview, build_weekly

__all__ = [
    "Answer",
    "Figure",
    "Filters",
    "Measures",
    "Period",
    "QueueLead",
    "Queues",
    "WeeklyReview",
    "build_weekly",
    "dashboard_measures",
    "render_csv",
    "render_data",
    "render_html",
    "render_pdf",
    "todays_queues",
]
