"""The access log of ``nurturehub serve`` keeps no secrets: gunicorn's real logger, fed a request."""

from __future__ import annotations

import io
import logging
from datetime import timedelta
from types import SimpleNamespace

from gunicorn.config import Config

from webapp import gunicorn_conf
from webapp.gunicorn_conf import MaskingLogger, loggable_target


def test_a_path_token_and_query_strings_never_reach_the_access_log() -> None:
    config = Config()
    config.set("accesslog", "-")
    logger = MaskingLogger(config)
    out = io.StringIO()
    for handler in logger.access_log.handlers:
        handler.setStream(out)  # type: ignore[attr-defined]
    environ = {
        "REQUEST_METHOD": "POST", "RAW_URI": "/webhooks/contact_form/jotform-path-token-0123456789abcdef?x=1",
        "PATH_INFO": "/webhooks/contact_form/jotform-path-token-0123456789abcdef", "QUERY_STRING": "x=1",
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": "https://hub.example/connections/salesforce/callback?code=oauth-code-secret",
    }  # fmt: skip
    response = SimpleNamespace(status="202 ACCEPTED", sent=40, headers=[])
    request = SimpleNamespace(headers=[])

    logger.access(response, request, environ, timedelta(milliseconds=3))

    line = out.getvalue()
    assert '"POST /webhooks/contact_form/***?… HTTP/1.1" 202 40' in line
    assert "jotform-path-token" not in line and "oauth-code-secret" not in line and "x=1" not in line
    assert gunicorn_conf.logger_class is MaskingLogger
    logging.getLogger("gunicorn.access").handlers.clear()


def test_ordinary_paths_are_kept() -> None:
    assert loggable_target("/webhooks/landing_page") == "/webhooks/landing_page"
    assert loggable_target("/leads/nh_0001", "tab=consent") == "/leads/nh_0001?…"
