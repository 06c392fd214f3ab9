"""The web app: a Flask application factory with one blueprint per feature.

``create_app(hub)`` takes an already-wired :class:`hub.app.bootstrap.Hub` (tests pass their own);
``create_app()`` wires one from the environment.
"""

from __future__ import annotations

import logging
import secrets
import traceback
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.routing import IntegerConverter, Map

from hub.app.bootstrap import Hub, build_hub

log = logging.getLogger(__name__)


class _App(Flask):
    def log_exception(self, exc_info: Any) -> None:
        """Flask would log the exception's message, which may carry data we never log; the 500
        handler logs a reference, the exception's type and where it was raised instead."""


class BoundedInt(IntegerConverter):
    """Werkzeug's ``int`` converter, limited to what a 32-bit signed column holds."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = 2**31 - 1) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max)


def create_app(hub: Hub | None = None, **overrides: Any) -> Flask:
    """Build the Flask app around ``hub``."""
    app = _App(__name__)
    # ``<int:…>`` in a URL is an id or a version: one too large for the store's integer columns is
    # "no such page" (404), not a database overflow (500).
    app.url_map.converters["int"] = BoundedInt
    the_hub = hub or build_hub()
    app.extensions["nurturehub"] = the_hub
    app.config.update(
        MAX_CONTENT_LENGTH=the_hub.config.inbox.max_body_kb * 1024,
        JSON_SORT_KEYS=False,
    )
    from webapp import auth

    # Session, cookie and security settings first, so that the caller's overrides win.
    auth.configure(app, the_hub, testing=bool(overrides.get("TESTING")), secret_key=overrides.get("SECRET_KEY"))
    app.config.update(overrides)

    from webapp import admin, health, webhooks

    app.register_blueprint(webhooks.bp)  # authenticated by signatures: exempt from sessions and CSRF
    app.register_blueprint(health.bp)
    auth.init_app(app, the_hub)
    admin.register(app)

    @app.before_request
    def pick_up_saved_settings() -> None:
        # Another replica (or this one) may have saved settings in the admin UI since the last look.
        the_hub.refresh()

    @app.errorhandler(404)
    def not_found(_: Exception) -> Any:
        if _wants_json():
            return jsonify(error="not_found", detail="no such endpoint"), 404
        return _html_error(404, "Page not found", "There is no page at this address. It may have moved.")

    @app.errorhandler(405)
    def not_allowed(_: Exception) -> Any:
        if _wants_json():
            return jsonify(error="method_not_allowed", detail="this endpoint does not accept that method"), 405
        return _html_error(405, "Not allowed", "This page cannot be used that way. Go back and use its buttons.")

    @app.errorhandler(413)
    def too_large(_: Exception) -> Any:
        limit = the_hub.config.inbox.max_body_kb
        return jsonify(error="body_too_large", detail=f"bodies are limited to {limit} KB"), 413

    @app.errorhandler(500)
    def server_error(error: Exception) -> Any:
        reference = secrets.token_hex(4)
        # The reference, the exception's type and where it was raised: messages may carry data we never log.
        original = getattr(error, "original_exception", None) or error
        where = traceback.extract_tb(original.__traceback__)[-1] if original.__traceback__ else None
        log.error(
            "internal error %s on %s: %s at %s:%s",
            reference, request.endpoint, type(original).__name__,
            where.filename if where else "?", where.lineno if where else "?",
        )  # fmt: skip
        if _wants_json():
            return jsonify(error="internal", detail="the hub failed to answer; try again", reference=reference), 500
        return _html_error(
            500,
            "Something went wrong",
            "The hub could not show this page. Nothing you entered was half-saved: try again in a minute. "
            "If it keeps happening, tell your admin the reference below.",
            reference=reference,
        )

    favicon_bytes = Path(app.static_folder or "", "favicon.ico").read_bytes()  # read once: no open file per request

    @app.get("/favicon.ico")
    def favicon() -> Any:
        return Response(favicon_bytes, mimetype="image/vnd.microsoft.icon", headers={"Cache-Control": "max-age=86400"})

    return app


def _wants_json() -> bool:
    """Webhook senders, probes and API clients get JSON errors; browsers get pages."""
    from flask import request

    if request.blueprint in ("webhooks", "health") or request.path.startswith(("/webhooks/", "/metrics")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _html_error(status: int, title: str, message: str, *, reference: str | None = None) -> Any:
    from flask import render_template

    try:
        page = render_template(
            "error.html", title=title, message=message, status=status, reference=reference, bare=status == 500
        )
    except Exception:  # the layout itself failed (e.g. the store is down): a page that needs nothing
        log.exception("the error page could not be rendered")
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>' + title + "</title>"
            '<link rel="stylesheet" href="/static/admin.css"></head><body><main id="main"><h1>' + title + "</h1>"
            "<p>" + message + '</p><p><a href="/">Back to the first page</a></p></main></body></html>'
        )
    return page, status, {"Content-Type": "text/html; charset=utf-8"}


def current_hub() -> Hub:
    """The hub of the running app (for views)."""
    from flask import current_app

    hub: Hub = current_app.extensions["nurturehub"]
    return hub
