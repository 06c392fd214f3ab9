"""Calendly visits read back on a schedule (the hub, the Calendly reader, the Calendly sandbox): a
visit booked through Calendly becomes kept or no-show, a visit whose webhook never came is matched
by the invitee's email, strangers are counted, and the frontier cursor moves past final visits."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from connectors.scheduling.calendly import CalendlyApi
from connectors.scheduling.calendly_events import CalendlyEventType, CalendlySettings, booking_event
from hub.bookings.calendly import CURSOR, build_calendly, calendly_pull_interval, pull_calendly
from hub.bookings.scheduling import apply_booking
from hub.inbound.intake import Intake
from hub.settings.config import HubConfig, parse_config
from hub.store import Store, repo
from nurture.errors import ConfigError
from nurture.inquiry import Inquiry
from nurture.vocab import Channel, Intent, Stage
from sandboxes.calendly import CalendlySandbox
from sandboxes.common import SandboxServer
from tests.fixtures.calendly_sandbox import CALENDLY_T0, EVENT_TYPE
from tests.fixtures.clock import ManualClock

DEST = ("crm",)
KINDS = CalendlySettings(event_types=(CalendlyEventType(uri=EVENT_TYPE, service="primary_care", location="downtown"),))


def new_lead(store: Store, config: HubConfig, lead_id: str, email: str) -> str:
    inquiry = Inquiry(
        channel=Channel.WEBSITE_FORM, received_at=CALENDLY_T0 - timedelta(days=1), first_name="Ana",
        email=email, service="primary_care", location="downtown", intent_hint=Intent.READY_TO_SCHEDULE,
    )  # fmt: skip
    result = Intake(store, config, destinations=DEST, id_factory=lambda _: lead_id).submit(inquiry, actor="test")
    assert result.lead is not None
    return result.lead.id


def webhook_arrived(store: Store, config: HubConfig, sandbox: CalendlySandbox, event_id: str, lead_id: str) -> None:
    said = booking_event(sandbox.webhook(event_id), KINDS)
    assert said is not None
    with store.tx() as session:
        found = repo.load_lead(session, lead_id, for_update=True)
        assert found is not None
        result = apply_booking(
            session, lead=found[0], version=found[1], booking=said.booking, config=config,
            now=CALENDLY_T0 - timedelta(hours=20), actor="source:calendly", destinations=DEST,
        )  # fmt: skip
        assert result.ok


def stage(store: Store, lead_id: str) -> Stage:
    with store.read() as s:
        found = repo.load_lead(s, lead_id)
    assert found is not None
    return found[0].stage


def with_calendly(config: HubConfig, server: SandboxServer, sandbox: CalendlySandbox) -> HubConfig:
    """The clinic's configuration with ``[scheduling.calendly]`` reading visits back."""
    calendly = {
        "pull": True, "organization": sandbox.organization_uri, "api_host": server.url, "no_show_grace_hours": 24,
        "event_types": [{"uri": EVENT_TYPE, "service": "primary_care", "location": "downtown"}],
    }  # fmt: skip
    raw = {**config.raw, "scheduling": {**config.raw.get("scheduling", {}), "calendly": calendly}}
    return parse_config(raw, source="test", environ={})


def test_the_pull_is_configured_in_scheduling_calendly(
    config: HubConfig, calendly_server: SandboxServer, calendly_sandbox: CalendlySandbox
) -> None:
    clinic = with_calendly(config, calendly_server, calendly_sandbox)
    assert calendly_pull_interval(clinic) == timedelta(minutes=15)
    assert calendly_pull_interval(config) is None  # off unless asked for
    with pytest.raises(ConfigError, match="NURTUREHUB_CALENDLY_TOKEN"):
        build_calendly(clinic, {})
    api = build_calendly(clinic, {"NURTUREHUB_CALENDLY_TOKEN": calendly_sandbox.token})
    assert api is not None
    assert api.check().ok


def test_visits_become_kept_or_no_show_and_the_frontier_moves_on(
    store: Store,
    config: HubConfig,
    calendly_api: CalendlyApi,
    calendly_sandbox: CalendlySandbox,
    calendly_server: SandboxServer,
    calendly_clock: ManualClock,
) -> None:
    config = with_calendly(config, calendly_server, calendly_sandbox)
    ana = new_lead(store, config, "nh_cal00001", "ana@example.org")
    ben = new_lead(store, config, "nh_cal00002", "Ben@Example.org")
    kept = calendly_sandbox.schedule(
        event_type=EVENT_TYPE, start=CALENDLY_T0 + timedelta(hours=1), email="ana@example.org"
    )
    missed = calendly_sandbox.schedule(
        event_type=EVENT_TYPE, start=CALENDLY_T0 + timedelta(hours=2), email="ben@example.org"
    )
    stranger = calendly_sandbox.schedule(
        event_type=EVENT_TYPE, start=CALENDLY_T0 + timedelta(hours=3), email="x@else.org"
    )
    webhook_arrived(store, config, calendly_sandbox, kept, ana)  # Ben's webhook was lost
    assert stage(store, ana) is Stage.SCHEDULED

    now = calendly_clock.advance(hours=4)
    first = pull_calendly(store, config, calendly_api, destinations=DEST, now=now)
    assert (first.read, first.unchanged, first.applied, first.unmatched) == (3, 1, 1, 1)
    assert stage(store, ben) is Stage.SCHEDULED  # matched by the invitee's email
    with store.read() as s:
        assert repo.get_cursor(s, CURSOR) == (CALENDLY_T0 + timedelta(hours=1)).isoformat()  # Ana's is still open

    headers = {"Authorization": f"Bearer {calendly_sandbox.token}"}
    invitee = requests.get(f"{calendly_server.url}/scheduled_events/{missed}/invitees", headers=headers, timeout=5)
    marked = requests.post(
        f"{calendly_server.url}/invitee_no_shows", json={"invitee": invitee.json()["collection"][0]["uri"]},
        headers=headers, timeout=5,
    )  # fmt: skip
    assert marked.status_code == 201
    now = calendly_clock.advance(hours=1)
    pull_calendly(store, config, calendly_api, destinations=DEST, now=now)
    assert stage(store, ben) is Stage.NO_SHOW
    assert stage(store, ana) is Stage.SCHEDULED  # inside the grace: staff may still mark her a no-show

    now = calendly_clock.advance(hours=24)
    pull_calendly(store, config, calendly_api, destinations=DEST, now=now)
    assert stage(store, ana) is Stage.KEPT
    with store.read() as s:  # every visit is final: the next read starts after the newest
        assert repo.get_cursor(s, CURSOR) == (CALENDLY_T0 + timedelta(hours=3, microseconds=1)).isoformat()
    again = pull_calendly(store, config, calendly_api, destinations=DEST, now=now + timedelta(minutes=15))
    assert again.read == 0
    assert stranger  # counted as unmatched above, never imported
