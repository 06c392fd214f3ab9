"""Prometheus metrics.

- The web tier (``nurturehub serve``: gunicorn workers) runs in prometheus_client's multiprocess
  mode: each worker writes its values to ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds them up,
  so a scrape sees every worker whichever one answers.
- Queue depth and age, and the inbound events parked now by reason code, are facts of the store,
  not of a process: ``/metrics`` reads them at scrape time, so they are right in every topology.
- ``nurturehub worker --metrics-port`` serves a worker's own counters (items processed, API calls,
  leadership); ``nurturehub run`` has everything in one process at ``/metrics``.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from sqlalchemy import func, select

from hub.store import Store
from hub.store.models import InboxRow, OutboxRow

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

WEBHOOKS_ACCEPTED = Counter(
    "nurturehub_webhooks_accepted_total", "Webhooks stored in the inbox", ["source"], registry=REGISTRY
)
WEBHOOKS_DUPLICATE = Counter(
    "nurturehub_webhooks_duplicate_total",
    "Duplicate webhook deliveries (no change)",
    ["source"],
    registry=REGISTRY,
)
WEBHOOKS_REJECTED = Counter(
    "nurturehub_webhooks_rejected_total", "Webhooks refused, by reason", ["source", "code"], registry=REGISTRY
)
INBOX_PROCESSED = Counter(
    "nurturehub_inbox_processed_total", "Inbox events processed, by outcome", ["outcome"], registry=REGISTRY
)
INBOX_PARKED = Counter(
    "nurturehub_inbox_parked_total",
    "Inbox events parked, by source and reason code",
    ["source", "reason"],
    registry=REGISTRY,
)
PARKED = Gauge(
    "nurturehub_inbox_parked_now",
    "Inbound events parked now (read from the store), by reason code",
    ["reason"],
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
OUTBOX_PROCESSED = Counter(
    "nurturehub_outbox_processed_total",
    "Outbox items processed, by destination and outcome",
    ["destination", "outcome"],
    registry=REGISTRY,
)
API_CALLS = Counter("nurturehub_crm_api_calls_total", "API calls made to a CRM", ["destination"], registry=REGISTRY)
API_BUDGET_REMAINING = Gauge(
    "nurturehub_crm_api_budget_remaining",
    "Daily API calls left, as the CRM last reported",
    ["destination"],
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
QUEUE_DEPTH = Gauge(
    "nurturehub_queue_depth", "Pending items", ["queue"], registry=REGISTRY, multiprocess_mode="mostrecent"
)
QUEUE_AGE = Gauge(
    "nurturehub_queue_oldest_age_seconds",
    "Age of the oldest pending item",
    ["queue"],
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
SPEED_TO_LEAD = Histogram(
    "nurturehub_speed_to_lead_seconds",
    "Receipt to first attempt, per channel",
    ["channel"],
    buckets=(60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600, 72 * 3600),
    registry=REGISTRY,
)
LEADER = Gauge(
    "nurturehub_scheduler_leader", "1 when this process runs the schedules", registry=REGISTRY, multiprocess_mode="max"
)


_PARKED_SEEN: set[str] = set()


def update_queue_metrics(store: Store, now: datetime) -> None:
    """Set the inbox and outbox depth and oldest age from the store."""
    with store.read() as session:
        for queue, model, since in (
            ("inbox", InboxRow, InboxRow.received_at),
            ("outbox", OutboxRow, OutboxRow.created_at),
        ):
            depth, oldest = session.execute(
                select(func.count(), func.min(since)).where(model.status == "pending")
            ).one()
            QUEUE_DEPTH.labels(queue=queue).set(depth)
            QUEUE_AGE.labels(queue=queue).set(max(0.0, (now - oldest).total_seconds()) if oldest else 0)
        parked: dict[str, int] = {}
        for code, n in session.execute(
            select(InboxRow.error_code, func.count())
            .where(InboxRow.status.in_(("parked", "dead")))
            .group_by(InboxRow.error_code)
        ):
            parked[code or "error"] = parked.get(code or "error", 0) + int(n)
        for code in {*parked, *_PARKED_SEEN}:  # a reason that cleared reads 0, not its last value
            PARKED.labels(reason=code).set(parked.get(code, 0))
        _PARKED_SEEN.update(parked)


def exposition() -> bytes:
    """The metrics in Prometheus' text format: every web worker's added up in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)
