"""The WSGI entry point for gunicorn: ``gunicorn 'webapp.wsgi:app'`` (configured by the environment:
NURTUREHUB_CONFIG, NURTUREHUB_DATABASE_URL, NURTUREHUB_DATA_KEY and the sources' secrets)."""

from __future__ import annotations

from hub.logs import configure_logging
from webapp import create_app

configure_logging(json_lines=True)
app = create_app()
