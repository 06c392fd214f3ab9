"""Webhook ingest: acknowledged webhooks per second and acknowledgement latency, under gunicorn on
loopback, with SQLite and with PostgreSQL; and the time from receipt to the lead committed with its
follow-ups (a `nurturehub worker` process running beside the web workers).

    .venv/bin/python bench/ingest.py [--requests 3000] [--gunicorn-workers 4] [--senders 1,10,50]

Each request is a distinct, signed Standard Webhooks event (a new inquiry), so every one is a real
insert. Senders are Python threads with keep-alive sessions in this process: on a 2-core machine the
senders compete with the server for CPU, so the figures are a floor, not a ceiling. Targets: >= 500
acks/s and p99 < 50 ms at 10 senders.
"""

from __future__ import annotations

import argparse
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
from connectors.sandbox.harness import free_port
from tests.support import pg_url

ROOT = Path(__file__).resolve().parents[1]
SECRET = "whsec_" + __import__("base64").b64encode(b"bench-landing-page-secret-32byte").decode()
PG = pg_url()  # NURTUREHUB_TEST_PG: host:port/database or a postgresql:// URL


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def body(n: int) -> bytes:
    return json.dumps(
        {
            "channel": "paid_search",
            "first_name": "Bench",
            "last_name": f"Sender{n}",
            "phone": f"+1512555{n % 10000:04d}",
            "email": f"bench{n}@example.org",
            "text": "I'd like to book an appointment next week",
        }
    ).encode()


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError("the hub did not become ready")


def send(url: str, start: int, count: int, senders: int) -> tuple[list[float], float, int]:
    """``count`` distinct events from ``senders`` threads; latencies (s), wall time, non-2xx count."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    per = count // senders

    def worker(offset: int) -> None:
        mine: list[float] = []
        bad = 0
        with requests.Session() as session:
            session.trust_env = False
            for i in range(offset, offset + per):
                payload = body(i)
                headers = sign_request(
                    "standard_webhook", payload, secret=SECRET, now=datetime.now(UTC), event_id=f"msg_bench_{i}"
                )
                headers["Content-Type"] = "application/json"
                t0 = time.perf_counter()
                response = session.post(f"{url}/webhooks/landing_page", data=payload, headers=headers, timeout=30)
                mine.append(time.perf_counter() - t0)
                bad += response.status_code != 202
        with lock:
            latencies.extend(mine)
            failures[0] += bad

    threads = [threading.Thread(target=worker, args=(start + k * per,)) for k in range(senders)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - t0, failures[0]


def run(backend: str, url_db: str, args: argparse.Namespace) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NURTUREHUB_")},
        "NURTUREHUB_DATABASE_URL": url_db,
        "NURTUREHUB_DATA_KEY": Fernet.generate_key().decode(),
        "NURTUREHUB_SECRET_LANDING_PAGE": SECRET,
        "PYTHONPATH": str(ROOT),
    }
    cwd = tempfile.mkdtemp(prefix="nurturehub-ingest-")
    subprocess.run([sys.executable, "-m", "jobs", "init"], cwd=cwd, env=env, check=True, capture_output=True)
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(args.gunicorn_workers),
         "--log-level", "warning", "webapp.wsgi:app"],
        cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url)
        print(f"\n{backend}: gunicorn, {args.gunicorn_workers} sync workers")
        sent = 0
        for senders in args.senders:
            count = max(args.requests // senders * senders, senders)
            send(url, 10_000_000 + sent, min(200, count), senders)  # warm up
            sent += min(200, count)
            latencies, wall, failures = send(url, 10_000_000 + sent, count, senders)
            sent += count
            print(
                f"  {senders:3d} senders: {count / wall:7.0f} acks/s   p50 {pct(latencies, 0.5) * 1000:6.1f} ms"
                f"   p99 {pct(latencies, 0.99) * 1000:6.1f} ms   non-202: {failures}"
            )
        # End to end: a worker process turns the inbox into leads; receipt -> lead committed.
        worker = subprocess.Popen(
            [sys.executable, "-m", "jobs", "worker", "--no-scheduler"],
            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            e2e = end_to_end(url, url_db, count=args.e2e, start=20_000_000)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        print(
            f"  receipt -> lead committed with follow-ups (1 sender, {len(e2e)} inquiries, 1 worker): "
            f"p50 {pct(e2e, 0.5) * 1000:.0f} ms   p99 {pct(e2e, 0.99) * 1000:.0f} ms"
        )
    finally:
        web.terminate()
        web.wait(timeout=30)


def end_to_end(url: str, url_db: str, *, count: int, start: int) -> list[float]:
    """Once the worker has drained the backlog the throughput runs left, send inquiries one at a
    time and read back, from the store, their receipt and processing times."""
    drained = time.monotonic() + 600
    while fetch(url_db, "SELECT received_at, received_at FROM inbox_events WHERE status = 'pending' LIMIT 1"):
        if time.monotonic() > drained:
            raise RuntimeError("the worker did not drain the backlog in 10 minutes")
        time.sleep(1)
    send(url, start, count, 1)
    deadline = time.monotonic() + 120
    query = "SELECT received_at, processed_at FROM inbox_events WHERE event_id LIKE 'msg_bench_2%' AND status = 'done'"
    rows: list[tuple[datetime, datetime]] = []
    while time.monotonic() < deadline:
        rows = fetch(url_db, query)
        if len(rows) >= count:
            break
        time.sleep(0.5)
    return [(p - r).total_seconds() for r, p in rows]


def fetch(url_db: str, query: str) -> list[tuple[datetime, datetime]]:
    if url_db.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(url_db.removeprefix("sqlite:///")) as conn:
            raw = conn.execute(query).fetchall()
        return [(datetime.fromisoformat(r), datetime.fromisoformat(p)) for r, p in raw]
    dsn, _, options = url_db.replace("postgresql+psycopg://", "postgresql://").partition("?")
    schema = options.split("%3D")[-1]
    with psycopg.connect(dsn) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        return list(conn.execute(query).fetchall())  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--e2e", type=int, default=200)
    parser.add_argument("--gunicorn-workers", type=int, default=3)
    parser.add_argument("--senders", type=lambda s: [int(x) for x in s.split(",")], default=[1, 10, 50])
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    backends = args.backends.split(",")
    if "sqlite" in backends:
        folder = tempfile.mkdtemp(prefix="nurturehub-ingest-db-")
        run("sqlite", f"sqlite:///{folder}/hub.sqlite3", args)
    if "postgresql" in backends:
        schema = f"nh_bench_{secrets.token_hex(4)}"
        dsn = PG.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            run("postgresql", f"{PG}?options=-csearch_path%3D{schema}", args)
        finally:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
