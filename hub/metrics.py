"""Prometheus metrics. One registry per process (gunicorn workers each expose their own; scrape
them behind the same service, or run one web process per container)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
)
QUEUE_DEPTH = Gauge("nurturehub_queue_depth", "Pending items", ["queue"], registry=REGISTRY)
QUEUE_AGE = Gauge("nurturehub_queue_oldest_age_seconds", "Age of the oldest pending item", ["queue"], registry=REGISTRY)
SPEED_TO_LEAD = Histogram(
    "nurturehub_speed_to_lead_seconds",
    "Receipt to first attempt, per channel",
    ["channel"],
    buckets=(60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600, 72 * 3600),
    registry=REGISTRY,
)
LEADER = Gauge("nurturehub_scheduler_leader", "1 when this process runs the schedules", registry=REGISTRY)
