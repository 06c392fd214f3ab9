"""Calendly visits read back: a scheduled pull marks the visits booked through Calendly as kept or
no-show (and catches cancellations whose webhook was lost), so their leads move on.

Calendly cannot list events "changed since"; it lists events by start time. The pull therefore
keeps a *frontier* (cursor ``bookings:calendly``): the start of the oldest visit whose outcome may
still change. Each run reads the visits that started between the frontier and now (one call per
page of events and one per event for its invitees), applies each as a pulled booking
(:func:`hub.bookings.scheduling.pull_bookings` rules: known appointments by ref, else the lead), and moves
the frontier to the oldest visit not yet final — cancelled, a no-show marked, or ended longer ago
than ``no_show_grace_hours``. The first run looks back ``no_show_grace_hours`` plus a day.

A visit whose webhook never arrived has no appointment in the hub; it is matched to a lead by the
invitee's email (normalised as intake does) and recorded; a visit of someone the hub does not know
is counted, not imported.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select

from connectors.scheduling.calendly import CalendlyApi, CalendlyApiSettings
from hub.bookings.scheduling import BookingsPull, _apply_pulled, _CalendlySchema, load_calendly_settings
from hub.settings.config import HubConfig, flatten_errors
from hub.store import Store, repo
from hub.store.models import AppointmentRow
from nurture.contact import normalize_email
from nurture.errors import ConfigError

__all__ = ["CURSOR", "build_calendly", "calendly_pull_interval", "pull_calendly"]

log = logging.getLogger(__name__)

CURSOR = "bookings:calendly"


def _options(config: HubConfig) -> dict[str, Any] | None:
    raw = dict(config.raw.get("scheduling", {}).get("calendly", {}))
    if not raw.get("pull"):
        return None
    try:
        data: dict[str, Any] = _CalendlySchema().load(raw)
    except ValidationError as exc:
        raise ConfigError([f"scheduling.calendly.{p}" for p in flatten_errors(exc.messages)]) from None
    if not data["organization"]:
        raise ConfigError(["scheduling.calendly.organization: the organization's URI is needed to read visits back"])
    return data


def calendly_pull_interval(config: HubConfig) -> timedelta | None:
    """How often visits are read back from Calendly, or None when the pull is off."""
    data = _options(config)
    return timedelta(minutes=data["pull_minutes"]) if data else None


def build_calendly(config: HubConfig, environ: Mapping[str, str]) -> CalendlyApi | None:
    """The Calendly API reader (``[scheduling.calendly] pull = true``), or None.

    Raises:
        ConfigError: the pull is on but its token or organization is missing.
    """
    data = _options(config)
    if data is None:
        return None
    token = environ.get(data["api_token_env"], "")
    if not token:
        raise ConfigError([f"scheduling.calendly.api_token_env: {data['api_token_env']} is not set"])
    settings = CalendlyApiSettings(
        organization=data["organization"],
        api_host=data["api_host"],
        no_show_grace=timedelta(hours=data["no_show_grace_hours"]),
    )
    return CalendlyApi(settings, token)


def pull_calendly(
    store: Store, config: HubConfig, api: CalendlyApi, *, destinations: Sequence[str], now: datetime
) -> BookingsPull:
    """Read the visits that started since the frontier and apply each; move the frontier."""
    grace = api.settings.no_show_grace
    kinds = load_calendly_settings(config)
    with store.read() as session:
        saved = repo.get_cursor(session, CURSOR)
    frontier = datetime.fromisoformat(saved) if saved else now - grace - timedelta(days=1)
    report = BookingsPull()
    open_starts: list[datetime] = []
    latest_start: datetime | None = None
    for visit in api.visits(min_start=frontier, max_start=now):
        report.read += 1
        latest_start = visit.start if latest_start is None else max(latest_start, visit.start)
        if not visit.final(now, grace):
            open_starts.append(visit.start)
        booking = visit.booking(kinds, now=now, grace=grace)
        with store.tx() as session:
            known = session.scalar(
                select(AppointmentRow.lead_id).where(
                    AppointmentRow.system == booking.system, AppointmentRow.ref == booking.ref
                )
            )
            if known is None and visit.email:  # its webhook never came: match the invitee by email
                email = _email(visit.email)
                found = repo.find_lead_id(session, external_ids={}, phone=None, email=email) if email else None
                if found is not None:
                    booking = replace(booking, lead_id=found)
            outcome = _apply_pulled(session, booking, config, destinations=destinations, now=now)
            setattr(report, outcome, getattr(report, outcome) + 1)
    # The next run starts at the oldest visit still open, else just after the newest one read.
    if open_starts:
        nxt = min(open_starts)
    elif latest_start is not None:
        nxt = latest_start + timedelta(microseconds=1)
    else:
        nxt = frontier
    with store.tx() as session:
        repo.set_cursor(session, CURSOR, nxt.isoformat(), now=now)
    log.info(
        "calendly visits: read=%d applied=%d unchanged=%d unmatched=%d refused=%d",
        report.read, report.applied, report.unchanged, report.unmatched, report.refused,
    )  # fmt: skip
    return report


def _email(raw: str) -> str | None:
    try:
        return normalize_email(raw)
    except ValueError:
        return None
