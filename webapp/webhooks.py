"""Inbound webhooks: verify, parse, store in the inbox, answer. Nothing else happens in the request.

``POST /webhooks/<source>`` (Jotform: ``/webhooks/<source>/<token>``). Answers:

- 202 ``{"status": "accepted", "event_id": …}`` — stored; a worker will process it;
- 200 ``{"status": "duplicate", "event_id": …}`` — already stored; nothing changed;
- 4xx ``{"error": <code>, "detail": …}`` — refused, nothing written (counted per source and code);
- 503 ``{"error": "source_not_configured", …}`` — the source's secret is missing on the server.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request

from connectors.inbound.verify import InboundRequest, WebhookRejected, check_secret, verify
from hub.app.metrics import WEBHOOKS_ACCEPTED, WEBHOOKS_DUPLICATE, WEBHOOKS_REJECTED
from webapp import current_hub

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def _refuse(source: str, code: str, detail: str, status: int) -> tuple[Response, int]:
    WEBHOOKS_REJECTED.labels(source=source, code=code).inc()
    log.info("webhook %s refused: %s", source, code)
    return jsonify(error=code, detail=detail), status


def _read_body(limit: int) -> bytes | None:
    """The whole body, or None as soon as it is longer than ``limit`` bytes. Read until the end:
    one ``read`` of a chunked body can return a single chunk, and a body cut short there would be
    answered as a signature mismatch instead of 413. A chunked body (no Content-Length, the server
    marks its end) is read from the server's own stream: Werkzeug's, capped at the app's
    MAX_CONTENT_LENGTH, cannot tell a body of exactly the limit from a longer one."""
    environ = request.environ
    chunked = request.content_length is None and environ.get("wsgi.input_terminated")
    stream = environ["wsgi.input"] if chunked else request.stream
    parts: list[bytes] = []
    size = 0
    while True:
        part = stream.read(min(65536, limit + 1 - size))
        if not part:
            return b"".join(parts)
        parts.append(part)
        size += len(part)
        if size > limit:
            return None


@bp.post("/<name>")
@bp.post("/<name>/<token>")
def receive(name: str, token: str | None = None) -> Any:
    hub = current_hub()
    source = hub.config.sources.get(name)
    if source is None or not source.enabled:
        return _refuse("unknown", "unknown_source", f"no enabled source is called {name!r}", 404)
    limit = hub.config.inbox.max_body_kb * 1024
    if request.content_length is not None and request.content_length > limit:
        return _refuse(name, "body_too_large", f"bodies are limited to {limit // 1024} KB", 413)
    body = _read_body(limit)
    if body is None:  # a chunked body (no Content-Length) that went past the limit
        return _refuse(name, "body_too_large", f"bodies are limited to {limit // 1024} KB", 413)
    secret = hub.secret(source.secret_env)
    if secret is None:
        log.error("webhook %s: %s is not set; refusing deliveries until it is", name, source.secret_env)
        return _refuse(name, "source_not_configured", "this source's secret is not configured", 503)
    try:
        check_secret(source.type, secret)
    except ValueError as exc:  # the message never repeats the secret
        log.error(
            "webhook %s: %s is unusable (%s); refusing deliveries until it is fixed", name, source.secret_env, exc
        )
        return _refuse(name, "source_misconfigured", "this source's secret is not usable; see the hub's log", 503)
    inbound = InboundRequest(
        method=request.method,
        url=request.url,
        headers=dict(request.headers),
        body=body,
        path_token=token,
    )
    now = hub.clock()
    try:
        event = verify(
            source.type,
            inbound,
            secret=secret,
            now=now,
            tolerance=timedelta(seconds=source.tolerance_seconds),
            max_body=limit,
        )
    except WebhookRejected as exc:
        return _refuse(name, exc.code, exc.detail, exc.status)
    new = hub.inbox.accept(
        source=name,
        event_id=event.event_id,
        event_type=event.event_type,
        payload=event.payload,
        received_at=now,
    )
    if not new:
        WEBHOOKS_DUPLICATE.labels(source=name).inc()
        return jsonify(status="duplicate", event_id=event.event_id), 200
    WEBHOOKS_ACCEPTED.labels(source=name).inc()
    return jsonify(status="accepted", event_id=event.event_id), 202
