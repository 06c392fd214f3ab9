"""Chaos: separate web and worker processes over one store, signed webhooks pouring in, workers
killed with SIGKILL at random instants and restarted — and at the end the CRM sandbox holds exactly
one lead per inquiry and exactly one Day-0 call task per lead, and the hub's store agrees.

PostgreSQL: 3 worker processes and 1 web process (gunicorn), 10,000 webhooks, 20 kills
(``NURTUREHUB_CHAOS_EVENTS`` / ``NURTUREHUB_CHAOS_KILLS`` change the numbers). SQLite: the same
with 1,000 webhooks and one worker killed and restarted.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from connectors.inbound import sign_request
from connectors.sandbox.harness import free_port
from hub.bootstrap import build_hub
from hub.config import load_config
from hub.store.models import Base, InboxRow, LeadRow, OutboxRow
from tests.fixtures.salesforce_sandbox import SalesforceOrg

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "config.example.toml").read_text(encoding="utf-8")
SECRET = "whsec_" + base64.b64encode(b"chaos-landing-page-secret-32byte").decode()

pytestmark = [pytest.mark.slow]


def _config(path: Path, org: SalesforceOrg) -> Path:
    """The example clinic, open around the clock (so every Day-0 task is due now), with the
    Salesforce sandbox as its CRM and short leases (a killed worker's batch comes back quickly)."""
    text = EXAMPLE
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        text = text.replace(f'\n{day} = ["08:00-12:00", "13:00-19:00"]', f'\n{day} = ["00:00-24:00"]')
    text = text.replace('\nsat = ["09:00-13:00"]', '\nsat = ["00:00-24:00"]').replace(
        "\nsun = []", '\nsun = ["00:00-24:00"]'
    )
    text = text.replace('quiet_hours = "08:00-21:00"', 'quiet_hours = "00:00-24:00"')
    text = text.replace("lease_seconds = 300", "lease_seconds = 8").replace(
        "worker_idle_seconds = 0.25", "worker_idle_seconds = 0.05"
    )
    text = text.replace("holidays = [", "holidays = [] # [")
    text += f"""
[crm.salesforce]
enabled = true
login_url = "{org.server.url}"
client_id = "nurturehub-sandbox"
ca_bundle = "{org.ca_path}"
requests_per_second = 50.0
"""
    path.write_text(text, encoding="utf-8")
    load_config(path, environ={})  # valid, or fail here with every problem listed
    return path


@dataclass
class Cluster:
    """Web and worker processes over one store."""

    env: dict[str, str]
    cwd: Path
    web_url: str = ""
    web: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    kills: int = 0

    def start_web(self, workers: int = 2) -> None:
        port = free_port()
        self.web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
             "--log-level", "warning", "webapp.wsgi:app"],
            cwd=self.cwd, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.web_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.web_url}/readyz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError("the web process did not become ready")

    def start_worker(self) -> subprocess.Popen[bytes]:
        worker = subprocess.Popen(
            [sys.executable, "-m", "jobs", "worker"],
            cwd=self.cwd, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.workers.append(worker)
        return worker

    def kill_one(self, rng: random.Random) -> None:
        alive = [w for w in self.workers if w.poll() is None]
        victim = rng.choice(alive)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        self.workers.remove(victim)
        self.kills += 1
        self.start_worker()

    def stop(self) -> None:
        for process in [*self.workers, *([self.web] if self.web else [])]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.workers, *([self.web] if self.web else [])]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _send_all(url: str, count: int, senders: int) -> None:
    """Every event delivered at least once, as a vendor with retries would."""

    def send(first: int, step: int) -> None:
        with requests.Session() as session:
            session.trust_env = False
            for n in range(first, count, step):
                body = json.dumps(
                    {"channel": "paid_search", "first_name": "Chaos", "last_name": f"Patient{n}",
                     "phone": f"+1737555{n:04d}" if n < 10_000 else None, "email": f"chaos{n}@example.org",
                     "text": "I'd like an appointment"}
                ).encode()  # fmt: skip
                for _ in range(50):
                    headers = sign_request(
                        "standard_webhook", body, secret=SECRET, now=datetime.now(UTC), event_id=f"msg_chaos_{n}"
                    )
                    try:
                        response = session.post(
                            f"{url}/webhooks/landing_page",
                            data=body,
                            headers={**headers, "Content-Type": "application/json"},
                            timeout=30,
                        )
                    except requests.RequestException:
                        time.sleep(0.2)
                        continue
                    if response.status_code in (200, 202):
                        break
                    time.sleep(0.2)
                else:
                    raise AssertionError(f"event {n} was never accepted")

    threads = [threading.Thread(target=send, args=(k, senders)) for k in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _run(
    *,
    database_url: str,
    org: SalesforceOrg,
    tmp_path: Path,
    events: int,
    workers: int,
    kills: int,
    wipe: Callable[[], None],
) -> None:
    config_path = _config(tmp_path / "chaos.toml", org)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NURTUREHUB_")},
        "NURTUREHUB_CONFIG": str(config_path),
        "NURTUREHUB_DATABASE_URL": database_url,
        "NURTUREHUB_DATA_KEY": Fernet.generate_key().decode(),
        "NURTUREHUB_SECRET_LANDING_PAGE": SECRET,
        "NURTUREHUB_SALESFORCE_CLIENT_SECRET": "sandbox-secret",
        "PYTHONPATH": str(ROOT),
    }
    hub = build_hub(load_config(config_path, environ=env), database_url=database_url, environ=env)
    hub.tokens("salesforce").save(
        {"access_token": org.sandbox.issue_token(), "instance_url": org.server.url, "token_type": "Bearer"},
        now=datetime.now(UTC),
    )
    cluster = Cluster(env=env, cwd=tmp_path)
    rng = random.Random(2026)
    try:
        cluster.start_web()
        for _ in range(workers):
            cluster.start_worker()
        started = time.monotonic()
        sender = threading.Thread(target=_send_all, args=(cluster.web_url, events, 6))
        sender.start()
        while cluster.kills < kills:  # kill at random instants while events arrive and are processed
            time.sleep(rng.uniform(0.5, 3.0))
            cluster.kill_one(rng)
        sender.join()
        sent = time.monotonic() - started
        deadline = time.monotonic() + 900
        while True:
            with hub.store.tx() as s:
                pending = s.scalar(select(func.count()).select_from(InboxRow).where(InboxRow.status == "pending"))
                queued = s.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.status == "pending"))
            if pending == 0 and queued == 0:
                break
            assert time.monotonic() < deadline, f"not drained: inbox {pending}, outbox {queued}"
            time.sleep(1)
        drained = time.monotonic() - started
        print(f"chaos: {events} events sent in {sent:.0f} s, all processed and in the CRM after {drained:.0f} s")
    finally:
        cluster.stop()
    with hub.store.tx() as s:
        leads = s.scalar(select(func.count()).select_from(LeadRow))
        done = s.scalar(select(func.count()).select_from(InboxRow).where(InboxRow.status == "done"))
        troubled = s.execute(
            select(OutboxRow.status, func.count()).where(OutboxRow.status != "done").group_by(OutboxRow.status)
        ).all()
    crm_leads = org.sf.query("SELECT COUNT() FROM Lead WHERE Nurture_Id__c != null")["totalSize"]
    day0 = org.sf.query("SELECT COUNT() FROM Task WHERE Nurture_Task_Key__c LIKE '%:day0_call'")["totalSize"]
    hub.close()
    wipe()
    assert cluster.kills == kills
    assert (done, leads) == (events, events)
    assert troubled == []
    assert crm_leads == events
    assert day0 == events


@pytest.fixture
def sf_org_for_chaos(make_sf_org: Callable[..., SalesforceOrg]) -> SalesforceOrg:
    return make_sf_org()


@pytest.mark.postgres
def test_chaos_on_postgresql(pg_schema_url: str, sf_org_for_chaos: SalesforceOrg, tmp_path: Path) -> None:
    events = int(os.environ.get("NURTUREHUB_CHAOS_EVENTS", "10000"))
    kills = int(os.environ.get("NURTUREHUB_CHAOS_KILLS", "20"))

    def wipe() -> None:
        from hub.store import Store

        store = Store(pg_schema_url)
        with store.engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {', '.join(t.name for t in Base.metadata.sorted_tables)} CASCADE")
        store.dispose()

    _run(
        database_url=pg_schema_url, org=sf_org_for_chaos, tmp_path=tmp_path, events=events, workers=3, kills=kills,
        wipe=wipe,
    )  # fmt: skip


def test_chaos_on_sqlite(sf_org_for_chaos: SalesforceOrg, tmp_path: Path) -> None:
    _run(
        database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}", org=sf_org_for_chaos, tmp_path=tmp_path, events=1000,
        workers=1, kills=4, wipe=lambda: None,
    )  # fmt: skip
