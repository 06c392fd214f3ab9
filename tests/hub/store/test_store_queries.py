"""The store's answers to the web app and the jobs, as plain data: the CRM connections, the sync
errors, the record of the scheduled jobs' runs, readiness, and a database that does not answer
(StoreUnavailable, not a SQLAlchemy error)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.coordinator.worklist import nav_counts
from hub.store import Store, StoreUnavailable
from hub.store.connections import connection_states, forget_tokens, is_connected, record_check
from hub.store.job_runs import claim_tick, finish_tick, forget_runs
from hub.store.models import ConnectionRow, InboxRow, OutboxRow
from hub.store.sync_errors import inbox_payload, sync_error_count, sync_error_items
from tests.factories import T0

#: Nothing listens on port 1: connecting is refused at once.
NOWHERE = "postgresql+psycopg://nobody@127.0.0.1:1/nothing?connect_timeout=2"


def test_connections_are_plain_data_and_change_as_the_admin_says(store: Store) -> None:
    with store.tx() as s:
        s.add(ConnectionRow(name="hubspot", tokens=b"sealed", status="connected", updated_at=T0, api_limit=100))
    with store.tx() as s:
        states = connection_states(s)
        assert is_connected(s, "hubspot") and not is_connected(s, "salesforce")
    hubspot = states["hubspot"]
    assert (hubspot.connected, hubspot.status, hubspot.api_limit) == (True, "connected", 100)
    assert not hasattr(hubspot, "tokens")
    later = T0 + timedelta(minutes=5)
    with store.tx() as s:
        record_check(s, "hubspot", ok=False, detail="refused", api_used=7, api_limit=100, now=later)
        record_check(s, "salesforce", ok=True, detail="fine", api_used=None, api_limit=None, now=later)  # no row
    with store.tx() as s:
        checked = connection_states(s)
    assert set(checked) == {"hubspot"}
    hubspot = checked["hubspot"]
    assert (hubspot.status, hubspot.detail, hubspot.api_used, hubspot.connected) == ("error", "refused", 7, True)
    with store.tx() as s:
        forget_tokens(s, "hubspot", detail="disconnected from the admin UI", now=later)
    with store.tx() as s:
        gone = connection_states(s)["hubspot"]
        row = s.get(ConnectionRow, "hubspot")
        assert row is not None and row.tokens is None and row.updated_at == later
    assert (gone.connected, gone.status, gone.detail) == (False, "disconnected", "disconnected from the admin UI")


def test_sync_errors_are_items_of_plain_data_and_counted(store: Store) -> None:
    with store.tx() as s:
        s.add_all([
            OutboxRow(destination="salesforce", kind="upsert_lead", key="nh_1", lead_id="nh_1", created_at=T0,
                      status="failed", attempts=3, next_attempt_at=T0, last_error="bad picklist",
                      error_code="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", error_field="LeadSource", retries=1),
            OutboxRow(destination="salesforce", kind="upsert_lead", key="nh_1", lead_id="nh_1", created_at=T0,
                      status="done", attempts=1, next_attempt_at=T0),
            InboxRow(source="landing_page", event_id="e1", event_type="lead.created", received_at=T0,
                     payload=b"sealed", status="parked", attempts=1, error="no phone", error_code="unmappable"),
            InboxRow(source="landing_page", event_id="e2", event_type="lead.created", received_at=T0,
                     payload=None, status="dead", attempts=5),
        ])  # fmt: skip
    with store.tx() as s:
        items = sync_error_items(s, limit=10)
        assert sync_error_count(s) == 3
        assert sync_error_items(s, limit=1) == [items[0], items[1]]  # at most one of each
        parked, purged = (item.id for item in items if item.origin == "inbox")
        assert inbox_payload(s, parked) == b"sealed"
        assert inbox_payload(s, purged) is None and inbox_payload(s, 10_000) is None
    assert [(i.origin, i.status, i.kind, i.field, i.message, i.again) for i in items] == [
        ("outbox", "failed", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "LeadSource", "bad picklist", 1),
        ("inbox", "parked", "unmappable", "", "no phone", 0),
        ("inbox", "dead", "error", "", "", 0),
    ]


def test_a_tick_is_claimed_once_finished_and_forgotten_later(store: Store) -> None:
    assert claim_tick(store, "cadence", T0, started_at=T0, runner="a")
    assert not claim_tick(store, "cadence", T0, started_at=T0, runner="b")
    finish_tick(store, "cadence", T0, finished_at=T0 + timedelta(seconds=1), outcome="x" * 300)
    assert claim_tick(store, "cadence", T0 + timedelta(minutes=1), started_at=T0 + timedelta(minutes=1), runner="b")
    assert forget_runs(store, started_before=T0 + timedelta(seconds=30)) == 1
    assert forget_runs(store, started_before=T0 + timedelta(seconds=30)) == 0
    assert claim_tick(store, "cadence", T0, started_at=T0, runner="c")  # forgotten: that tick is long past


def test_a_migrated_store_is_ready_and_an_empty_one_behind(store: Store) -> None:
    assert store.probe() is True
    empty = Store("sqlite://")
    try:
        assert empty.probe() is False
    finally:
        empty.dispose()


def test_a_database_that_does_not_answer_is_store_unavailable() -> None:
    store = Store(NOWHERE)
    try:
        with pytest.raises(StoreUnavailable) as caught:
            store.probe()
        assert caught.value.cause == "OperationalError"
        with pytest.raises(StoreUnavailable):
            nav_counts(store, 1, now=T0)
    finally:
        store.dispose()
