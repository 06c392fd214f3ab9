"""Jotform: unsigned ``multipart/form-data`` POSTs, authenticated by a secret token in our URL.

Jotform's webhooks carry no signature. Each submission is posted as ``multipart/form-data`` with
top-level fields (``formID``, ``submissionID``, ``formTitle``, ``pretty`` ...) and ``rawRequest``, a
JSON string holding every answer. The webhook URL we give Jotform carries a long random token in its
path; the web layer passes it as ``request.path_token`` and we compare it with the configured
secret in constant time, before reading the body. The token must be at least
:data:`MIN_TOKEN_LENGTH` characters: it is the only thing standing between the endpoint and anyone
who can post to it.

The body is parsed with the standard library's ``email`` parser (``cgi`` is deprecated since 3.11
and gone in 3.13). File parts are skipped (Jotform sends upload links inside ``rawRequest``). A
field sent more than once becomes a list. The event id is ``submissionID``; the event type is
``form_submission``, as Jotform names none.
"""

from __future__ import annotations

import email.errors
import email.parser
import email.policy
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from email.message import Message
from typing import Any, Final

from connectors.inbound.verify import (
    InboundRequest,
    VerifiedEvent,
    WebhookRejected,
    id_or_digest,
    parse_json,
    same,
)

__all__ = ["MIN_TOKEN_LENGTH", "encode_jotform_submission", "token_bytes", "verify_jotform"]

SOURCE_TYPE = "jotform"
EVENT_TYPE = "form_submission"
MIN_TOKEN_LENGTH = 16

_MULTIPART: Final = "multipart/form-data"
# What the lenient stdlib parser can still raise on hostile input. Fuzzing found IndexError (a
# LookupError) from its header-parameter parser on ``multipart/form-data; 0*``; the type errors
# guard the same parser's other corners. Any of them means a malformed body, not a bug here.
_PARSE_ERRORS = (ValueError, LookupError, TypeError, AttributeError, email.errors.MessageError)


def token_bytes(secret: str) -> bytes:
    """The configured path token as bytes.

    Raises:
        ValueError: the token is shorter than :data:`MIN_TOKEN_LENGTH` (the message does not repeat it).
    """
    if len(secret) < MIN_TOKEN_LENGTH:
        raise ValueError(f"the Jotform path token must be at least {MIN_TOKEN_LENGTH} characters")
    return secret.encode("utf-8", "surrogatepass")


def encode_jotform_submission(fields: Mapping[str, str], *, boundary: str | None = None) -> tuple[bytes, str]:
    """A body shaped like Jotform's webhook POST, and its ``Content-Type`` (for tests and test events).

    Args:
        fields: field name to value; pass ``rawRequest`` as a JSON string, as Jotform does.
        boundary: the multipart boundary; a random one by default.
    """
    boundary = boundary or "----nurturehub" + uuid.uuid4().hex
    chunks = []
    for name, value in fields.items():
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode("utf-8")
            + b"\r\n"
        )
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"{_MULTIPART}; boundary={boundary}"


def verify_jotform(
    request: InboundRequest, *, secret: str, now: datetime, tolerance: timedelta | None
) -> VerifiedEvent:
    """Authenticate a Jotform submission by its path token and parse the multipart body.

    ``now`` and ``tolerance`` are unused: Jotform sends no timestamp.

    Raises:
        WebhookRejected: the token is missing or wrong (401), the body is not multipart/form-data
            (415), or it is malformed or lacks a JSON-object ``rawRequest`` (400).
    """
    expected = token_bytes(secret)
    given = (request.path_token or "").encode("utf-8", "surrogatepass")
    if not same(given, expected):
        raise WebhookRejected("bad_path_token", "The path token is missing or wrong.")

    content_type = request.headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() != _MULTIPART:
        raise WebhookRejected("unsupported_media_type", "Jotform submissions must be multipart/form-data.")
    fields = _form_fields(content_type, request.body)

    raw = fields.get("rawRequest")
    answers = parse_json(raw.encode("utf-8", "surrogatepass")) if isinstance(raw, str) else None
    if not isinstance(answers, dict):
        raise WebhookRejected("invalid_body", "The rawRequest field is missing or not a JSON object.")
    payload: dict[str, Any] = {**fields, "rawRequest": answers}
    return VerifiedEvent(
        source_type=SOURCE_TYPE,
        event_id=id_or_digest(fields.get("submissionID"), SOURCE_TYPE, request.body),
        event_type=EVENT_TYPE,
        payload=payload,
        occurred_at=None,
    )


def _form_fields(content_type: str, body: bytes) -> dict[str, str | list[str]]:
    """The text fields of a multipart/form-data body, else ``invalid_body``."""
    fields = _parse_multipart(content_type, body)
    if fields is None:
        raise WebhookRejected("invalid_body", "The body is not well-formed multipart/form-data.")
    return fields


def _parse_multipart(content_type: str, body: bytes) -> dict[str, str | list[str]] | None:
    if "\r" in content_type or "\n" in content_type:
        return None
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("utf-8", "surrogatepass")
    try:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        if message.defects or not message.is_multipart():
            return None
        fields: dict[str, str | list[str]] = {}
        for part in message.iter_parts():
            item = _field(part)
            if item is None:
                continue
            name, value = item
            previous = fields.get(name)
            if previous is None:
                fields[name] = value
            elif isinstance(previous, list):
                previous.append(value)
            else:
                fields[name] = [previous, value]
    except _PARSE_ERRORS:
        return None
    return fields


def _field(part: Message) -> tuple[str, str] | None:
    """``(name, text)`` of a form-data part; None for file parts and parts without a name."""
    if part.get_content_disposition() != "form-data" or part.get_filename() is not None:
        return None
    name = part.get_param("name", header="content-disposition")
    if not isinstance(name, str) or not name:
        return None
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return None
    return name, data.decode("utf-8")
