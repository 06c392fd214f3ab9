"""The web app's fixtures, shared (a wired hub on a temporary SQLite store and its Flask app)."""

from __future__ import annotations

from tests.webapp.conftest import app, client, hub

__all__ = ["app", "client", "hub"]
