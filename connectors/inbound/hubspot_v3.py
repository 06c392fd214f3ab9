"""HubSpot request signature v3.

``X-HubSpot-Signature-v3`` is base64(HMAC-SHA256(app client secret, method + URI + body + timestamp))
where the timestamp is the ``X-HubSpot-Request-Timestamp`` header as sent (milliseconds since the
epoch); HubSpot says to reject requests older than 5 minutes. Before signing, HubSpot decodes these
percent-encoded characters in the URI: ``%3A : %2F / %3F ? %40 @ %21 ! %24 $ %27 ' %28 ( %29 )
%2A * %2C , %3B ;`` — and no others. The SDK's ``Signature.is_valid`` takes the URI as given, so
whoever calls it must decode first; :func:`signed_uri` does that for us.

The body is a JSON array of up to 100 events, each with an ``eventId``; a retry resends the same
events (with a higher ``attemptNumber``, so the body differs). The event id is therefore built from
the ``eventId`` values — the one id itself, or ``","``-joined for a batch, hashed if that is longer
than 200 characters — and only falls back to ``sha256("hubspot_v3" + body)`` when an event lacks
one. The event type is the first event's ``subscriptionType``, the event time its ``occurredAt``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import datetime, timedelta
from typing import Any

from connectors.inbound.verify import (
    MAX_EVENT_ID,
    InboundRequest,
    VerifiedEvent,
    WebhookRejected,
    body_digest_id,
    check_window,
    epoch_millis,
    event_type_of,
    hmac_sha256,
    parse_digits,
    parse_json,
    require_header,
    require_json,
    same,
    secret_bytes,
)

__all__ = ["DEFAULT_TOLERANCE", "sign_hubspot_v3", "signed_uri", "verify_hubspot_v3"]

SOURCE_TYPE = "hubspot_v3"
SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
DEFAULT_TOLERANCE = timedelta(minutes=5)

_DECODED = {
    "3A": ":", "2F": "/", "3F": "?", "40": "@", "21": "!", "24": "$",
    "27": "'", "28": "(", "29": ")", "2A": "*", "2C": ",", "3B": ";",
}  # fmt: skip
_ENCODED = re.compile("%(" + "|".join(_DECODED) + ")", re.IGNORECASE)


def signed_uri(url: str) -> str:
    """``url`` as HubSpot signs it: only the twelve listed escapes decoded, in a single pass."""
    return _ENCODED.sub(lambda m: _DECODED[m.group(1).upper()], url)


def sign_hubspot_v3(secret: str, method: str, url: str, body: bytes, timestamp_ms: int) -> dict[str, str]:
    """The two headers HubSpot attaches to a request to ``url`` at ``timestamp_ms``."""
    timestamp = str(timestamp_ms)
    digest = hmac_sha256(secret_bytes(secret), *_signed_parts(method, url, body, timestamp))
    return {
        SIGNATURE_HEADER: base64.b64encode(digest).decode("ascii"),
        TIMESTAMP_HEADER: timestamp,
    }


def verify_hubspot_v3(
    request: InboundRequest, *, secret: str, now: datetime, tolerance: timedelta | None
) -> VerifiedEvent:
    """Verify a HubSpot webhook delivery signed with signature v3.

    Raises:
        WebhookRejected: a header is missing or malformed, the signature does not match, the
            timestamp is outside the tolerance, or the body is not a JSON array of event objects.
    """
    key = secret_bytes(secret)
    encoded = require_header(request.headers, SIGNATURE_HEADER, "missing_signature")
    raw_timestamp = require_header(request.headers, TIMESTAMP_HEADER, "missing_timestamp")
    timestamp_ms = parse_digits(raw_timestamp, TIMESTAMP_HEADER)
    try:
        received = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        received = b""
    if not received:
        raise WebhookRejected("bad_signature_format", f"The {SIGNATURE_HEADER} header is not base64.")

    expected = hmac_sha256(key, *_signed_parts(request.method, request.url, request.body, raw_timestamp))
    if not same(received, expected):
        raise WebhookRejected("signature_mismatch", f"The {SIGNATURE_HEADER} does not match the request.")
    check_window(timestamp_ms / 1000, now, tolerance or DEFAULT_TOLERANCE, TIMESTAMP_HEADER)

    require_json(request.headers)  # after the signature: strangers learn nothing
    events = parse_json(request.body)
    if not isinstance(events, list) or not events or not all(isinstance(e, dict) for e in events):
        raise WebhookRejected("invalid_body", "The body is not a JSON array of HubSpot events.")
    first = events[0]
    return VerifiedEvent(
        source_type=SOURCE_TYPE,
        event_id=_event_id(events, request.body),
        event_type=event_type_of(first.get("subscriptionType")),
        payload=events,
        occurred_at=epoch_millis(first.get("occurredAt")),
    )


def _signed_parts(method: str, url: str, body: bytes, timestamp: str) -> tuple[bytes, ...]:
    prefix = method.upper() + signed_uri(url)
    return prefix.encode("utf-8", "surrogatepass"), body, timestamp.encode("utf-8", "surrogatepass")


def _event_id(events: list[dict[str, Any]], body: bytes) -> str:
    ids: list[str] = []
    for event in events:
        value = event.get("eventId")
        if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
            return body_digest_id(SOURCE_TYPE, body)
        ids.append(str(value))
    joined = ",".join(ids)
    if len(joined) <= MAX_EVENT_ID:
        return joined
    return "ids-sha256:" + hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()
