"""The web app's fixtures (a wired hub on a temporary SQLite store and its Flask app), shared."""

from __future__ import annotations

from tests.webapp.conftest import app, client, hub

__all__ = ["app", "client", "hub"]
