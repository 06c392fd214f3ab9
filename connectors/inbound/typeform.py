"""Typeform: ``Typeform-Signature: sha256=<base64(HMAC-SHA256(secret, raw body))>``.

Typeform's "Secure your webhooks" page: hash the entire received payload with the secret as key,
base64-encode the binary digest and prefix ``sha256=``. Typeform sends no timestamp header, so there
is no replay window to enforce: a replayed delivery carries the same ``event_id`` and the inbox's
unique key makes it a no-op. ``form_response.submitted_at`` is the event time, never a reason to
reject.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta

from connectors.inbound.verify import (
    InboundRequest,
    VerifiedEvent,
    WebhookRejected,
    event_type_of,
    hmac_sha256,
    id_or_digest,
    iso_time,
    parse_json_object,
    require_header,
    require_json,
    same,
    secret_bytes,
)

__all__ = ["sign_typeform", "verify_typeform"]

SOURCE_TYPE = "typeform"
HEADER = "Typeform-Signature"
PREFIX = "sha256="


def sign_typeform(secret: str, body: bytes) -> dict[str, str]:
    """The header Typeform attaches to ``body``."""
    digest = hmac_sha256(secret_bytes(secret), body)
    return {HEADER: PREFIX + base64.b64encode(digest).decode("ascii")}


def verify_typeform(
    request: InboundRequest, *, secret: str, now: datetime, tolerance: timedelta | None
) -> VerifiedEvent:
    """Verify a Typeform delivery (``now`` and ``tolerance`` are unused: Typeform signs no time).

    Raises:
        WebhookRejected: the signature is missing, malformed or wrong, or the body is not a JSON object.
    """
    key = secret_bytes(secret)
    header = require_header(request.headers, HEADER, "missing_signature")
    if not header.startswith(PREFIX):
        raise WebhookRejected("bad_signature_format", f"The {HEADER} header does not start with 'sha256='.")
    try:
        received = base64.b64decode(header.removeprefix(PREFIX), validate=True)
    except (binascii.Error, ValueError):
        received = b""
    if not received:
        raise WebhookRejected("bad_signature_format", f"The {HEADER} value is not base64.")
    if not same(received, hmac_sha256(key, request.body)):
        raise WebhookRejected("signature_mismatch", f"The {HEADER} does not match the body.")

    require_json(request.headers)  # after the signature: strangers learn nothing
    payload = parse_json_object(request.body)
    response = payload.get("form_response")
    submitted_at = response.get("submitted_at") if isinstance(response, dict) else None
    return VerifiedEvent(
        source_type=SOURCE_TYPE,
        event_id=id_or_digest(payload.get("event_id"), SOURCE_TYPE, request.body),
        event_type=event_type_of(payload.get("event_type")),
        payload=payload,
        occurred_at=iso_time(submitted_at),
    )
