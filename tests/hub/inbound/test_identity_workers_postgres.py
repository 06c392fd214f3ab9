"""Finding 1, with real worker processes: three ``nurturehub worker`` processes on PostgreSQL, 120
inquiries from 40 people (each writes three times, by different channels and with different parts of
their details) accepted by six senders at once — exactly one lead per person, each with its three
inquiries, and a later STOP reaches the one lead there is."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from hub.app.bootstrap import Hub, build_hub
from hub.settings.config import load_config
from hub.store.models import Base, InboxRow, LeadRow, TouchRow

ROOT = Path(__file__).resolve().parents[3]
PEOPLE = 40

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def deliveries(person: int) -> list[dict[str, object]]:
    """Three inquiries of one person, each sharing the phone: a full form, a call-tracking record
    (phone and a nickname), and a newsletter reply (no name, the email typed in capitals)."""
    first = ("Robert", "Elizabeth", "Catherine", "Jose")[person % 4]
    nick = ("Bob", "Liz", "Katherine", "José")[person % 4]
    phone = f"+1737555{person:04d}"
    email = f"person{person}@example.org"
    return [
        {"channel": "paid_search", "first_name": first, "last_name": f"Family{person}", "phone": phone,
         "email": email, "text": "I'd like an appointment"},
        {"channel": "gbp_call", "first_name": nick, "last_name": f"Family{person}", "phone": phone,
         "text": "Caller asked about hours"},
        {"channel": "newsletter_reply", "phone": phone, "email": email.upper(), "text": "please call me back"},
    ]  # fmt: skip


@pytest.fixture
def hub_on_pg(pg_schema_url: str, tmp_path: Path) -> Iterator[tuple[Hub, dict[str, str]]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NURTUREHUB_")},
        "NURTUREHUB_DATABASE_URL": pg_schema_url,
        "NURTUREHUB_DATA_KEY": Fernet.generate_key().decode(),
        "PYTHONPATH": str(ROOT),
    }
    hub = build_hub(load_config(None, environ=env), database_url=pg_schema_url, environ=env)
    yield hub, env
    with hub.store.engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {', '.join(t.name for t in Base.metadata.sorted_tables)} CASCADE")
    hub.close()


def _drained(hub: Hub, total: int) -> None:
    deadline = time.monotonic() + 180
    while True:
        with hub.store.tx() as s:
            done = s.scalar(select(func.count()).select_from(InboxRow).where(InboxRow.status != "pending"))
        if done == total:
            return
        assert time.monotonic() < deadline, f"only {done} of {total} events processed"
        time.sleep(0.3)


def test_three_workers_make_exactly_one_lead_per_person(hub_on_pg: tuple[Hub, dict[str, str]], tmp_path: Path) -> None:
    hub, env = hub_on_pg
    events = [(f"p{p}-{n}", body) for p in range(PEOPLE) for n, body in enumerate(deliveries(p))]
    random.Random(14).shuffle(events)  # the same person's inquiries arrive in any order, close together
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "jobs", "worker", "--no-scheduler"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(3)
    ]
    try:

        def send(part: list[tuple[str, dict[str, object]]]) -> None:
            for event_id, body in part:
                hub.inbox.accept(source="landing_page", event_id=event_id, event_type="inquiry", payload=body,
                                 received_at=datetime.now(UTC))  # fmt: skip

        senders = [threading.Thread(target=send, args=(events[k::6],)) for k in range(6)]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        _drained(hub, len(events))

        with hub.store.tx() as s:
            statuses = dict(s.execute(select(InboxRow.status, func.count()).group_by(InboxRow.status)).all())
            lead_count = s.scalar(select(func.count()).select_from(LeadRow))
            per_lead = s.execute(
                select(TouchRow.lead_id, func.count()).where(TouchRow.outcome == "inquired").group_by(TouchRow.lead_id)
            ).all()
        assert statuses == {"done": len(events)}
        assert lead_count == PEOPLE
        assert sorted(n for _, n in per_lead) == [3] * PEOPLE  # every inquiry recorded on its lead

        # A STOP reaches the one lead there is: every channel denied on it.
        hub.inbox.accept(source="landing_page", event_id="stop-7", event_type="inquiry",
                         payload={"channel": "paid_search", "phone": "+17375550007", "text": "STOP"},
                         received_at=datetime.now(UTC))  # fmt: skip
        _drained(hub, len(events) + 1)
        with hub.store.tx() as s:
            rows = s.execute(select(LeadRow.id).where(LeadRow.phone == "+17375550007")).all()
        assert len(rows) == 1
        with hub.store.tx() as s:
            from hub.store import repo

            found = repo.load_lead(s, rows[0].id)
        assert found is not None
        assert set(found[0].consent.summary().values()) == {"denied"}
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=30)
