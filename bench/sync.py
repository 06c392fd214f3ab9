"""API calls and time of the sync, against the minimum possible, on both CRM sandboxes.

    .venv/bin/python bench/sync.py [--leads 1000] [--crm-records 100000] [--changed 10]

1. ``--leads`` new leads pushed to each sandbox: the calls made against the minimum (Salesforce:
   one collections upsert per 200 leads and one per 200 tasks; HubSpot: one batch upsert per 100
   and one per 100 tasks), and the seconds the push took.
2. ``--crm-records`` records in each CRM, ``--changed`` of them changed after the last pull: the
   calls and seconds of one incremental pull.

The sandboxes run in this process over loopback (Salesforce over TLS); their own cost per call is
measured by bench/sandbox.py.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import logging

import requests

from connectors.base import OAuthToken, RecordWrite, StaticTokens
from connectors.hubspot import HubSpotConnector, HubSpotSettings
from connectors.salesforce import SalesforceConnector
from connectors.salesforce.settings import SalesforceSettings
from hub.inbound.intake import Intake
from hub.settings.config import load_config
from hub.store import Store, repo
from hub.sync import Destination, SyncEngine
from nurture.inquiry import Inquiry
from nurture.vocab import Channel
from sandboxes.hubspot import HubSpotSandbox, RateLimits, serve_hubspot
from sandboxes.salesforce import SalesforceSandbox, serve_salesforce


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--crm-records", type=int, default=100_000)
    parser.add_argument("--changed", type=int, default=10)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    config = load_config(None, environ={})
    tmp = Path(tempfile.mkdtemp(prefix="nurturehub-bench-sync-"))
    store = Store(f"sqlite:///{tmp / 'hub.sqlite3'}")
    store.migrate()

    # The CRMs' clocks: records seeded "two days ago", changes made "now".
    moment = [datetime.now(UTC) - timedelta(days=2)]
    crm_clock = lambda: moment[0]  # noqa: E731
    sf_sandbox = SalesforceSandbox(clock=crm_clock)
    sf_server, ca = serve_salesforce(sf_sandbox, cert_dir=tmp / "tls")
    session = requests.Session()
    session.verify, session.trust_env = str(ca), False
    sf = SalesforceConnector(
        SalesforceSettings(requests_per_second=1000, burst=1000),
        StaticTokens(OAuthToken(access_token=sf_sandbox.issue_token(), instance_url=sf_server.url)),
        session=session,
    )
    hs_sandbox = HubSpotSandbox(limits=RateLimits(burst=10**9, search_per_second=10**9, daily=10**9), clock=crm_clock)
    hs_server = serve_hubspot(hs_sandbox).start()
    hs = HubSpotConnector(
        HubSpotSettings(api_host=hs_server.url, requests_per_second=1000, burst=1000, searches_per_second=1000),
        StaticTokens(OAuthToken(access_token=hs_sandbox.issue_token())),
    )
    hs.ensure_schema()
    engine = SyncEngine(
        store,
        config,
        {
            "salesforce": Destination.default("salesforce", sf),
            "hubspot": Destination.default("hubspot", hs),
        },
    )  # fmt: skip
    ids = count(1)
    intake = Intake(store, config, destinations=engine.names, id_factory=lambda _: f"nh_bench{next(ids):07d}")
    now = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # Tuesday 10:00 at the clinic: Day 0 tasks are due today
    start = time.perf_counter()
    for n in range(args.leads):
        intake.submit(
            Inquiry(
                channel=Channel.WEBSITE_FORM, received_at=now, first_name="Bench", last_name=f"Lead{n}",
                phone=f"+1512555{n % 10000:04d}", email=f"bench{n}@example.org", text="I'd like an appointment",
            ),
            actor="bench",
        )  # fmt: skip
    intake_s = time.perf_counter() - start
    print(f"intake of {args.leads} leads (triage, policy, cadence, outbox): {intake_s:.2f} s")

    print("\n1. push of new leads and their Day 0 tasks")
    for name, sandbox, batch in (("salesforce", sf_sandbox, 200), ("hubspot", hs_sandbox, 100)):
        before = len(sandbox.log.entries())
        start = time.perf_counter()
        report = engine.push(name, now=now, limit=10**9)
        took = time.perf_counter() - start
        calls = sandbox.log.entries()[before:]
        minimum = 2 * math.ceil(args.leads / batch)
        kinds: dict[str, int] = {}
        for call in calls:
            key = f"{call.method} {_shape(call.path)}"
            kinds[key] = kinds.get(key, 0) + 1
        print(f"  {name}: {report.written} writes in {took:.2f} s; {len(calls)} API calls (minimum {minimum})")
        for key, n in sorted(kinds.items(), key=lambda kv: -kv[1]):
            print(f"      {n:5d}  {key}")

    print(f"\n2. one incremental pull with {args.crm_records} records in the CRM, {args.changed} changed")
    _seed_salesforce(sf, args.crm_records)
    hs_sandbox.seed(
        "contacts",
        (
            {"firstname": "Seed", "lastname": f"Contact{n}", "email": f"seed{n}@example.net"}
            for n in range(args.crm_records)
        ),
    )
    moment[0] = datetime.now(UTC)
    for name, sandbox in (("salesforce", sf_sandbox), ("hubspot", hs_sandbox)):
        # The last pull ran an hour ago: every seeded record is older than its cursor.
        with store.tx() as s:
            repo.set_cursor(s, f"{name}:records", (moment[0] - timedelta(hours=1)).isoformat(), now=now)
            repo.set_cursor(s, f"{name}:tasks", (moment[0] - timedelta(hours=1)).isoformat(), now=now)
        changed = _change(name, sf_sandbox, sf_server.url, session, hs, args.changed)
        with store.tx() as s:
            cursor = repo.get_cursor(s, f"{name}:records")
        before = len(sandbox.log.entries())
        start = time.perf_counter()
        report = engine.pull(name, now=now + timedelta(minutes=5))
        took = time.perf_counter() - start
        calls = len(sandbox.log.entries()) - before
        print(
            f"  {name}: {calls} API calls, {took:.3f} s; {report.records} records read "
            f"({changed} changed since the cursor {cursor})"
        )
    sf_server.stop()
    hs_server.stop()
    store.dispose()


def _shape(path: str) -> str:
    parts = [p if not any(c.isdigit() for c in p) or p.startswith("v") else "{id}" for p in path.split("/")]
    return "/".join(parts)[:70]


def _seed_salesforce(sf: SalesforceConnector, n: int) -> None:
    records = [
        RecordWrite(external_id=f"seed{i:07d}", fields={"LastName": f"Seed{i}", "Company": "Seed"}) for i in range(n)
    ]
    start = time.perf_counter()
    sf.upsert(records)
    print(f"  (seeded {n} Salesforce leads in {time.perf_counter() - start:.1f} s; HubSpot seeded directly)")


def _change(
    name: str, sf_sandbox: SalesforceSandbox, sf_url: str, session: requests.Session, hs: HubSpotConnector, n: int
) -> int:
    if name == "salesforce":
        from simple_salesforce import Salesforce

        client = Salesforce(instance_url=sf_url, session_id=sf_sandbox.issue_token(), session=session, version="59.0")
        rows = client.query(f"SELECT Id FROM Lead WHERE LastName LIKE 'Seed%' LIMIT {n}")["records"]  # noqa: S608
        for row in rows:
            client.Lead.update(row["Id"], {"FirstName": "Changed"})
        return len(rows)
    hs.upsert([RecordWrite(external_id=f"nh_bench{i:07d}", fields={"firstname": "Changed"}) for i in range(1, n + 1)])
    return n


if __name__ == "__main__":
    main()
