"""The dashboard (coordinators and admins): today's queues, and for a chosen period the funnel,
speed to lead, stalled leads, repeated questions and follow-up timing, with server-rendered SVG
charts. Filters by channel, location, service and period. Lists show lead ids, never PHI.

And the weekly reviews kept in the hub: read them here, download them as PDF or CSV, or render one
for any week on demand.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from markupsafe import Markup

from hub.accounts.users import Role
from hub.bookings.capacity import capacity_summary, has_openings_data
from hub.review import Filters, Period, dashboard_measures, todays_queues
from hub.review.charts import funnel_chart, speed_chart, stalled_chart, timing_chart, trend_chart
from hub.review.csv_export import neutralise_text
from hub.review.dashboard import DASHBOARD_PARTS
from hub.review.period import iso_week_label
from hub.review.render import fragment_of
from hub.review.reports import generate_weekly, previous_week, stored_report, stored_weeks
from hub.settings.config import HubConfig
from webapp import current_hub
from webapp.admin.common import actor, now, page, tx
from webapp.auth import require

bp = page("dashboard", __name__)

#: Periods the dashboard offers, in weeks.
PERIODS = (1, 2, 4, 8, 13, 26)


def _filters(config: HubConfig) -> Filters:
    """The filters asked for; a value the clinic does not have is refused (it would show nothing)."""
    wanted = {
        "channel": (request.args.get("channel") or None, {c.value for c in config.settings.channels}),
        "location": (request.args.get("location") or None, set(config.locations)),
        "service": (request.args.get("service") or None, set(config.services)),
    }
    for name, (value, known) in wanted.items():
        if value is not None and value not in known:
            abort(400, description=f"The {name} filter names a {name} this clinic does not have. Choose from the list.")
    return Filters(channel=wanted["channel"][0], location=wanted["location"][0], service=wanted["service"][0])


@bp.get("/dashboard")
@require(Role.COORDINATOR)
def index() -> Any:
    hub = current_hub()
    config = hub.config
    at = now()
    try:
        weeks = int(request.args.get("weeks", "4"))
    except ValueError:
        abort(400, description="Choose the period from the list: a number of weeks.")
    if weeks not in PERIODS:
        abort(400, description=f"Choose the period from the list: {', '.join(map(str, PERIODS))} weeks.")
    tz = config.settings.hours.timezone
    today = at.astimezone(config.settings.hours.tz).date()
    period = Period.local_days(today - timedelta(days=7 * weeks - 1), today, tz, label=f"last {weeks} week(s)")
    filters = _filters(config)
    with tx() as session:
        measures = dashboard_measures(
            session, config, period, filters, now=at, trend_weeks=weeks, parts=DASHBOARD_PARTS
        )
        queues = todays_queues(session, now=at, filters=filters)
        capacity = capacity_summary(session, config, now=at) if has_openings_data(session) else []
    capacity = [
        row for row in capacity
        if (filters.service is None or row.service == filters.service)
        and (filters.location is None or row.location == filters.location)
    ]  # fmt: skip
    total = measures.funnels[0].total if measures.funnels else None
    charts = {
        # SVG we generate, every value escaped; the page titles each chart once, above it.
        "funnel": Markup(funnel_chart(total, show_title=False)) if total else "",  # noqa: S704
        "speed": Markup(speed_chart(measures.speed.total, show_title=False)),  # noqa: S704
        "stalled": Markup(stalled_chart(measures.stalled, show_title=False)),  # noqa: S704
        "timing": Markup(timing_chart(measures.timing, show_title=False)),  # noqa: S704
        "trend": Markup(trend_chart(measures.trend, show_title=False)),  # noqa: S704
    }
    return render_template(
        "dashboard.html",
        measures=measures,
        total=total,
        queues=queues,
        capacity=capacity,
        charts=charts,
        weeks=weeks,
        periods=PERIODS,
        filters=filters,
        channels=sorted(c.value for c in config.settings.channels),
        locations=sorted(config.locations.items()),
        services=sorted(config.services.items()),
    )


@bp.get("/reviews")
@require(Role.COORDINATOR)
def reviews() -> Any:
    hub = current_hub()
    last = previous_week(now().astimezone(hub.config.settings.hours.tz).date())
    return render_template("reviews.html", weeks=stored_weeks(hub.store), last_week=last)


@bp.post("/reviews")
@require(Role.COORDINATOR)
def generate() -> Any:
    hub = current_hub()
    week = (request.form.get("week") or "").strip()
    try:
        Period.iso_week(week, hub.config.settings.hours.timezone)
    except ValueError:
        example = iso_week_label(now().date())
        flash(f"“{week}” is not a week the hub knows: write the year, W and the week number, like {example}.", "error")
        return redirect(url_for("dashboard.reviews"))
    generate_weekly(hub.store, hub.config, week, now=now())
    with tx() as session:
        from hub.store import repo

        repo.audit(session, actor=actor(), action="report.generate", subject_type="report", subject_id=week, now=now())
    return redirect(url_for("dashboard.review", week=week))


@bp.get("/reviews/<week>")
@require(Role.COORDINATOR)
def review(week: str) -> Any:
    """A kept weekly review inside the app's layout (its own page, with the stylesheet the hub's
    CSP allows; printable), with its PDF and CSV beside it."""
    report = stored_report(current_hub().store, week)
    if report is None:
        abort(404, description=f"No weekly review of {week} is kept yet: render it from the weekly reviews page.")
    fragment = fragment_of(report.html)
    return render_template(
        "review.html",
        week=week,
        # The hub rendered this HTML itself (values escaped there), without styles or scripts.
        fragment=Markup(fragment) if fragment is not None else None,  # noqa: S704
        generated_at=report.generated_at,
    )


@bp.get("/reviews/<week>.pdf")
@require(Role.COORDINATOR)
def review_pdf(week: str) -> Any:
    report = stored_report(current_hub().store, week)
    if report is None:
        abort(404, description=f"No weekly review of {week} is kept yet.")
    return Response(
        report.pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="weekly-review-{week}.pdf"'},
    )


@bp.get("/reviews/<week>.csv")
@require(Role.COORDINATOR)
def review_csv(week: str) -> Any:
    report = stored_report(current_hub().store, week)
    if report is None:
        abort(404, description=f"No weekly review of {week} is kept yet.")
    return Response(
        neutralise_text(report.csv),  # reviews kept before every export went through one writer
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="weekly-review-{week}.csv"'},
    )
