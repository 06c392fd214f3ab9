"""The store, on SQLite and on PostgreSQL (the latter marked; skipped with a reason when absent)."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.store import Store, repo
from hub.store.models import ConsentRow, FollowUpRow, InboxRow, LeadRow, OutboxRow
from nurture.cadence import CadencePlan, PlannedStep
from nurture.errors import RetryLater
from nurture.lead import NextAction
from nurture.touches import Touch
from nurture.vocab import ContactChannel, Intent, Need, NextActionKind, Score, TouchOutcome
from tests.factories import T0, consent, lead


def full_lead():  # type: ignore[no-untyped-def]
    return lead(
        intent=Intent.INSURANCE_AUTHORIZATION,
        needs=frozenset({Need.INSURANCE, Need.LANGUAGE}),
        preferred_language="es",
        next_action=NextAction(
            kind=NextActionKind.VERIFY_INSURANCE,
            due_at=T0 + timedelta(minutes=15),
            owner_queue="Insurance Desk",
        ),
        score=Score.C,
        consent=consent(ContactChannel.SMS, denied=(ContactChannel.EMAIL,)),
        external_ids={"salesforce": "00Q000000000001AAA", "typeform:abc": "tok_1"},
        triage_keywords=("insurance_authorization:es:seguro",),
    )


def test_the_schema_is_current_after_migrating(store: Store) -> None:
    assert store.is_current()


def test_a_lead_round_trips_with_everything_it_carries(store: Store) -> None:
    original = full_lead()
    with store.tx() as s:
        assert repo.save_lead(s, original, expected_version=None) == 1
    with store.tx() as s:
        loaded = repo.load_lead(s, original.id)
    assert loaded is not None
    assert loaded[0] == original
    assert loaded[1] == 1


def test_consent_entries_are_appended_not_rewritten(store: Store) -> None:
    original = full_lead()
    with store.tx() as s:
        repo.save_lead(s, original, expected_version=None)
    revoked = original.evolve(
        consent=original.consent.revoke([ContactChannel.SMS], at=T0 + timedelta(hours=1), source="sms_keyword")
    )
    with store.tx() as s:
        repo.save_lead(s, revoked, expected_version=1)
        assert s.scalar(select(func.count()).select_from(ConsentRow)) == 3
    with store.tx() as s:
        loaded = repo.load_lead(s, original.id)
    assert loaded is not None
    assert loaded[0].consent.state(ContactChannel.SMS).value == "denied"


def test_a_concurrent_change_is_detected(store: Store) -> None:
    original = full_lead()
    with store.tx() as s:
        repo.save_lead(s, original, expected_version=None)
    with store.tx() as s:
        repo.save_lead(s, original.evolve(first_name="Ann"), expected_version=1)
    with pytest.raises(RetryLater, match="changed concurrently"), store.tx() as s:
        repo.save_lead(s, original.evolve(first_name="Anna"), expected_version=1)


def test_a_failed_transaction_leaves_nothing_behind(store: Store) -> None:
    def crash_between_writes() -> None:
        with store.tx() as s:
            repo.save_lead(s, full_lead(), expected_version=None)
            repo.enqueue(
                s,
                destinations=["hubspot"],
                kind="upsert_lead",
                key="nh_test0001",
                lead_id="nh_test0001",
                now=T0,
            )
            raise RuntimeError("crash between writes")

    with pytest.raises(RuntimeError):
        crash_between_writes()
    with store.tx() as s:
        assert s.scalar(select(func.count()).select_from(LeadRow)) == 0
        assert s.scalar(select(func.count()).select_from(OutboxRow)) == 0


def test_leads_are_matched_by_external_id_then_phone_then_email(store: Store) -> None:
    with store.tx() as s:
        repo.save_lead(s, full_lead(), expected_version=None)
    with store.tx() as s:
        assert repo.find_lead_id(s, external_ids={"salesforce": "00Q000000000001AAA"}, phone=None, email=None)
        assert repo.find_lead_id(s, external_ids={}, phone="+15125550142", email=None) == "nh_test0001"
        assert repo.find_lead_id(s, external_ids={}, phone=None, email="ana.ruiz@example.org") == "nh_test0001"
        assert repo.find_lead_id(s, external_ids={"hubspot": "1"}, phone="+15125550199", email="x@example.org") is None


def test_a_pending_write_is_queued_once(store: Store) -> None:
    with store.tx() as s:
        for _ in range(3):
            repo.enqueue(
                s,
                destinations=["hubspot", "salesforce"],
                kind="upsert_lead",
                key="nh_1",
                lead_id="nh_1",
                now=T0,
            )
    with store.tx() as s:
        assert repo.outbox_depth(s) == {"hubspot": 1, "salesforce": 1}


def test_replanning_moves_cancels_and_reports_requested_tasks(store: Store) -> None:
    with store.tx() as s:
        repo.save_lead(s, full_lead(), expected_version=None)

    def step(key: str, hours: int) -> PlannedStep:
        return PlannedStep(
            key=key,
            label=key,
            channel=ContactChannel.CALL,
            template="t",
            template_kind=None,
            due_at=T0 + timedelta(hours=hours),
        )

    with store.tx() as s:
        repo.replace_plan(s, "nh_test0001", CadencePlan(steps=(step("a", 1), step("b", 2))), owner_queue="Q", now=T0)
        for row in s.scalars(select(FollowUpRow)):
            row.status = "task_requested"
    with store.tx() as s:
        changes = repo.replace_plan(s, "nh_test0001", CadencePlan(steps=(step("a", 3),)), owner_queue="Q", now=T0)
        assert changes == repo.PlanChanges(cancel=("b",), resend=("a",))
        rows = {r.step_key: r for r in repo.follow_ups(s, "nh_test0001")}
    assert rows["a"].due_at == T0 + timedelta(hours=3)
    assert rows["b"].status == "cancelled"


def test_touches_from_the_same_crm_task_are_recorded_once(store: Store) -> None:
    with store.tx() as s:
        repo.save_lead(s, full_lead(), expected_version=None)
    touch = Touch(channel=ContactChannel.CALL, outcome=TouchOutcome.MISSED, at=T0, step="day0_call")
    with store.tx() as s:
        assert repo.add_touch(s, "nh_test0001", touch, source_ref="salesforce:task:00T1")
        assert not repo.add_touch(s, "nh_test0001", touch, source_ref="salesforce:task:00T1")
    with store.tx() as s:
        assert repo.load_touches(s, "nh_test0001") == [touch]


def test_cursors_are_saved_and_moved(store: Store) -> None:
    with store.tx() as s:
        assert repo.get_cursor(s, "salesforce:Lead") is None
        repo.set_cursor(s, "salesforce:Lead", "2026-12-01T16:00:00.000Z", now=T0)
    with store.tx() as s:
        repo.set_cursor(s, "salesforce:Lead", "2026-12-01T17:00:00.000Z", now=T0)
    with store.tx() as s:
        assert repo.get_cursor(s, "salesforce:Lead") == "2026-12-01T17:00:00.000Z"


def test_times_come_back_aware_in_utc(store: Store) -> None:
    with store.tx() as s:
        repo.save_lead(s, full_lead(), expected_version=None)
    with store.tx() as s:
        row = s.get(LeadRow, "nh_test0001")
        assert row is not None
        assert row.created_at == T0
        assert row.created_at.utcoffset() == timedelta(0)


def _inbox_insert(store: Store):  # type: ignore[no-untyped-def]
    insert = pg_insert if store.dialect == "postgresql" else sqlite_insert
    table = InboxRow.__table__
    return (
        insert(table)  # type: ignore[arg-type]
        .values(source=bindparam("source"), event_id=bindparam("event_id"), received_at=bindparam("at"),
                status="pending", attempts=0, event_type="")
        .on_conflict_do_nothing(index_elements=["source", "event_id"])
        .returning(table.c.id)
    )  # fmt: skip


def test_an_atomic_statement_commits_on_its_own_and_repeats_safely(store: Store) -> None:
    statement = _inbox_insert(store)
    params = {"source": "landing_page", "event_id": "msg_1", "at": T0}

    first = store.execute_atomic(statement, params)
    again = store.execute_atomic(statement, params)

    assert len(first) == 1 and again == []
    with store.read() as session:  # committed, visible to another connection
        assert session.scalar(select(func.count()).select_from(InboxRow)) == 1


@pytest.mark.postgres
def test_an_atomic_statement_survives_the_server_dropping_its_connection(pg_schema_url: str) -> None:
    """The autocommit pool skips the pre-ping; a connection the server closed is replaced once."""
    name = f"nh_dropped_{secrets.token_hex(4)}"  # this store's sessions only: not another test run's
    store = Store(f"{pg_schema_url}&application_name={name}")
    store.migrate()
    try:
        statement = _inbox_insert(store)
        assert store.execute_atomic(statement, {"source": "s", "event_id": "before", "at": T0})
        with store.engine.connect() as conn:  # the server ends this store's other sessions
            ended = (
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
                .scalars()
                .all()
            )
        assert ended and all(ended)  # the autocommit pool's connection is among them

        assert store.execute_atomic(statement, {"source": "s", "event_id": "after", "at": T0})
        with store.read() as session:
            assert set(session.scalars(select(InboxRow.event_id))) == {"before", "after"}
    finally:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE inbox_events")
        store.dispose()
