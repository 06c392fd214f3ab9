"""Calendly: ``Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(key, "{t}.{body}")>``.

Calendly's "Webhook Signatures" page: split the header on ``,`` and each element on ``=``, sign the
timestamp, a ``.`` and the raw body with the webhook signing key, compare with ``v1``, and reject
timestamps outside a tolerance zone; its example uses 3 minutes. Calendly's example checks only the
past; we also refuse a timestamp more than the tolerance ahead, so a leaked signature cannot be
dated into the future to stay replayable.

Calendly sends no event id. The envelope is ``{"event", "created_at", "created_by", "payload"}``
and ``payload.uri`` names the resource the event is about (the invitee, the routing-form
submission), so ``"{event}:{payload.uri}"`` identifies one event: a retry repeats it, while
``invitee.created`` and ``invitee.canceled`` for the same invitee stay distinct. Without a usable
uri the id is ``sha256("calendly" + body)``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from connectors.inbound.verify import (
    MAX_EVENT_ID,
    InboundRequest,
    VerifiedEvent,
    WebhookRejected,
    body_digest_id,
    check_window,
    event_type_of,
    hmac_sha256,
    iso_time,
    parse_digits,
    parse_json_object,
    require_header,
    require_json,
    same,
    secret_bytes,
)

__all__ = ["DEFAULT_TOLERANCE", "sign_calendly", "verify_calendly"]

SOURCE_TYPE = "calendly"
HEADER = "Calendly-Webhook-Signature"
DEFAULT_TOLERANCE = timedelta(minutes=3)


def sign_calendly(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The header Calendly attaches to ``body`` sent at ``timestamp`` (unix seconds)."""
    digest = hmac_sha256(secret_bytes(secret), f"{timestamp}.".encode(), body)
    return {HEADER: f"t={timestamp},v1={digest.hex()}"}


def verify_calendly(
    request: InboundRequest, *, secret: str, now: datetime, tolerance: timedelta | None
) -> VerifiedEvent:
    """Verify a Calendly delivery (see the module docstring for the scheme and the event id).

    Raises:
        WebhookRejected: the header is missing or malformed, no ``v1`` matches, the timestamp is
            outside the tolerance, or the body is not a JSON object.
    """
    key = secret_bytes(secret)
    header = require_header(request.headers, HEADER, "missing_signature")
    raw_timestamp, candidates = _parse_header(header)
    timestamp = parse_digits(raw_timestamp, f"{HEADER} timestamp")

    expected = hmac_sha256(key, raw_timestamp.encode("ascii"), b".", request.body)
    matched = False
    for candidate in candidates:
        matched |= same(candidate, expected)
    if not matched:
        raise WebhookRejected("signature_mismatch", f"The {HEADER} does not match the body.")
    check_window(timestamp, now, tolerance or DEFAULT_TOLERANCE, f"{HEADER} timestamp")

    require_json(request.headers)  # after the signature: strangers learn nothing
    payload = parse_json_object(request.body)
    event = payload.get("event")
    return VerifiedEvent(
        source_type=SOURCE_TYPE,
        event_id=_event_id(event, payload.get("payload"), request.body),
        event_type=event_type_of(event),
        payload=payload,
        occurred_at=iso_time(payload.get("created_at")),
    )


def _parse_header(header: str) -> tuple[str, list[bytes]]:
    """The raw ``t`` value and the decoded ``v1`` digests (other keys are ignored)."""
    timestamp = ""
    candidates: list[bytes] = []
    for element in header.split(","):
        name, _, value = element.partition("=")
        name, value = name.strip(), value.strip()
        if name == "t":
            timestamp = value
        elif name == "v1":
            candidates.append(_hex_or_empty(value))
    if not timestamp:
        raise WebhookRejected("missing_timestamp", f"The {HEADER} header has no t= timestamp.")
    if not any(candidates):
        raise WebhookRejected("bad_signature_format", f"The {HEADER} header has no hex v1= signature.")
    return timestamp, candidates


def _hex_or_empty(value: str) -> bytes:
    if len(value) != 64:
        return b""
    try:
        return bytes.fromhex(value)
    except ValueError:
        return b""


def _event_id(event: object, inner: object, body: bytes) -> str:
    uri = inner.get("uri") if isinstance(inner, dict) else None
    if isinstance(event, str) and event and isinstance(uri, str) and uri:
        candidate = f"{event}:{uri}"
        if len(candidate) <= MAX_EVENT_ID:
            return candidate
    return body_digest_id(SOURCE_TYPE, body)
