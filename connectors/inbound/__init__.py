"""Inbound webhooks: verify a delivery's signature (or token) and parse it, purely.

The web layer calls :func:`verify` with the raw request and the source's secret, writes the
returned :class:`VerifiedEvent` into the inbox under its ``event_id``, and answers a
:class:`WebhookRejected` with its ``status``. One module per scheme: ``standard_webhooks``,
``typeform``, ``calcom``, ``calendly``, ``jotform``, ``hubspot_v3``.
"""

from __future__ import annotations

from connectors.inbound.verify import (
    SOURCE_TYPES,
    InboundRequest,
    VerifiedEvent,
    WebhookRejected,
    check_secret,
    sign_request,
    verify,
)

__all__ = [
    "SOURCE_TYPES",
    "InboundRequest",
    "VerifiedEvent",
    "WebhookRejected",
    "check_secret",
    "sign_request",
    "verify",
]
