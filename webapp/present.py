"""Words and clinic time in templates: the Jinja filters every page uses (from :mod:`hub.coordinator.words`),
the reader's clock and locale, and the counts the navigation shows.

=====================================  ===============================================
in a template                          shows
=====================================  ===============================================
``code|label('channel')``              "Website form"
``codes|labels('need')``               ["Insurance", …]
``rule_id|rule``                       "Insurance — “prior auth…” (English)"
``actor|actor``                        "ada"
``dt|at``                              "today, 2:14 PM" (clinic time)
``dt|clinic_time``                     "2:14 PM"
``dt|clinic_date``                     "Dec 1, 2026"
``dt|due``                             "due in 12 minutes, 2:14 PM"
``dt|ago``                             "3 hours ago"
``when(dt)`` (macro in _macros.html)   ``<time datetime="…ISO…">today, 2:14 PM</time>``
=====================================  ===============================================
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Flask, current_app, g, request

from hub.coordinator import words
from hub.coordinator.worklist import QueueCounts, nav_counts
from hub.store import StoreUnavailable
from webapp import current_hub

log = logging.getLogger(__name__)

__all__ = ["clinic_time", "install", "locale"]


def locale() -> str:
    """The reader's locale (English until another catalogue exists; then ``[web] language``)."""
    configured = current_app.config.get("NURTUREHUB_LOCALE", words.DEFAULT_LOCALE)
    return str(configured) if configured in words.CATALOGUES else words.DEFAULT_LOCALE


def clinic_time() -> words.ClinicTime:
    """This request's formatter: the clinic's zone, the hub's clock (read once per request)."""
    found: words.ClinicTime | None = g.get("clinic_time")
    if found is None:
        hub = current_hub()
        found = words.ClinicTime(hub.config.settings.hours.timezone, hub.clock(), locale())
        g.clinic_time = found
    return found


def _label(code: object, kind: str, empty: str = "—") -> str:
    return words.label(kind, code, locale=locale(), empty=empty)


def _labels(codes: object, kind: str) -> list[str]:
    return words.labels(kind, codes, locale=locale())


def _at(value: datetime | None, empty: str = "—") -> str:
    return clinic_time().at(value, empty=empty)


def _time(value: datetime | None) -> str:
    return clinic_time().time(value) if value else "—"


def _date(value: datetime | None) -> str:
    return clinic_time().date(value) if value else "—"


def _due(value: datetime | None) -> str:
    return clinic_time().due(value)


def _ago(value: datetime | None) -> str:
    return clinic_time().relative(value) if value else "—"


def _overdue(value: datetime | None) -> bool:
    return clinic_time().overdue(value)


def _nav_counts() -> QueueCounts | None:
    """My queue's counts for the signed-in coordinator (None for viewers and signed-out pages)."""
    from hub.accounts.users import Role
    from webapp.auth import current_user

    user = current_user()
    if user is None or not user.can(Role.COORDINATOR) or request.endpoint == "static":
        return None
    found: QueueCounts | None = g.get("queue_counts")
    if found is None:
        hub = current_hub()
        try:
            found = nav_counts(hub.store, user.id, now=clinic_time().now)
        except StoreUnavailable:
            log.warning("could not count the queue for the navigation", exc_info=True)
            found = QueueCounts()
        g.queue_counts = found
    return found


def _parse_time(value: datetime | str | None) -> datetime | None:
    """An instant from a plain-data view (ISO 8601, ``Z`` for UTC), for the time filters."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _context() -> dict[str, Any]:
    return {
        "parse_time": _parse_time,
        "queue_counts": _nav_counts,
        "clinic_zone": lambda: clinic_time().zone_name(),
        "rule_label": lambda rule: words.rule_label(rule, locale=locale()),
    }


def install(app: Flask) -> None:
    """Register the filters and the template context."""
    app.jinja_env.filters.update(
        label=_label,
        labels=_labels,
        rule=lambda rule: words.rule_label(str(rule), locale=locale()),
        rules=lambda rules: words.rule_labels(rules or (), locale=locale()),
        actor=lambda actor: words.actor_label(actor, locale=locale()),
        at=_at,
        clinic_time=_time,
        clinic_date=_date,
        due=_due,
        ago=_ago,
        overdue=_overdue,
        humanise=words.humanise,
        phone=lambda number: words.phone(number, region=current_hub().config.phone_region),
    )
    app.context_processor(_context)
