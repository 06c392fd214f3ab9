"""Throughput of the Salesforce sandbox through the real simple-salesforce, over TLS on loopback.

``bench_salesforce()`` is called by ``bench/sandbox.py``; it prints nothing and takes a few seconds.
It measures sObject Collections upserts by external id (200 records a call, half creates and half
updates) and SOQL paging (``query`` then ``nextRecordsUrl`` pages of 2,000 records).
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from simple_salesforce import Salesforce

from sandboxes.salesforce import SalesforceSandbox, serve_salesforce

UPSERT_CALLS = 40
BATCH = 200
QUERY_ROUNDS = 5


def _leads(start: int, count: int) -> list[dict[str, Any]]:
    return [
        {
            "attributes": {"type": "Lead"},
            "Nurture_Id__c": f"bench-{n}",
            "LastName": f"Lead {n}",
            "Company": "Bench",
            "Stage__c": "new",
            "Intent__c": "service_fit",
            "Next_Action_Due__c": "2026-11-27T15:00:00Z",
        }
        for n in range(start, start + count)
    ]


def bench_salesforce() -> dict[str, float]:
    """Start a sandbox and measure it.

    Returns:
        ``salesforce_upsert_requests_per_s`` and ``salesforce_upsert_records_per_s`` for
        ``PATCH /composite/sobjects/Lead/Nurture_Id__c`` with 200 records a call;
        ``salesforce_query_page_requests_per_s`` and ``salesforce_query_records_per_s`` for paging
        through 4,000 leads with ``query`` and ``query_more`` (2,000 records a page).
    """
    werkzeug_log = logging.getLogger("werkzeug")
    previous_level = werkzeug_log.level
    werkzeug_log.setLevel(logging.ERROR)  # the dev server logs every request otherwise
    sandbox = SalesforceSandbox()
    with tempfile.TemporaryDirectory(prefix="nurturehub-bench-sf-") as cert_dir:
        server, ca_path = serve_salesforce(sandbox, cert_dir=Path(cert_dir))
        session = requests.Session()
        session.verify = str(ca_path)
        session.trust_env = False
        try:
            sf = Salesforce(instance_url=server.url, session_id=sandbox.issue_token(), session=session, version="59.0")
            # Warm up: TLS handshake, describe cache.
            sf.Lead.describe()

            started = time.perf_counter()
            for call in range(UPSERT_CALLS):
                # Calls alternate over two ranges: the first pass creates, later passes update.
                start = (call % (UPSERT_CALLS // 2)) * BATCH
                results = sf.restful(
                    "composite/sobjects/Lead/Nurture_Id__c",
                    method="PATCH",
                    json={"allOrNone": False, "records": _leads(start, BATCH)},
                )
                if not results or not all(r["success"] for r in results):
                    raise RuntimeError(f"sandbox rejected bench records in call {call}")
            upsert_s = time.perf_counter() - started

            started = time.perf_counter()
            pages = records = 0
            for _ in range(QUERY_ROUNDS):
                result = sf.query(
                    "SELECT Id, Nurture_Id__c, Stage__c, SystemModstamp FROM Lead "
                    "WHERE SystemModstamp > 2020-01-01T00:00:00Z ORDER BY SystemModstamp, Id"
                )
                pages += 1
                records += len(result["records"])
                while not result["done"]:
                    result = sf.query_more(result["nextRecordsUrl"], identifier_is_url=True)
                    pages += 1
                    records += len(result["records"])
            query_s = time.perf_counter() - started
        finally:
            session.close()
            server.stop()
            sandbox.close()
            werkzeug_log.setLevel(previous_level)
    return {
        "salesforce_upsert_requests_per_s": UPSERT_CALLS / upsert_s,
        "salesforce_upsert_records_per_s": UPSERT_CALLS * BATCH / upsert_s,
        "salesforce_query_page_requests_per_s": pages / query_s,
        "salesforce_query_records_per_s": records / query_s,
    }
