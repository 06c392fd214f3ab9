"""Throughput of the HubSpot sandbox, driven by the real hubspot-api-client over loopback http.

``bench_hubspot()`` is called by bench/sandbox.py; it prints nothing and takes a few seconds.
Rate limits are lifted so the figures measure the sandbox, not HubSpot's quotas.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import hubspot
from hubspot.crm.contacts import BatchInputSimplePublicObjectBatchInputUpsert, PublicObjectSearchRequest
from hubspot.crm.properties import PropertyCreate
from urllib3.util import Retry

from sandboxes.hubspot import HubSpotSandbox, RateLimits, serve_hubspot

UPSERT_CALLS = 40
BATCH = 100
SEARCH_ROUNDS = 3
PAGE = 100


def _timed(work: Callable[[], int]) -> tuple[int, float]:
    start = time.perf_counter()
    count = work()
    return count, time.perf_counter() - start


def bench_hubspot() -> dict[str, float]:
    """Requests per second for batch upsert (100 contacts a call) and for search paging.

    Returns:
        ``hubspot_upsert_calls_per_s``, ``hubspot_upsert_records_per_s`` (half the records new, half
        updates), ``hubspot_search_pages_per_s`` (100 results a page) and ``hubspot_search_records_per_s``.
    """
    werkzeug_log = logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.WARNING)  # the dev server logs every request at INFO
    sandbox = HubSpotSandbox(limits=RateLimits(burst=10**9, search_per_second=10**9))
    try:
        with serve_hubspot(sandbox) as server:
            client = hubspot.Client.create(
                access_token=sandbox.issue_token(),
                host=server.url,
                retry=Retry(total=0, raise_on_status=False),
            )
            client.crm.properties.core_api.create(
                "contacts",
                PropertyCreate(
                    name="nurturehub_id",
                    label="nurturehub id",
                    type="string",
                    field_type="text",
                    group_name="contactinformation",
                    has_unique_value=True,
                ),
            )
            batch_api = client.crm.contacts.batch_api
            search_api = client.crm.contacts.search_api

            def upserts() -> int:
                for call in range(UPSERT_CALLS):
                    first = (call // 2) * BATCH  # every other call updates the records the call before created
                    batch_api.upsert(
                        BatchInputSimplePublicObjectBatchInputUpsert(
                            inputs=[
                                {
                                    "idProperty": "nurturehub_id",
                                    "id": f"lead-{first + i}",
                                    "properties": {"firstname": f"F{call}", "hs_lead_status": "NEW"},
                                }
                                for i in range(BATCH)
                            ]
                        )
                    )
                return UPSERT_CALLS

            def pages() -> int:
                count = 0
                for _ in range(SEARCH_ROUNDS):
                    after: str | None = None
                    while True:
                        page = search_api.do_search(
                            PublicObjectSearchRequest(
                                filter_groups=[
                                    {
                                        "filters": [
                                            {
                                                "propertyName": "hs_lead_status",
                                                "operator": "EQ",
                                                "value": "NEW",
                                            }
                                        ]
                                    }
                                ],
                                sorts=["lastmodifieddate"],
                                properties=["firstname", "nurturehub_id"],
                                limit=PAGE,
                                after=after,
                            )
                        )
                        count += 1
                        if page.paging is None:
                            break
                        after = page.paging.next.after
                return count

            calls, upsert_s = _timed(upserts)
            page_count, search_s = _timed(pages)
    finally:
        sandbox.close()
        werkzeug_log.setLevel(level)
    return {
        "hubspot_upsert_calls_per_s": round(calls / upsert_s, 1),
        "hubspot_upsert_records_per_s": round(calls * BATCH / upsert_s, 1),
        "hubspot_search_pages_per_s": round(page_count / search_s, 1),
        "hubspot_search_records_per_s": round(page_count * PAGE / search_s, 1),
    }
