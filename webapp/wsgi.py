"""The WSGI entry point for gunicorn: ``gunicorn 'webapp.wsgi:app'`` (configured by the environment:
NURTUREHUB_CONFIG, NURTUREHUB_DATABASE_URL, NURTUREHUB_DATA_KEY and the sources' secrets)."""

from __future__ import annotations

from hub.app.instance import make_private
from hub.app.logs import configure_logging
from hub.settings.config import load_config
from webapp import create_app

configure_logging(json_lines=True)
make_private(load_config().instance_path)  # the umask for what this process creates, and a repair
app = create_app()
