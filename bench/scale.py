"""Scale-out on PostgreSQL: end-to-end throughput (signed webhook received → lead and Day-0 call task
written in the Salesforce sandbox) with 1, 2 and 4 worker processes, and speed to lead (receipt to
the task in the CRM) at a steady 20 inquiries per second.

    .venv/bin/python bench/scale.py [--events 1000] [--workers 1,2,4] [--rate 20] [--seconds 30]

A gunicorn web process (2 workers) and `nurturehub worker` processes run over one PostgreSQL schema
(dropped afterwards); the Salesforce sandbox runs in this process over TLS, so it shares the two
cores with everything else: bench/sandbox.py measures its own cost. Target: p99 under 3 s at 20/s.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
import requests
from cryptography.fernet import Fernet

from connectors.inbound import sign_request
from hub.app.bootstrap import build_hub
from hub.settings.config import load_config
from sandboxes.common import free_port
from sandboxes.salesforce import SalesforceSandbox, serve_salesforce
from tests.support import pg_url

ROOT = Path(__file__).resolve().parents[1]
PG = pg_url()  # NURTUREHUB_TEST_PG: host:port/database or a postgresql:// URL
SECRET = "whsec_" + base64.b64encode(b"scale-landing-page-secret-32byte").decode()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def config_file(folder: Path, sf_url: str, ca: Path) -> Path:
    """The example clinic open around the clock (every Day-0 task is due at once), with the sandbox."""
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    for day in ("mon", "tue", "wed", "thu", "fri"):
        text = text.replace(f'\n{day} = ["08:00-12:00", "13:00-19:00"]', f'\n{day} = ["00:00-24:00"]')
    text = text.replace('\nsat = ["09:00-13:00"]', '\nsat = ["00:00-24:00"]').replace(
        "\nsun = []", '\nsun = ["00:00-24:00"]'
    )
    text = text.replace('quiet_hours = "08:00-21:00"', 'quiet_hours = "00:00-24:00"')
    text = text.replace("holidays = [", "holidays = [] # [")
    text = text.replace("worker_idle_seconds = 0.25", "worker_idle_seconds = 0.05")
    text += f"""
