"""Liveness, readiness and metrics."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST

from hub.app.metrics import exposition, update_queue_metrics
from hub.store import StoreUnavailable
from webapp import current_hub

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Any:
    hub = current_hub()
    try:
        current = hub.store.probe()
    except StoreUnavailable as exc:  # the database is down or unreachable: not ready, say why
        return jsonify(status="unavailable", database="unreachable", detail=exc.cause), 503
    except Exception as exc:  # anything else that stops the check: not ready either
        return jsonify(status="unavailable", database="unreachable", detail=type(exc).__name__), 503
    if not current:
        return jsonify(status="unavailable", database="ok", migrations="behind"), 503
    return jsonify(status="ok", database="ok", migrations="current")


@bp.get("/metrics")
def metrics() -> Response:
    hub = current_hub()
    try:
        update_queue_metrics(hub.store, hub.clock())
    except Exception as exc:  # the database is down: the other metrics still answer; /readyz says why
        log.warning("metrics: queue depth not read (%s)", type(exc).__name__)
    return Response(exposition(), mimetype=CONTENT_TYPE_LATEST)
