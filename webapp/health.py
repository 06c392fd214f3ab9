"""Liveness, readiness and metrics."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from hub.metrics import REGISTRY
from webapp import current_hub

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Any:
    hub = current_hub()
    try:
        with hub.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = hub.store.is_current()
    except Exception as exc:  # the database is down or unreachable: not ready, say why
        return jsonify(status="unavailable", database="unreachable", detail=type(exc).__name__), 503
    if not current:
        return jsonify(status="unavailable", database="ok", migrations="behind"), 503
    return jsonify(status="ok", database="ok", migrations="current")


@bp.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)
