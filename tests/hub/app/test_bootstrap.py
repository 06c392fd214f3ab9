"""build_hub's seams (issue 16 item 7): the collaborators a test or a tool passes in are the ones
the hub uses — CRM connectors, the scheduling system, the clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from connectors.fake import FakeCrm
from connectors.scheduling import InMemoryScheduling
from hub.app.bootstrap import build_hub
from hub.store.crypto import ENV_DATA_KEY, new_key
from tests.fixtures.clock import ManualClock


def test_the_collaborators_given_are_the_ones_used(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 12, 1, 16, 0, tzinfo=UTC))
    calendar = InMemoryScheduling(clock=clock)
    crm = FakeCrm()
    hub = build_hub(
        database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        environ={ENV_DATA_KEY: new_key()},
        clock=clock,
        connectors={"salesforce": crm},
        scheduling=calendar,
    )
    try:
        assert hub.scheduling_connector() is calendar
        assert hub.bookings_connector("fhir") is calendar
        assert hub.clock() == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
        engine = hub.sync_engine()
        assert engine is not None
        assert engine.destinations["salesforce"].connector is crm
        assert hub.intake.destinations == ("salesforce",)
    finally:
        hub.close()


def test_without_a_scheduling_system_configured_there_is_none(tmp_path: Path) -> None:
    hub = build_hub(database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}", environ={ENV_DATA_KEY: new_key()})
    try:
        assert hub.scheduling_connector() is None
        assert hub.bookings_intervals() == {}
    finally:
        hub.close()
