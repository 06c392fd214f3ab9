"""The web app: a Flask application factory with one blueprint per feature.

``create_app(hub)`` takes an already-wired :class:`hub.bootstrap.Hub` (tests pass their own);
``create_app()`` wires one from the environment.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from werkzeug.routing import IntegerConverter, Map

from hub.bootstrap import Hub, build_hub


class BoundedInt(IntegerConverter):
    """Werkzeug's ``int`` converter, limited to what a 32-bit signed column holds."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = 2**31 - 1) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max)


def create_app(hub: Hub | None = None, **overrides: Any) -> Flask:
    """Build the Flask app around ``hub``."""
    app = Flask(__name__)
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
        return jsonify(error="not_found", detail="no such endpoint"), 404

    @app.errorhandler(405)
    def not_allowed(_: Exception) -> Any:
        return jsonify(error="method_not_allowed", detail="this endpoint does not accept that method"), 405

    @app.errorhandler(413)
    def too_large(_: Exception) -> Any:
        limit = the_hub.config.inbox.max_body_kb
        return jsonify(error="body_too_large", detail=f"bodies are limited to {limit} KB"), 413

    return app


def current_hub() -> Hub:
    """The hub of the running app (for views)."""
    from flask import current_app

    hub: Hub = current_app.extensions["nurturehub"]
    return hub
