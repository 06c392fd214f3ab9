"""The demo is dated from now, and a restarted demo sends new deliveries (finding 8 of issue 14):
every event of a run is accepted and processed into a lead or a booking, nothing parked, and a
second run brings new leads instead of duplicate deliveries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.app.bootstrap import Hub, build_hub
from hub.inbound.demo import DemoRun, begin_run, demo_events
from hub.inbound.test_events import send_test_event
from hub.settings.config import HubConfig
from hub.store.models import AppointmentRow, InboxRow, LeadRow
from sandboxes.common import SandboxServer
from tests.webapp.conftest import environ
from webapp import create_app

ZONE = "America/Chicago"


@pytest.mark.parametrize("now", [datetime(2026, 12, 1, 16, 0, tzinfo=UTC), datetime(2031, 6, 18, 21, 30, tzinfo=UTC)])
def test_demo_dates_follow_the_day_it_runs(now: datetime) -> None:
    events = demo_events(now, 1, timezone=ZONE)
    callback = next(body["callback_at"] for _, body in events if isinstance(body, dict) and "callback_at" in body)
    assert now < datetime.fromisoformat(callback) < now + timedelta(days=2)
    booking = next(body for source, body in events if source == "booking")
    calendly = next(body for source, body in events if source == "intro_call")
    assert isinstance(booking, dict)
    assert isinstance(calendly, dict)
    for start in (booking["payload"]["startTime"], calendly["payload"]["scheduled_event"]["start_time"]):
        at = datetime.fromisoformat(start)
        assert now + timedelta(days=1) < at < now + timedelta(days=5)
        assert at.weekday() < 5


def test_each_run_has_new_ids_and_new_people() -> None:
    now = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    first, second = demo_events(now, 1, timezone=ZONE), demo_events(now + timedelta(minutes=5), 2, timezone=ZONE)
    assert len(first) == len(second) == 16
    for (_, a), (_, b) in zip(first, second, strict=True):
        assert a != b
    phones = [b.get("phone") for _, b in first if isinstance(b, dict)]
    assert "(512) 555-0101" in phones
    assert "(512) 555-0101" not in [b.get("phone") for _, b in second if isinstance(b, dict)]
    assert "+15125550100" not in str(second)  # never the clinic's own number


def test_a_restart_finds_the_earlier_demo(tmp_path: Path) -> None:
    assert begin_run(tmp_path, 0) == DemoRun(number=1, earlier_leads=0)
    again = begin_run(tmp_path, 14)
    assert again == DemoRun(number=2, earlier_leads=14)
    assert "found the demo of an earlier run (14 leads" in again.message
    assert "--reset" in again.message
    assert begin_run(tmp_path, 0).number == 1  # an emptied store starts over


def count(hub: Hub, model: type, *where: object) -> int:
    with hub.store.tx() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


def test_every_demo_event_of_two_runs_becomes_a_lead_or_a_booking(tmp_path: Path, config: HubConfig) -> None:
    """Sent as the demo sends them (``send-test-event``, real signatures over HTTP), at today's date."""
    env = environ()
    hub = build_hub(config, database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}", environ=env)
    try:
        with SandboxServer(create_app(hub)) as server:
            for run in (1, 2):
                now = datetime.now(UTC)
                for index, (source, body) in enumerate(demo_events(now, run, timezone=ZONE)):
                    path = tmp_path / f"{run}-{index}.json"
                    path.write_text(json.dumps(body), encoding="utf-8")
                    response = send_test_event(config, source, url=server.url, payload_file=str(path), environ=env)
                    assert response.status_code == 202, (run, source, response.text)
                while hub.inbox.process(now=datetime.now(UTC)).handled:
                    pass
                assert count(hub, InboxRow, InboxRow.status != "done") == 0, run
                assert count(hub, LeadRow) == 16 * run
                assert count(hub, AppointmentRow) == 2 * run
    finally:
        hub.close()
