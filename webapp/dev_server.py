"""Werkzeug's development server (``nurturehub serve --dev`` and ``run``) with the same request-line
masking as the gunicorn access log: a Jotform source's path token (``/webhooks/<name>/<token>``) and
query strings (OAuth codes, filters) never reach the log."""

from __future__ import annotations

from werkzeug.serving import WSGIRequestHandler

from webapp.gunicorn_conf import loggable_target

__all__ = ["MaskingRequestHandler"]


class MaskingRequestHandler(WSGIRequestHandler):
    """Logs ``POST /webhooks/contact_form/*** HTTP/1.1`` instead of the token."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Werkzeug builds the line from ``self.path`` (else ``self.requestline``): mask both.
        target = getattr(self, "path", "")
        path, _, query = target.partition("?")
        masked = loggable_target(path, query)
        method, _, rest = self.requestline.partition(" ")
        protocol = rest.rpartition(" ")[2]
        self.path, self.requestline = masked, f"{method} {masked} {protocol}"
        try:
            super().log_request(code, size)
        finally:
            self.path = target
