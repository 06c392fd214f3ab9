"""Statements per inquiry on PostgreSQL, counted with SQLAlchemy's cursor hooks, and the seconds
each stage took in this process: accept (the webhook's write), inbox → lead, outbox → Salesforce
(lead upserts and the Day-0 tasks in the sandbox).

    .venv/bin/python bench/statements.py [--events 1000] [--against REV]

``--against REV`` runs the same measurement on a git revision first (a worktree in a temporary
folder) and prints both with their ratios. An executemany counts as one statement (one round trip
in psycopg's pipeline).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def measure(events: int) -> dict[str, Any]:
    """One run in this process; the figures as a dict (printed as JSON by ``--json``)."""
    sys.path.insert(0, str(ROOT))
    import psycopg
    from cryptography.fernet import Fernet
    from sqlalchemy import event

    from hub.app.bootstrap import build_hub
    from hub.settings.config import load_config
    from sandboxes.salesforce import SalesforceSandbox, serve_salesforce
    from tests.support import pg_url

    sys.path.insert(0, str(ROOT / "bench"))
    from scale import config_file  # the example clinic open around the clock, with the sandbox

    logging.disable(logging.WARNING)
    pg = pg_url()
    dsn = pg.replace("postgresql+psycopg://", "postgresql://")
    schema = f"nh_stmt_{secrets.token_hex(4)}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    folder = Path(tempfile.mkdtemp(prefix="nurturehub-statements-"))
    sandbox = SalesforceSandbox()
    server, ca = serve_salesforce(sandbox, cert_dir=folder / "tls")
    try:
        db = f"{pg}?options=-csearch_path%3D{schema}"
        env = {"NURTUREHUB_DATA_KEY": Fernet.generate_key().decode(), "NURTUREHUB_SALESFORCE_CLIENT_SECRET": "x"}
        hub = build_hub(load_config(config_file(folder, server.url, ca), environ=env), database_url=db, environ=env)
        hub.tokens("salesforce").save(
            {"access_token": sandbox.issue_token(), "instance_url": server.url, "token_type": "Bearer"},
            now=datetime.now(UTC),
        )
        counts: Counter[str] = Counter()
        stage = ["setup"]

        def count(*_: Any) -> None:
            counts[stage[0]] += 1

        for engine in (hub.store.engine, hub.store._autocommit):
            if engine is not None:
                event.listen(engine, "before_cursor_execute", count)
        inbox, sync = hub.inbox, hub.sync_engine()
        assert sync is not None
        seconds: dict[str, float] = {}

        stage[0] = "accept"
        begun = time.perf_counter()
        for n in range(events):
            payload = {
                "channel": "paid_search", "first_name": "Scale", "last_name": f"Test{n}",
                "email": f"scale{n}@example.org", "phone": f"+1512{200 + (n // 10_000) % 700:03d}{n % 10_000:04d}",
                "text": "I'd like to book an appointment",
            }  # fmt: skip
            inbox.accept(source="landing_page", event_id=f"msg_{n}", event_type="inquiry", payload=payload,
                         received_at=datetime.now(UTC))  # fmt: skip
        seconds["accept"] = time.perf_counter() - begun

        stage[0] = "inbox"
        begun = time.perf_counter()
        made = 0
        while True:
            report = inbox.process(now=datetime.now(UTC), limit=50)
            made += len(report.lead_ids)
            if not report.handled:
                break
        seconds["inbox"] = time.perf_counter() - begun

        stage[0] = "outbox"
        begun = time.perf_counter()
        while sync.push("salesforce", now=datetime.now(UTC)).calls:
            pass
        seconds["outbox"] = time.perf_counter() - begun
        keys = [str(r.get("Nurture_Task_Key__c", "")) for r in sandbox._store.records("Task")]
        tasks = sum(1 for key in keys if key.endswith(":day0_call"))
        hub.close()
        return {
            "events": events, "leads": made, "day0_tasks": tasks,
            "statements": {k: counts[k] for k in ("accept", "inbox", "outbox")}, "seconds": seconds,
        }  # fmt: skip
    finally:
        server.stop()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def against(rev: str, events: int) -> dict[str, Any]:
    """The same measurement on revision ``rev`` (its own checkout, this script)."""
    folder = Path(tempfile.mkdtemp(prefix="nurturehub-statements-rev-"))
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(folder), rev],
                   check=True, capture_output=True)  # fmt: skip
    try:
        (folder / "bench" / "statements.py").write_text((ROOT / "bench" / "statements.py").read_text())
        out = subprocess.run(
            [sys.executable, str(folder / "bench" / "statements.py"), "--events", str(events), "--json"],
            check=True, capture_output=True, text=True, cwd=folder, env={**os.environ, "PYTHONPATH": str(folder)},
        )  # fmt: skip
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder)], check=False)


def show(label: str, figures: dict[str, Any]) -> None:
    n = figures["events"]
    print(f"{label}: {n} events -> {figures['leads']} leads, {figures['day0_tasks']} Day-0 tasks in Salesforce")
    for part in ("accept", "inbox", "outbox"):
        statements, took = figures["statements"][part], figures["seconds"][part]
        print(f"  {part:7s} {statements / n:6.2f} statements per inquiry   {took * 1000 / n:6.2f} ms per inquiry")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--against", metavar="REV")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.json:
        print(json.dumps(measure(args.events)))
        return
    before = against(args.against, args.events) if args.against else None
    now = measure(args.events)
    if before is not None:
        show(f"{args.against}", before)
    show("this checkout", now)
    if before is not None:
        for part in ("inbox", "outbox"):
            s = now["statements"][part] / max(1, before["statements"][part])
            t = now["seconds"][part] / before["seconds"][part]
            print(f"  {part}: statements {s:.2f}x, seconds {t:.2f}x of {args.against}")


if __name__ == "__main__":
    main()
