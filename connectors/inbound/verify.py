"""Verifying inbound webhooks: the shared types, the one error, and the table of schemes.

The web layer hands :func:`verify` the request exactly as received (method, the URL the sender
signed, headers, raw body) and the source's secret; it gets back a :class:`VerifiedEvent` to write
into the inbox, or a :class:`WebhookRejected` that says which 4xx to answer::

    WebhookRejected                 answer ``status`` with ``{"error": code, "detail": detail}``
    ├── 400  bad_signature_format, missing_timestamp, invalid_json, invalid_body
    ├── 401  missing_signature, signature_mismatch, stale_timestamp, future_timestamp, bad_path_token
    ├── 413  body_too_large
    └── 415  unsupported_media_type

A ``ValueError`` is not a rejected request but a bug or a configuration error on our side: an
unknown source type, an unusable secret (empty, or a Standard Webhooks secret that is not base64),
a naive ``now`` or a non-positive tolerance. Call :func:`check_secret` at start-up to find bad
secrets before the first delivery does.

Everything here is pure: no I/O, no clock (``now`` is a parameter), no logging. Every comparison of
a secret or a signature goes through :func:`hmac.compare_digest`, and no exception carries the body,
the secret or a computed signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Final, Protocol

from nurture.errors import Refused

__all__ = [
    "JSON_SOURCE_TYPES",
    "MAX_EVENT_ID",
    "SOURCE_TYPES",
    "Headers",
    "InboundRequest",
    "VerifiedEvent",
    "Verifier",
    "WebhookRejected",
    "check_secret",
    "require_json",
    "sign_request",
    "verify",
]

#: The source types :func:`verify` knows, one module each in this package.
SOURCE_TYPES: Final = frozenset({"standard_webhook", "typeform", "calcom", "calendly", "jotform", "hubspot_v3"})

#: Longest event id we hand out: the inbox's ``event_id`` column is ``String(200)``.
MAX_EVENT_ID: Final = 200

#: The status each rejection code is answered with.
STATUS_BY_CODE: Final[Mapping[str, int]] = {
    "bad_signature_format": 400,
    "missing_timestamp": 400,
    "invalid_json": 400,
    "invalid_body": 400,
    "missing_signature": 401,
    "signature_mismatch": 401,
    "stale_timestamp": 401,
    "future_timestamp": 401,
    "bad_path_token": 401,
    "body_too_large": 413,
    "unsupported_media_type": 415,
}


class WebhookRejected(Refused):
    """The request is not an authentic, well-formed delivery: answer ``status`` and drop it.

    Attributes:
        code: stable snake_case reason, one of :data:`STATUS_BY_CODE`.
        detail: one sentence for the 4xx JSON body. It names the header or field at fault and never
            contains the body, the secret or the expected signature.
        status: 400 malformed, 401 signature or token problem, 413 too large, 415 media type.
    """

    def __init__(self, code: str, detail: str) -> None:
        if code not in STATUS_BY_CODE:
            raise ValueError(f"unknown rejection code {code!r}")
        super().__init__(f"{code}: {detail}", code=code)
        self.detail = detail
        self.status = STATUS_BY_CODE[code]


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive view of request headers (keys are stored lower-cased).

    Surrounding whitespace is stripped from values, as HTTP allows it around a field value. When a
    plain dict holds the same name twice in different cases, the last one wins.
    """

    __slots__ = ("_items",)

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._items = {str(k).lower(): str(v).strip() for k, v in headers.items()}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:  # names only: values may carry signatures or cookies
        return f"Headers({sorted(self._items)!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundRequest:
    """One HTTP request as it reached us, before anything looked inside it.

    Attributes:
        method: the HTTP method (``POST``).
        url: the full URL as the sender signed it: scheme, host, path and query, exactly as
            configured at the vendor (behind a proxy, rebuild it from the forwarded host and scheme).
        headers: the request headers; wrapped in a case-insensitive :class:`Headers`.
        body: the raw body, byte for byte as received; never re-serialised.
        path_token: the secret token from the URL path, for sources that authenticate that way
            (Jotform), else None.
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)
    path_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.body, bytes):
            raise TypeError("InboundRequest.body must be the raw bytes as received")
        if not isinstance(self.headers, Headers):
            object.__setattr__(self, "headers", Headers(self.headers))


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedEvent:
    """An authentic delivery, ready for the inbox.

    Attributes:
        source_type: one of :data:`SOURCE_TYPES`.
        event_id: the idempotency key: the vendor's id when it sends one, else
            ``sha256(source_type + body)`` in hex; at most :data:`MAX_EVENT_ID` characters.
        event_type: the vendor's event name (``form_response``, ``BOOKING_CREATED``,
            ``invitee.created``, ``contact.propertyChange``), or ``unknown`` when it sends none.
        payload: the parsed JSON body (Jotform: the form fields, with ``rawRequest`` decoded to a dict).
        occurred_at: the vendor's event time, aware and in UTC, when it sends one.
    """

    source_type: str
    event_id: str
    event_type: str
    payload: Any = field(repr=False)
    occurred_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.source_type not in SOURCE_TYPES:
            raise ValueError(f"unknown source type {self.source_type!r}")
        if not self.event_id or len(self.event_id) > MAX_EVENT_ID:
            raise ValueError(f"event_id must be 1 to {MAX_EVENT_ID} characters")
        if not self.event_type:
            raise ValueError("event_type must not be empty")
        if self.occurred_at is not None and self.occurred_at.utcoffset() is None:
            raise ValueError("occurred_at must be timezone-aware")


class Verifier(Protocol):
    """What each scheme module provides: check one request, or raise :class:`WebhookRejected`."""

    def __call__(
        self, request: InboundRequest, *, secret: str, now: datetime, tolerance: timedelta | None
    ) -> VerifiedEvent: ...


def verify(
    source_type: str,
    request: InboundRequest,
    *,
    secret: str,
    now: datetime,
    tolerance: timedelta | None = None,
    max_body: int = 256 * 1024,
) -> VerifiedEvent:
    """Authenticate and parse one inbound webhook.

    The body's size is checked before anything else reads it; the signature (or path token) before
    the body is parsed.

    Args:
        source_type: which scheme to apply, one of :data:`SOURCE_TYPES`.
        request: the request exactly as received.
        secret: the source's signing secret (Jotform: the expected path token).
        now: the current time, aware.
        tolerance: how far the signed timestamp may be from ``now``, past or future; None for the
            scheme's default (Standard Webhooks and HubSpot 5 minutes, Calendly 3 minutes). Ignored by
            schemes without a timestamp (Typeform, Cal.com, Jotform).
        max_body: largest body accepted, in bytes.

    Returns:
        The verified event.

    Raises:
        WebhookRejected: the request is too large, unsigned, forged, stale or malformed.
        ValueError: unknown source type, unusable secret, naive ``now``, non-positive tolerance or
            max_body (our configuration, not the sender's fault).
    """
    verifier = _verifier(source_type)
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if tolerance is not None and tolerance <= timedelta(0):
        raise ValueError("tolerance must be positive")
    if max_body <= 0:
        raise ValueError("max_body must be positive")
    if len(request.body) > max_body:
        raise WebhookRejected("body_too_large", f"The body is larger than {max_body} bytes.")
    return verifier(request, secret=secret, now=now, tolerance=tolerance)


#: The source types whose deliveries are JSON documents (Jotform posts multipart/form-data).
JSON_SOURCE_TYPES: Final = SOURCE_TYPES - {"jotform"}


def require_json(headers: Mapping[str, str]) -> None:
    """Refuse (415) a body whose ``Content-Type`` is not JSON (``application/json`` or ``…+json``).

    Every JSON sender labels its body; an unlabelled or mislabelled one is not a delivery we know.
    Each JSON scheme calls this once the signature is verified, before parsing.
    """
    media = (headers.get("content-type") or "").partition(";")[0].strip().lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        raise WebhookRejected(
            "unsupported_media_type", "This source sends JSON: the Content-Type must be application/json."
        )


def check_secret(source_type: str, secret: str) -> None:
    """Check, at start-up, that ``secret`` can serve ``source_type``.

    Args:
        source_type: one of :data:`SOURCE_TYPES`.
        secret: the configured secret (Jotform: the path token).

    Raises:
        ValueError: unknown source type, or an unusable secret: empty, a Standard Webhooks secret
            that is not base64, a Jotform token under 16 characters. The message never repeats it.
    """
    from connectors.inbound import jotform, standard_webhooks  # here: both import this module

    _verifier(source_type)
    if source_type == "standard_webhook":
        standard_webhooks.decode_secret(secret)
    elif source_type == "jotform":
        jotform.token_bytes(secret)
    else:
        secret_bytes(secret)


def sign_request(
    source_type: str,
    body: bytes,
    *,
    secret: str,
    now: datetime,
    method: str = "POST",
    url: str = "",
    event_id: str | None = None,
) -> dict[str, str]:
    """The headers a sender of ``source_type`` would attach to ``body`` at ``now`` (for test events).

    Args:
        source_type: one of :data:`SOURCE_TYPES`.
        body: the exact bytes that will be sent.
        secret: the source's signing secret.
        now: the signing time, aware.
        method: the HTTP method (HubSpot signs it).
        url: the full URL the request goes to (HubSpot signs it).
        event_id: the Standard Webhooks ``webhook-id``; defaults to one derived from the body.

    Returns:
        Header name to value. Jotform is unsigned: it gets no headers; send the body from
        :func:`connectors.inbound.jotform.encode_jotform_submission` to a URL that carries the token.
    """
    from connectors.inbound import calcom, calendly, hubspot_v3, standard_webhooks, typeform  # see _table

    _verifier(source_type)
    seconds = int(now.timestamp())
    if source_type == "standard_webhook":
        msg_id = event_id or "msg_" + hashlib.sha256(body).hexdigest()[:26]
        return standard_webhooks.standard_webhook_headers(secret, msg_id, seconds, body)
    if source_type == "typeform":
        return typeform.sign_typeform(secret, body)
    if source_type == "calcom":
        return calcom.sign_calcom(secret, body)
    if source_type == "calendly":
        return calendly.sign_calendly(secret, seconds, body)
    if source_type == "hubspot_v3":
        return hubspot_v3.sign_hubspot_v3(secret, method, url, body, int(now.timestamp() * 1000))
    return {}


@cache
def _table() -> Mapping[str, Verifier]:
    # Imported here, not at the top: every scheme module imports this module's types.
    from connectors.inbound import calcom, calendly, hubspot_v3, jotform, standard_webhooks, typeform

    return {
        "standard_webhook": standard_webhooks.verify_standard_webhook,
        "typeform": typeform.verify_typeform,
        "calcom": calcom.verify_calcom,
        "calendly": calendly.verify_calendly,
        "jotform": jotform.verify_jotform,
        "hubspot_v3": hubspot_v3.verify_hubspot_v3,
    }


def _verifier(source_type: str) -> Verifier:
    try:
        return _table()[source_type]
    except KeyError:
        raise ValueError(f"unknown webhook source type {source_type!r}") from None


# --- helpers shared by the scheme modules -------------------------------------------------------

_DIGITS = re.compile(r"[0-9]{1,20}")
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def secret_bytes(secret: str) -> bytes:
    """The HMAC key for a plain-text secret; an empty secret is a configuration error."""
    if not secret:
        raise ValueError("the webhook secret is empty")
    return secret.encode("utf-8", "surrogatepass")


def hmac_sha256(key: bytes, *parts: bytes) -> bytes:
    """HMAC-SHA256 of the concatenated ``parts``."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    return mac.digest()


def same(a: bytes, b: bytes) -> bool:
    """Constant-time equality (never ``==`` on secrets or signatures)."""
    return hmac.compare_digest(a, b)


def body_digest_id(source_type: str, body: bytes) -> str:
    """The fallback event id: ``sha256(source_type + body)`` in hex."""
    return hashlib.sha256(source_type.encode() + body).hexdigest()


def id_or_digest(candidate: object, source_type: str, body: bytes) -> str:
    """``candidate`` as the event id when it is a usable string or integer, else the body digest."""
    if isinstance(candidate, bool):
        candidate = None
    if isinstance(candidate, int):
        candidate = str(candidate)
    if isinstance(candidate, str) and 0 < len(candidate) <= MAX_EVENT_ID:
        return candidate
    return body_digest_id(source_type, body)


def event_type_of(value: object) -> str:
    """The vendor's event name, or ``unknown`` when it sent none we can use."""
    if isinstance(value, str) and 0 < len(value) <= MAX_EVENT_ID:
        return value
    return "unknown"


def require_header(headers: Mapping[str, str], name: str, code: str) -> str:
    """The value of header ``name``, or :class:`WebhookRejected` ``code`` when absent or empty."""
    value = headers.get(name, "")
    if not value:
        raise WebhookRejected(code, f"The {name} header is missing.")
    return value


def parse_digits(value: str, name: str) -> int:
    """An integer timestamp written in ASCII digits, else ``bad_signature_format``."""
    if not _DIGITS.fullmatch(value):
        raise WebhookRejected("bad_signature_format", f"The {name} is not an integer timestamp.")
    return int(value)


def parse_hex_sha256(value: str, name: str) -> bytes:
    """A 64-character hex SHA-256 digest, else ``bad_signature_format``."""
    if not _HEX_SHA256.fullmatch(value):
        raise WebhookRejected("bad_signature_format", f"The {name} is not a hex SHA-256 signature.")
    return bytes.fromhex(value)


def check_window(signed_at: float, now: datetime, tolerance: timedelta, name: str) -> None:
    """Reject a signed time (unix seconds) more than ``tolerance`` before or after ``now``."""
    skew = signed_at - now.timestamp()
    window = tolerance.total_seconds()
    if skew < -window:
        raise WebhookRejected("stale_timestamp", f"The {name} is older than {_human(tolerance)}.")
    if skew > window:
        raise WebhookRejected("future_timestamp", f"The {name} is more than {_human(tolerance)} ahead.")


def _human(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    return f"{seconds // 60} minutes" if seconds % 60 == 0 else f"{seconds} seconds"


_INVALID: Final = object()


def parse_json(body: bytes) -> Any:
    """The body as JSON (UTF-8, no NaN, Infinity or number too large to be finite), else ``invalid_json``.

    The decoder's exception is not chained: it holds the whole document.
    """
    try:
        payload = json.loads(body.decode("utf-8"), parse_constant=_no_constants, parse_float=_finite)
    except (ValueError, RecursionError):
        payload = _INVALID
    if payload is _INVALID or _has_lone_surrogate(payload):
        raise WebhookRejected("invalid_json", "The body is not valid UTF-8 JSON.")
    return payload


def _has_lone_surrogate(value: Any) -> bool:
    """Whether a ``\\ud800``-style escape left a string that no UTF-8 store can hold."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, else ``invalid_json`` or ``invalid_body``."""
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise WebhookRejected("invalid_body", "The body is not a JSON object.")
    return payload


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    # ``1e999999`` is valid JSON syntax that Python reads as infinity, which no field can hold.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("a number too large for a float")
    return value


def iso_time(value: object) -> datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime (naive ones read as UTC), or None."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=UTC)
    return _to_utc(parsed)


def epoch_millis(value: object) -> datetime | None:
    """Milliseconds since the epoch as an aware UTC datetime, or None when absent or out of range."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    try:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)
    except OverflowError:
        return None


def _to_utc(value: datetime) -> datetime | None:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return None
