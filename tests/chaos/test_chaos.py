"""Chaos: separate web and worker processes over one store and two CRMs, signed webhooks pouring
in, workers killed with SIGKILL at random instants and restarted. Of the deliveries, 30 % are people
writing again from another channel (a nickname, a phone number typed another way, the email in
capitals) and 5 % are Cal.com bookings sent within seconds of the person's first inquiry. At the end:

- exactly one lead per person, in the hub and in both CRMs (Salesforce and HubSpot sandboxes);
- every inquiry recorded on its lead (one ``inquired`` touch per delivery);
- no open cadence task in either CRM for a booked or closed lead, and one Day-0 call task per lead;
- nothing parked, every outbox item settled.

PostgreSQL: 3 worker processes and 1 web process (gunicorn), 20 kills; 2,000 deliveries in CI, the
full run with ``NURTUREHUB_CHAOS_EVENTS=10000`` (``NURTUREHUB_CHAOS_KILLS`` changes the kills). SQLite:
1,000 deliveries, one worker killed and restarted 4 times. The figures are printed.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from connectors.hubspot import HubSpotConnector
from connectors.inbound import sign_request
from hub.app.bootstrap import build_hub
from hub.settings.config import load_config
from hub.store.models import Base, InboxRow, LeadRow, OutboxRow, TouchRow
from nurture.vocab import BOOKED_STAGES, CLOSED_STAGES
from sandboxes.common import SandboxServer, free_port
from sandboxes.hubspot import HubSpotSandbox
from tests.fixtures.salesforce_sandbox import SalesforceOrg

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "config.example.toml").read_text(encoding="utf-8")
SECRET = "whsec_" + base64.b64encode(b"chaos-landing-page-secret-32byte").decode()

pytestmark = [pytest.mark.slow]

SETTLED_STAGES = sorted(s.value for s in BOOKED_STAGES | CLOSED_STAGES)


def _config(path: Path, org: SalesforceOrg, hubspot_url: str) -> Path:
    """The example clinic, open around the clock (so every Day-0 task is due now), with both CRM
    sandboxes and short leases (a killed worker's batch comes back quickly)."""
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

[crm.hubspot]
enabled = true
api_host = "{hubspot_url}"
client_id = "nurturehub-sandbox"
requests_per_second = 19.0
burst = 100
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


FIRST_NAMES = (("Robert", "Bob"), ("Elizabeth", "Liz"), ("Catherine", "Katherine"), ("Jose", "José"),
               ("William", "Bill"), ("Ana", "Ana"), ("Jonathan", "Jon"), ("Margaret", "Maggie"))  # fmt: skip


@dataclass(frozen=True)
class Mix:
    """Who sends what: ``people`` first inquiries, ``repeats`` people writing again from another
    channel, ``bookings`` people booking on Cal.com within seconds of their first inquiry."""

    people: int
    repeats: int
    bookings: int

    @classmethod
    def of(cls, deliveries: int) -> Mix:
        repeats, bookings = round(deliveries * 0.30), round(deliveries * 0.05)
        return cls(people=deliveries - repeats - bookings, repeats=repeats, bookings=bookings)

    @property
    def deliveries(self) -> int:
        return self.people + self.repeats + self.bookings

    def booked(self, person: int) -> bool:
        return person >= self.people - self.bookings


def _person(n: int) -> tuple[str, str, str, str, str]:
    first, nick = FIRST_NAMES[n % len(FIRST_NAMES)]
    return first, nick, f"Chaos{n}", f"+1737555{n:04d}", f"chaos{n}@example.org"


def _deliveries(mix: Mix, person: int, now: datetime) -> list[tuple[str, str, bytes]]:
    """One person's deliveries in the order they are sent: ``(source, event id, body)``."""
    first, nick, last, phone, email = _person(person)
    out = [("landing_page", f"msg_first_{person}", json.dumps(
        {"channel": "paid_search", "first_name": first, "last_name": last, "phone": phone, "email": email,
         "text": "I'd like an appointment"}).encode())]  # fmt: skip
    if mix.booked(person):
        start = now + timedelta(days=3)
        booking = {
            "triggerEvent": "BOOKING_CREATED", "createdAt": now.isoformat().replace("+00:00", "Z"),
            "payload": {
                "uid": f"chaos_bk_{person}", "eventTypeId": 482113, "status": "ACCEPTED",
                "startTime": start.isoformat().replace("+00:00", "Z"),
                "endTime": (start + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
                "attendees": [{"email": email, "name": f"{first} {last}", "firstName": first, "lastName": last,
                               "timeZone": "America/Chicago", "phoneNumber": phone}],
                "responses": {"name": {"value": f"{first} {last}"}, "email": {"value": email}},
            },
        }  # fmt: skip
        out.append(("booking", f"chaos_bk_{person}", json.dumps(booking).encode()))
    if person < mix.repeats:  # again from another channel, with the details typed otherwise
        national = f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"
        again = (
            {"channel": "gbp_call", "first_name": nick, "last_name": last, "phone": national,
             "text": "Caller asked about hours"},
            {"channel": "newsletter_reply", "phone": phone, "email": email.upper(), "text": "please call me back"},
            {"channel": "social_message", "first_name": nick, "phone": phone, "text": "Do you take Medicaid?"},
        )[person % 3]  # fmt: skip
        out.append(("referral_portal" if person % 2 else "landing_page", f"msg_again_{person}",
                    json.dumps(again).encode()))  # fmt: skip
    return out


SECRETS = {"landing_page": SECRET, "referral_portal": SECRET, "booking": "chaos-calcom-secret"}
TYPES = {"landing_page": "standard_webhook", "referral_portal": "standard_webhook", "booking": "calcom"}


def _send_all(url: str, mix: Mix, senders: int) -> None:
    """Every delivery made at least once, as a vendor with retries would; a person's deliveries
    in order, close together (the booking right after the first inquiry)."""
    now = datetime.now(UTC)

    def send(first: int, step: int) -> None:
        with requests.Session() as session:
            session.trust_env = False
            for person in range(first, mix.people, step):
                for source, event_id, body in _deliveries(mix, person, now):
                    for _ in range(50):
                        headers = sign_request(
                            TYPES[source], body, secret=SECRETS[source], now=datetime.now(UTC), event_id=event_id
                        )
                        try:
                            response = session.post(
                                f"{url}/webhooks/{source}",
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
                        raise AssertionError(f"delivery {event_id} was never accepted")

    threads = [threading.Thread(target=send, args=(k, senders)) for k in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _run(
    *,
    database_url: str,
    org: SalesforceOrg,
    hubspot: tuple[HubSpotSandbox, str],
    tmp_path: Path,
    deliveries: int,
    workers: int,
    kills: int,
    wipe: Callable[[], None],
) -> None:
    sandbox, hubspot_url = hubspot
    mix = Mix.of(deliveries)
    config_path = _config(tmp_path / "chaos.toml", org, hubspot_url)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NURTUREHUB_")},
        "NURTUREHUB_CONFIG": str(config_path),
        "NURTUREHUB_DATABASE_URL": database_url,
        "NURTUREHUB_DATA_KEY": Fernet.generate_key().decode(),
        "NURTUREHUB_SECRET_LANDING_PAGE": SECRET,
        "NURTUREHUB_SECRET_REFERRAL_PORTAL": SECRET,
        "NURTUREHUB_SECRET_BOOKING": SECRETS["booking"],
        "NURTUREHUB_SALESFORCE_CLIENT_SECRET": "sandbox-secret",
        "NURTUREHUB_HUBSPOT_CLIENT_SECRET": "sandbox-secret",
        "PYTHONPATH": str(ROOT),
    }
    config = load_config(config_path, environ=env)
    hub = build_hub(config, database_url=database_url, environ=env)
    now = datetime.now(UTC)
    hub.tokens("salesforce").save(
        {"access_token": org.sandbox.issue_token(), "instance_url": org.server.url, "token_type": "Bearer"}, now=now
    )
    hub.tokens("hubspot").save({"access_token": sandbox.issue_token(), "token_type": "bearer"}, now=now)
    engine = hub.sync_engine()
    assert engine is not None
    hs = engine.destinations["hubspot"].connector
    assert isinstance(hs, HubSpotConnector)
    hs.ensure_schema()
    cluster = Cluster(env=env, cwd=tmp_path)
    rng = random.Random(2026)
    try:
        cluster.start_web()
        for _ in range(workers):
            cluster.start_worker()
        started = time.monotonic()
        sender = threading.Thread(target=_send_all, args=(cluster.web_url, mix, 6))
        sender.start()
        while cluster.kills < kills:  # kill at random instants while events arrive and are processed
            time.sleep(rng.uniform(0.5, 3.0))
            cluster.kill_one(rng)
        sender.join()
        sent = time.monotonic() - started
        deadline = time.monotonic() + 1800
        while True:
            with hub.store.tx() as s:
                pending = s.scalar(select(func.count()).select_from(InboxRow).where(InboxRow.status == "pending"))
                queued = s.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.status == "pending"))
            if pending == 0 and queued == 0:
                break
            assert time.monotonic() < deadline, f"not drained: inbox {pending}, outbox {queued}"
            time.sleep(1)
        drained = time.monotonic() - started
    finally:
        cluster.stop()
    steps = {step.key for step in config.settings.cadence.steps}
    with hub.store.tx() as s:
        leads = s.scalar(select(func.count()).select_from(LeadRow))
        statuses = dict(s.execute(select(InboxRow.status, func.count()).group_by(InboxRow.status)).all())
        troubled = s.execute(
            select(OutboxRow.destination, OutboxRow.kind, OutboxRow.status, OutboxRow.last_error)
            .where(OutboxRow.status != "done")
            .limit(20)
        ).all()
        inquiries = dict(
            s.execute(
                select(LeadRow.phone, func.count(TouchRow.id))
                .join(TouchRow, TouchRow.lead_id == LeadRow.id)
                .where(TouchRow.outcome == "inquired")
                .group_by(LeadRow.phone)
            ).all()
        )
        settled = {
            r.id for r in s.execute(select(LeadRow.id).where(LeadRow.stage.in_(SETTLED_STAGES)))
        }  # booked or closed
    sf_leads = org.sf.query("SELECT COUNT() FROM Lead WHERE Nurture_Id__c != null")["totalSize"]
    sf_open = [
        r["Nurture_Task_Key__c"]
        for r in org.sf.query_all("SELECT Nurture_Task_Key__c FROM Task WHERE Status = 'Not Started'")["records"]
    ]
    sf_day0 = org.sf.query("SELECT COUNT() FROM Task WHERE Nurture_Task_Key__c LIKE '%:day0_call'")["totalSize"]
    hs_contacts = [c for c in sandbox.store.records("contacts") if c.properties.get("nurturehub_id")]
    hs_tasks = [t.properties for t in sandbox.store.records("tasks") if t.properties.get("nurturehub_task_key")]
    hs_open = [t["nurturehub_task_key"] for t in hs_tasks if t.get("hs_task_status") == "NOT_STARTED"]
    hs_day0 = sum(1 for t in hs_tasks if str(t["nurturehub_task_key"]).endswith(":day0_call"))
    hub.close()
    wipe()

    def open_cadence(keys: list[str]) -> list[str]:  # open tasks of cadence steps of booked/closed leads
        return [k for k in keys if k.partition(":")[0] in settled and k.partition(":")[2] in steps]

    expected = {_person(n)[3]: 1 + mix.booked(n) + (n < mix.repeats) for n in range(mix.people)}
    print(
        f"chaos: {mix.deliveries} deliveries ({mix.people} people, {mix.repeats} again from another channel, "
        f"{mix.bookings} bookings) sent in {sent:.0f} s with {cluster.kills} kills; all processed and in both "
        f"CRMs after {drained:.0f} s; {leads} leads, {len(settled)} booked or closed; open cadence tasks of "
        f"booked/closed leads: Salesforce {len(open_cadence(sf_open))}, HubSpot {len(open_cadence(hs_open))}"
    )
    assert cluster.kills == kills
    assert statuses == {"done": mix.deliveries}  # nothing parked, nothing dead
    assert leads == mix.people  # exactly one lead per person
    assert inquiries == expected  # every inquiry recorded on its lead
    assert troubled == []
    assert (sf_leads, len(hs_contacts)) == (mix.people, mix.people)
    assert (sf_day0, hs_day0) == (mix.people, mix.people)
    assert len(settled) >= mix.bookings
    assert open_cadence(sf_open) == []
    assert open_cadence(hs_open) == []


@pytest.fixture
def sf_org_for_chaos(make_sf_org: Callable[..., SalesforceOrg]) -> SalesforceOrg:
    return make_sf_org()


@pytest.fixture
def hubspot_for_chaos(hubspot_sandbox: HubSpotSandbox, hubspot_server: SandboxServer) -> tuple[HubSpotSandbox, str]:
    return hubspot_sandbox, hubspot_server.url


@pytest.mark.postgres
def test_chaos_on_postgresql(
    pg_schema_url: str, sf_org_for_chaos: SalesforceOrg, hubspot_for_chaos: tuple[HubSpotSandbox, str],
    tmp_path: Path,
) -> None:  # fmt: skip
    deliveries = int(os.environ.get("NURTUREHUB_CHAOS_EVENTS", "2000"))
    kills = int(os.environ.get("NURTUREHUB_CHAOS_KILLS", "20"))

    def wipe() -> None:
        from hub.store import Store

        store = Store(pg_schema_url)
        with store.engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {', '.join(t.name for t in Base.metadata.sorted_tables)} CASCADE")
        store.dispose()

    _run(
        database_url=pg_schema_url, org=sf_org_for_chaos, hubspot=hubspot_for_chaos, tmp_path=tmp_path,
        deliveries=deliveries, workers=3, kills=kills, wipe=wipe,
    )  # fmt: skip


def test_chaos_on_sqlite(
    sf_org_for_chaos: SalesforceOrg, hubspot_for_chaos: tuple[HubSpotSandbox, str], tmp_path: Path
) -> None:
    _run(
        database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}", org=sf_org_for_chaos, hubspot=hubspot_for_chaos,
        tmp_path=tmp_path, deliveries=1000, workers=1, kills=4, wipe=lambda: None,
    )  # fmt: skip
