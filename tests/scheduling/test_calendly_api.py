"""Calendly's API v2 read back through the connector, on the Calendly sandbox: visits with their
invitees' cancellations and no-shows, every page, and the errors Calendly answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from connectors.scheduling.calendly import CalendlyApi, CalendlyApiSettings
from connectors.scheduling.calendly_events import CalendlyEventType, CalendlySettings
from nurture.errors import ConfigError, RetryLater
from nurture.prep import AppointmentStatus
from sandboxes.calendly import CalendlySandbox
from sandboxes.common import Faults, SandboxServer
from tests.fixtures.calendly_sandbox import CALENDLY_T0, EVENT_TYPE
from tests.fixtures.clock import ManualClock

KINDS = CalendlySettings(event_types=(CalendlyEventType(uri=EVENT_TYPE, service="primary_care", location="downtown"),))
GRACE = timedelta(hours=24)


def mark_no_show(sandbox: CalendlySandbox, server: SandboxServer, event_id: str) -> None:
    headers = {"Authorization": f"Bearer {sandbox.token}"}
    invitees = requests.get(f"{server.url}/scheduled_events/{event_id}/invitees", headers=headers, timeout=5).json()
    uri = invitees["collection"][0]["uri"]
    answer = requests.post(f"{server.url}/invitee_no_shows", json={"invitee": uri}, headers=headers, timeout=5)
    assert answer.status_code == 201


def test_the_token_works(calendly_api: CalendlyApi) -> None:
    status = calendly_api.check()
    assert status.ok, status.detail


def test_visits_come_with_cancellation_no_show_and_outcome(
    calendly_api: CalendlyApi, calendly_sandbox: CalendlySandbox, calendly_server: SandboxServer,
    calendly_clock: ManualClock,
) -> None:  # fmt: skip
    kept = calendly_sandbox.schedule(event_type=EVENT_TYPE, start=CALENDLY_T0 + timedelta(hours=1), email="a@x.org")
    missed = calendly_sandbox.schedule(event_type=EVENT_TYPE, start=CALENDLY_T0 + timedelta(hours=2), email="b@x.org")
    cancelled = calendly_sandbox.schedule(
        event_type=EVENT_TYPE, start=CALENDLY_T0 + timedelta(hours=3), email="c@x.org"
    )
    calendly_sandbox.cancel(cancelled)
    calendly_clock.advance(hours=3)
    mark_no_show(calendly_sandbox, calendly_server, missed)
    now = calendly_clock.advance(hours=1)

    visits = {v.id: v for v in calendly_api.visits(min_start=CALENDLY_T0, max_start=now)}
    assert [v.id for v in visits.values()] == [kept, missed, cancelled]  # earliest first
    status = {i: v.booking(KINDS, now=now, grace=GRACE).status for i, v in visits.items()}
    assert status == {
        kept: AppointmentStatus.BOOKED,  # ended an hour ago: staff may still mark a no-show
        missed: AppointmentStatus.NO_SHOW,
        cancelled: AppointmentStatus.CANCELLED,
    }
    assert not visits[kept].final(now, GRACE)
    later = now + GRACE
    assert visits[kept].booking(KINDS, now=later, grace=GRACE).status is AppointmentStatus.KEPT
    booking = visits[missed].booking(KINDS, now=now, grace=GRACE)
    assert (booking.service, booking.location, booking.system) == ("primary_care", "downtown", "calendly")
    assert "b@x.org" not in repr(visits[missed])  # the invitee's email never shows in logs or reprs


def test_every_page_is_read(calendly_api: CalendlyApi, calendly_sandbox: CalendlySandbox) -> None:
    for n in range(230):
        calendly_sandbox.schedule(
            event_type=EVENT_TYPE, start=CALENDLY_T0 + timedelta(minutes=30 * n), email=f"p{n}@x.org"
        )
    calls = calendly_api.calls
    visits = list(calendly_api.visits(min_start=CALENDLY_T0, max_start=CALENDLY_T0 + timedelta(days=10)))
    assert len(visits) == 230
    assert [v.start for v in visits] == sorted(v.start for v in visits)
    assert calendly_api.calls - calls == 3 + 230  # three pages of events, each event's invitees


def test_a_wrong_token_is_a_configuration_error(
    calendly_sandbox: CalendlySandbox, calendly_server: SandboxServer, calendly_waits: ManualClock
) -> None:
    settings = CalendlyApiSettings(organization=calendly_sandbox.organization_uri, api_host=calendly_server.url)
    api = CalendlyApi(settings, "not-the-token", sleep=calendly_waits.sleep, monotonic=calendly_waits.monotonic)
    with pytest.raises(ConfigError, match="token"):
        list(api.visits(min_start=CALENDLY_T0, max_start=CALENDLY_T0 + timedelta(days=1)))
    assert not api.check().ok


def test_throttling_is_waited_out_then_retry_later(
    calendly_api: CalendlyApi, calendly_faults: Faults, calendly_waits: ManualClock
) -> None:
    calendly_faults.share_429 = 1.0
    calendly_faults.retry_after_s = 2
    with pytest.raises(RetryLater):
        list(calendly_api.visits(min_start=CALENDLY_T0, max_start=CALENDLY_T0 + timedelta(days=1)))
    assert calendly_waits.sleeps == [2.0] * calendly_api.settings.max_retries