[crm.salesforce]
enabled = true
login_url = "{sf_url}"
client_id = "nurturehub-sandbox"
ca_bundle = "{ca}"
requests_per_second = 50.0
"""
    path = folder / "scale.toml"
    path.write_text(text, encoding="utf-8")
    return path


class Stack:
    """One PostgreSQL schema, a web process and N workers, and the Salesforce sandbox."""

    def __init__(self, workers: int) -> None:
        self.schema = f"nh_scale_{secrets.token_hex(4)}"
        self.dsn = PG.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{self.schema}"')
        self.db = f"{PG}?options=-csearch_path%3D{self.schema}"
        self.folder = Path(tempfile.mkdtemp(prefix="nurturehub-scale-"))
        self.sandbox = SalesforceSandbox()
        self.sf_server, ca = serve_salesforce(self.sandbox, cert_dir=self.folder / "tls")
        config = config_file(self.folder, self.sf_server.url, ca)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("NURTUREHUB_")},
            "NURTUREHUB_CONFIG": str(config),
            "NURTUREHUB_DATABASE_URL": self.db,
            "NURTUREHUB_DATA_KEY": Fernet.generate_key().decode(),
            "NURTUREHUB_SECRET_LANDING_PAGE": SECRET,
            "NURTUREHUB_SALESFORCE_CLIENT_SECRET": "sandbox-secret",
            "PYTHONPATH": str(ROOT),
        }
        hub = build_hub(load_config(config, environ=self.env), database_url=self.db, environ=self.env)
        hub.tokens("salesforce").save(
            {"access_token": self.sandbox.issue_token(), "instance_url": self.sf_server.url, "token_type": "Bearer"},
            now=datetime.now(UTC),
        )
        hub.close()
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        web = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
        web += ["--log-level", "warning", "webapp.wsgi:app"]
        self.processes = [self._spawn(web)] + [
            self._spawn([sys.executable, "-m", "jobs", "worker"]) for _ in range(workers)
        ]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("the web process did not become ready")

    def _spawn(self, command: list[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            command, cwd=self.folder, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def tasks_created(self) -> dict[str, datetime]:
        """Day-0 call tasks in the sandbox by lead id, with when they were created."""
        from simple_salesforce import Salesforce

        session = requests.Session()
        session.verify, session.trust_env = str(self.folder / "tls" / "ca.pem"), False
        sf = Salesforce(instance_url=self.sf_server.url, session_id=self.sandbox.issue_token(), session=session)
        rows = sf.query_all(
            "SELECT Nurture_Task_Key__c, CreatedDate FROM Task WHERE Nurture_Task_Key__c LIKE '%:day0_call'"
        )
        return {
            r["Nurture_Task_Key__c"].split(":")[0]: datetime.strptime(r["CreatedDate"], "%Y-%m-%dT%H:%M:%S.%f%z")
            for r in rows["records"]
        }

    def received(self) -> dict[str, datetime]:
        """Inbox receipt times by lead id."""
        with psycopg.connect(self.dsn) as conn:
            conn.execute(f'SET search_path TO "{self.schema}"')
            rows = conn.execute("SELECT lead_id, received_at FROM inbox_events WHERE lead_id IS NOT NULL").fetchall()
        return {str(lead_id): at for lead_id, at in rows}

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=30)
        self.sf_server.stop()
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{self.schema}" CASCADE')


def post(session: requests.Session, url: str, n: int) -> None:
    body = json.dumps(
        {"channel": "paid_search", "first_name": "Scale", "last_name": f"Test{n}", "email": f"scale{n}@example.org",
         "phone": f"+1512{200 + (n // 10_000) % 700:03d}{n % 10_000:04d}", "text": "I'd like to book an appointment"}
    ).encode()  # fmt: skip
    headers = sign_request("standard_webhook", body, secret=SECRET, now=datetime.now(UTC), event_id=f"msg_scale_{n}")
    response = session.post(
        f"{url}/webhooks/landing_page", data=body, headers={**headers, "Content-Type": "application/json"}, timeout=30
    )
    response.raise_for_status()


def throughput(workers: int, events: int) -> None:
    stack = Stack(workers)
    try:
        start = time.monotonic()
        threads = []
        for k in range(4):

            def send(first: int = k) -> None:
                with requests.Session() as session:
                    session.trust_env = False
                    for n in range(first, events, 4):
                        post(session, stack.url, n)

            threads.append(threading.Thread(target=send))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sent = time.monotonic() - start
        while len(stack.tasks_created()) < events:
            if time.monotonic() - start > 900:
                raise RuntimeError("not all tasks arrived in 15 minutes")
            time.sleep(0.5)
        took = time.monotonic() - start
        print(
            f"  {workers} worker(s): {events} inquiries -> lead + Day-0 task in Salesforce in {took:5.1f} s "
            f"= {events / took:5.1f} per s (all sent after {sent:.1f} s)"
        )
    finally:
        stack.stop()


def steady(workers: int, rate: float, seconds: float) -> None:
    stack = Stack(workers)
    try:
        total = int(rate * seconds)
        with requests.Session() as session:
            session.trust_env = False
            start = time.monotonic()
            for n in range(total):
                delay = start + n / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                post(session, stack.url, 10_000_000 + n)
        deadline = time.monotonic() + 300
        while len(stack.tasks_created()) < total and time.monotonic() < deadline:
            time.sleep(0.5)
        created, received = stack.tasks_created(), stack.received()
        delays = [(created[lead] - received[lead]).total_seconds() for lead in created if lead in received]
        print(
            f"  {rate:.0f} inquiries/s for {seconds:.0f} s with {workers} worker(s): receipt -> task in Salesforce "
            f"p50 {pct(delays, 0.5):.2f} s   p99 {pct(delays, 0.99):.2f} s   ({len(delays)}/{total} arrived)"
        )
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4])
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--steady-workers", type=int, default=2)
    args = parser.parse_args()
    print("end-to-end throughput on PostgreSQL (web: gunicorn, 2 workers)")
    for workers in args.workers:
        throughput(workers, args.events)
    print("speed to lead at a steady rate")
    steady(args.steady_workers, args.rate, args.seconds)


if __name__ == "__main__":
    main()
