"""The inbox processes a batch of events in one transaction (issue 19): few statements per event,
two events of one person in a batch make one lead, an unmappable event is parked without undoing its
batch, and an event that fails inside the batch leaves every other event done exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import event, func, select

from hub.app.bootstrap import Hub, build_hub
from hub.inbound.intake import Intake
from hub.settings.config import HubConfig
from hub.store.models import Base, InboxRow, LeadRow, TouchRow
from nurture.vocab import TouchOutcome
from tests.fixtures.clock import ManualClock


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hub(request: pytest.FixtureRequest, tmp_path: Path, config: HubConfig, clock: ManualClock) -> Iterator[Hub]:
    url = (
        f"sqlite:///{tmp_path / 'hub.sqlite3'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_schema_url")
    )
    the_hub = build_hub(config, database_url=url, environ={"NURTUREHUB_DATA_KEY": Fernet.generate_key().decode()},
                        clock=clock)  # fmt: skip
    yield the_hub
    if request.param == "postgresql":
        with the_hub.store.engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {', '.join(t.name for t in Base.metadata.sorted_tables)} CASCADE")
    the_hub.close()


def person(n: int, **extra: Any) -> dict[str, Any]:
    return {"channel": "paid_search", "first_name": "Batch", "last_name": f"Person{n}",
            "phone": f"+1512555{n:04d}", "email": f"batch{n}@example.org",
            "text": "I'd like to book an appointment", **extra}  # fmt: skip


def accept(hub: Hub, clock: ManualClock, payloads: list[dict[str, Any]]) -> None:
    for n, payload in enumerate(payloads):
        hub.inbox.accept(source="landing_page", event_id=f"msg_batch_{n}", event_type="inquiry", payload=payload,
                         received_at=clock.now)  # fmt: skip


def warm_up(hub: Hub, clock: ManualClock) -> None:
    """One event processed first: the source's mapping is read (in a transaction of its own) once."""
    hub.inbox.accept(source="landing_page", event_id="msg_warm_up", event_type="inquiry", payload=person(9999),
                     received_at=clock.now)  # fmt: skip
    assert hub.inbox.process(now=clock.now).done == 1


def count(hub: Hub, model: type, *where: Any) -> int:
    with hub.store.tx() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


class Counted:
    """Statements and transactions on the hub's store while the block runs."""

    def __init__(self, hub: Hub) -> None:
        self.engine = hub.store.engine
        self.statements = self.transactions = 0

    def _statement(self, *_: Any) -> None:
        self.statements += 1

    def _begin(self, *_: Any) -> None:
        self.transactions += 1

    def __enter__(self) -> Counted:
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "begin", self._begin)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "begin", self._begin)


def test_a_batch_of_different_people_is_one_transaction_of_few_statements(hub: Hub, clock: ManualClock) -> None:
    warm_up(hub, clock)
    accept(hub, clock, [person(n) for n in range(10)])  # a batch on SQLite is 10 at most
    with Counted(hub) as counted:
        report = hub.inbox.process(now=clock.now, limit=50)
    assert (report.done, report.parked, report.retried) == (10, 0, 0)
    assert len(set(report.lead_ids)) == 10 == count(hub, LeadRow) - 1
    assert counted.transactions == 1
    # Before batching: 21 statements an event on PostgreSQL, each event a transaction of its own.
    # Now on PostgreSQL: who it is (2), opt-outs on file (1), and one INSERT each into leads,
    # follow-ups (all steps), audit, identity keys (both) and touches; the batch's claim, identity
    # locks and done marks once. SQLite inserts the follow-ups row by row.
    per_event = 8 if hub.store.dialect == "postgresql" else 12
    assert counted.statements <= per_event * 10 + 5, counted.statements
    assert count(hub, InboxRow, InboxRow.status == "done") == 11


def test_two_events_of_one_person_in_one_batch_make_one_lead_with_both_inquiries(hub: Hub, clock: ManualClock) -> None:
    accept(hub, clock, [person(1), person(2), person(1, channel="website_form", text="also, do you take Aetna?")])
    report = hub.inbox.process(now=clock.now, limit=50)
    assert report.done == 3
    assert count(hub, LeadRow) == 2
    first = report.lead_ids[0]
    assert report.lead_ids[2] == first
    assert count(hub, TouchRow, TouchRow.lead_id == first, TouchRow.outcome == TouchOutcome.INQUIRED.value) == 2


def test_an_unmappable_event_is_parked_without_undoing_its_batch(hub: Hub, clock: ManualClock) -> None:
    no_way_back = {"channel": "paid_search", "first_name": "Nobody", "text": "call me"}
    warm_up(hub, clock)
    accept(hub, clock, [person(1), no_way_back, person(2)])
    with Counted(hub) as counted:
        report = hub.inbox.process(now=clock.now, limit=50)
    assert (report.done, report.parked) == (2, 1)
    assert counted.transactions == 1
    assert count(hub, LeadRow) == 3
    with hub.store.tx() as s:
        parked = s.scalars(select(InboxRow).where(InboxRow.status == "parked")).one()
        assert parked.error_code == "no_contact_fields"


def test_an_event_failing_inside_the_batch_leaves_the_others_done_exactly_once(
    hub: Hub, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch is rolled back and its events go on one by one: the failing one is retried later,
    the others are done once — one lead each, one inquiry each."""
    real = Intake.submit_in

    def submit_in(self: Intake, session: Any, inquiry: Any, **kw: Any) -> Any:
        if inquiry.last_name == "Person3":
            raise ConnectionError("the database went away mid-event")
        return real(self, session, inquiry, **kw)

    monkeypatch.setattr(Intake, "submit_in", submit_in)
    accept(hub, clock, [person(n) for n in range(1, 6)])
    report = hub.inbox.process(now=clock.now, limit=50)
    assert (report.done, report.retried, report.parked) == (4, 1, 0)
    assert count(hub, LeadRow) == 4
    assert count(hub, TouchRow, TouchRow.outcome == TouchOutcome.INQUIRED.value) == 4
    with hub.store.tx() as s:
        pending = s.scalars(select(InboxRow).where(InboxRow.status == "pending")).one()
        assert (pending.attempts, pending.error_code) == (1, "ConnectionError")
    monkeypatch.undo()
    clock.advance(hours=2)
    assert hub.inbox.process(now=clock.now, limit=50).done == 1
    assert count(hub, LeadRow) == 5


def test_a_failure_to_claim_is_raised_for_the_worker_loop_to_report_not_swallowed(
    hub: Hub, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    accept(hub, clock, [person(1)])

    def away(*_: Any, **__: Any) -> Any:
        raise ConnectionError("the database is away")

    monkeypatch.setattr(type(hub.inbox), "_claim_due", away)
    with pytest.raises(ConnectionError):
        hub.inbox.process(now=clock.now)
    monkeypatch.undo()
    assert hub.inbox.process(now=clock.now).done == 1
