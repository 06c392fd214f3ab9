"""Standard Webhooks (standardwebhooks.com, spec 1.0.0): the generic signed-webhook scheme.

Headers ``webhook-id``, ``webhook-timestamp`` (integer unix seconds) and ``webhook-signature``: a
space-delimited list of ``<version>,<base64>`` entries, so that a sender rotating its key can sign
with both. A ``v1`` entry is base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")) where the key is
the base64-decoded secret after its ``whsec_`` prefix. One matching ``v1`` entry is enough; other
versions (``v1a`` is the asymmetric ed25519 scheme) are ignored. The timestamp must be within
±5 minutes of now, as the reference libraries enforce. The ``webhook-id`` is the idempotency key.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta

from connectors.inbound.verify import (
    MAX_EVENT_ID,
    InboundRequest,
    VerifiedEvent,
    WebhookRejected,
    check_window,
    event_type_of,
    hmac_sha256,
    iso_time,
    parse_digits,
    parse_json,
    require_header,
    require_json,
    same,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "decode_secret",
    "sign_standard_webhook",
    "standard_webhook_headers",
    "verify_standard_webhook",
]

SOURCE_TYPE = "standard_webhook"
DEFAULT_TOLERANCE = timedelta(minutes=5)
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format marker, not a secret


def decode_secret(secret: str) -> bytes:
    """The HMAC key inside a ``whsec_<base64>`` secret (the prefix is optional, padding too).

    Raises:
        ValueError: the secret is empty or not base64 (the message does not repeat it).
    """
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        raise ValueError("the Standard Webhooks secret must be 'whsec_' followed by non-empty base64")
    return key


def sign_standard_webhook(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64>`` signature of ``body`` sent as ``msg_id`` at ``timestamp`` (unix seconds)."""
    digest = hmac_sha256(decode_secret(secret), _signed_prefix(msg_id, str(timestamp)), body)
    return "v1," + base64.b64encode(digest).decode("ascii")


def standard_webhook_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers a Standard Webhooks sender attaches to ``body``."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_standard_webhook(secret, msg_id, timestamp, body),
    }


def verify_standard_webhook(
    request: InboundRequest, *, secret: str, now: datetime, tolerance: timedelta | None
) -> VerifiedEvent:
    """Verify a Standard Webhooks delivery (see the module docstring for the scheme).

    Raises:
        WebhookRejected: a header is missing or malformed, no ``v1`` signature matches, or the
            timestamp is outside the tolerance.
    """
    key = decode_secret(secret)
    headers = request.headers
    msg_id = require_header(headers, "webhook-id", "missing_signature")
    raw_timestamp = require_header(headers, "webhook-timestamp", "missing_timestamp")
    signatures = require_header(headers, "webhook-signature", "missing_signature")
    if len(msg_id) > MAX_EVENT_ID:
        raise WebhookRejected("bad_signature_format", f"The webhook-id exceeds {MAX_EVENT_ID} characters.")
    timestamp = parse_digits(raw_timestamp, "webhook-timestamp")

    expected = hmac_sha256(key, _signed_prefix(msg_id, raw_timestamp), request.body)
    if not _any_v1_matches(signatures, expected):
        raise WebhookRejected("signature_mismatch", "No v1 signature in webhook-signature matches.")
    check_window(timestamp, now, tolerance or DEFAULT_TOLERANCE, "webhook-timestamp")

    require_json(request.headers)  # after the signature: strangers learn nothing
    payload = parse_json(request.body)
    fields = payload if isinstance(payload, dict) else {}
    return VerifiedEvent(
        source_type=SOURCE_TYPE,
        event_id=msg_id,
        event_type=event_type_of(fields.get("type")),
        payload=payload,
        occurred_at=iso_time(fields.get("timestamp")),
    )


def _signed_prefix(msg_id: str, timestamp: str) -> bytes:
    return f"{msg_id}.{timestamp}.".encode("utf-8", "surrogatepass")


def _any_v1_matches(header: str, expected: bytes) -> bool:
    """Whether any ``v1`` entry matches.

    Every entry is compared, so the timing does not tell which one matched. An undecodable ``v1``
    entry counts as not matching; when no ``v1`` entry is decodable at all the header is malformed.
    """
    matched = False
    decodable = 0
    for entry in header.split():
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        candidate = _b64(encoded)
        if candidate is None:
            continue
        decodable += 1
        matched |= same(candidate, expected)
    if not decodable:
        raise WebhookRejected("bad_signature_format", "The webhook-signature header has no valid v1 entry.")
    return matched


def _b64(encoded: str) -> bytes | None:
    try:
        return base64.b64decode(encoded, validate=True) or None
    except (binascii.Error, ValueError):
        return None
