"""Cal.com: ``X-Cal-Signature-256: <hex HMAC-SHA256(secret, raw body)>``.

Cal.com's sender (``sendPayload``) signs the exact body with the webhook's secret and sends the hex
digest; a webhook without a secret sends the literal ``no-secret-provided``, which we treat as an
unsigned request. Cal.com signs no timestamp and sends no event id: the event id is
``sha256("calcom" + body)``, stable across retries because a retry resends the same body.
The envelope is ``{"triggerEvent", "createdAt", "payload"}``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from connectors.inbound.verify import (
    InboundRequest,
    VerifiedEvent,
    WebhookRejected,
    body_digest_id,
    event_type_of,
    hmac_sha256,
    iso_time,
    parse_hex_sha256,
    parse_json_object,
    require_header,
    require_json,
    same,
    secret_bytes,
)

__all__ = ["sign_calcom", "verify_calcom"]

SOURCE_TYPE = "calcom"
HEADER = "X-Cal-Signature-256"
UNSIGNED = "no-secret-provided"


def sign_calcom(secret: str, body: bytes) -> dict[str, str]:
    """The header Cal.com attaches to ``body``."""
    return {HEADER: hmac_sha256(secret_bytes(secret), body).hex()}


def verify_calcom(request: InboundRequest, *, secret: str, now: datetime, tolerance: timedelta | None) -> VerifiedEvent:
    """Verify a Cal.com delivery (``now`` and ``tolerance`` are unused: Cal.com signs no time).

    Raises:
        WebhookRejected: the signature is missing, malformed or wrong, or the body is not a JSON object.
    """
    key = secret_bytes(secret)
    header = require_header(request.headers, HEADER, "missing_signature")
    if header == UNSIGNED:
        raise WebhookRejected("missing_signature", "Cal.com sent no signature: set a secret on the webhook.")
    received = parse_hex_sha256(header, f"{HEADER} header")
    if not same(received, hmac_sha256(key, request.body)):
        raise WebhookRejected("signature_mismatch", f"The {HEADER} does not match the body.")

    require_json(request.headers)  # after the signature: strangers learn nothing
    payload = parse_json_object(request.body)
    return VerifiedEvent(
        source_type=SOURCE_TYPE,
        event_id=body_digest_id(SOURCE_TYPE, request.body),
        event_type=event_type_of(payload.get("triggerEvent")),
        payload=payload,
        occurred_at=iso_time(payload.get("createdAt")),
    )
