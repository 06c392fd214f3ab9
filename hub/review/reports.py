"""Weekly reviews kept in the hub: rendered once (HTML, CSV, PDF) and stored, by the Monday job or
on demand (`nurturehub report weekly --week 2026-W48`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from hub.review import build_weekly, render_csv, render_data, render_html, render_pdf
from hub.settings.config import HubConfig
from hub.store import Store
from hub.store.models import WeeklyReportRow

__all__ = ["StoredReport", "generate_weekly", "previous_week", "stored_report", "stored_weeks"]

LEAD_LINK = "/leads/{id}"


@dataclass(frozen=True, slots=True)
class StoredReport:
    week: str
    generated_at: datetime
    html: str
    csv: str
    pdf: bytes
    data: dict[str, Any] | None = None  # the figures as plain data, on a fresh render only


def previous_week(today: date) -> str:
    """The ISO week before the one ``today`` is in (what a Monday-morning review covers)."""
    year, week, _ = (today - timedelta(days=7)).isocalendar()
    return f"{year}-W{week:02d}"


def generate_weekly(store: Store, config: HubConfig, week: str, *, now: datetime) -> StoredReport:
    """Compute and render the weekly review for ``week`` and keep it (replacing an older render)."""
    with store.tx() as session:
        review = build_weekly(session, config, week, now=now)
    report = StoredReport(
        week=week,
        generated_at=now,
        html=render_html(review, lead_link=LEAD_LINK),
        csv=render_csv(review),
        pdf=render_pdf(review),
        data=render_data(review),
    )
    with store.tx() as session:
        row = session.get(WeeklyReportRow, week)
        if row is None:
            session.add(WeeklyReportRow(week=week, generated_at=now, html=report.html, csv=report.csv, pdf=report.pdf))
        else:
            row.generated_at, row.html, row.csv, row.pdf = now, report.html, report.csv, report.pdf
    return report


def stored_report(store: Store, week: str) -> StoredReport | None:
    with store.tx() as session:
        row = session.get(WeeklyReportRow, week)
        if row is None:
            return None
        return StoredReport(week=row.week, generated_at=row.generated_at, html=row.html, csv=row.csv, pdf=row.pdf)


def stored_weeks(store: Store) -> list[tuple[str, datetime]]:
    """Every kept review, newest week first."""
    with store.tx() as session:
        rows = session.execute(
            select(WeeklyReportRow.week, WeeklyReportRow.generated_at).order_by(WeeklyReportRow.week.desc())
        ).all()
    return [(r.week, r.generated_at) for r in rows]
