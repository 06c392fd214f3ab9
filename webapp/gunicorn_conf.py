"""gunicorn settings for ``nurturehub serve``.

- Each worker's metrics go to PROMETHEUS_MULTIPROC_DIR (set by ``serve``), and /metrics adds up
  every worker's, so a scrape sees the whole web tier whichever worker answers it.
- The access log never carries a secret or a query string: a Jotform source's path token
  (``/webhooks/<name>/<token>``) is masked, and query strings (OAuth codes, filters) are dropped.
- Threaded workers (``gthread``, 4 threads each): a sign-in waits for its password hash (tens of
  milliseconds, on a low-priority thread) without holding its worker, so webhook acknowledgements
  are not queued behind sign-in traffic (issue 14.6; ``bench/ingest.py`` measures it).
- No control socket: gunicorn 25.1+ otherwise opens one in ``$XDG_RUNTIME_DIR`` or ``~/.gunicorn/``,
  outside the instance and shared by every gunicorn of the user. The hub is stopped and reloaded by
  signals (systemd's ``KillSignal``/``ExecReload``), so nothing needs ``gunicornc``.
"""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

_TOKEN_PATH = re.compile(r"^(/webhooks/[^/]+/)[^/]+")


def loggable_target(path: str, query: str = "") -> str:
    """The request target as the access log may show it."""
    masked = _TOKEN_PATH.sub(r"\1***", path)
    return f"{masked}?…" if query else masked


class MaskingLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger with the request line, path, query and referer made safe to keep."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        path, query = environ.get("PATH_INFO") or "", environ.get("QUERY_STRING") or ""
        target = loggable_target(path, query)
        atoms["r"] = f"{environ.get('REQUEST_METHOD')} {target} {environ.get('SERVER_PROTOCOL')}"
        atoms["U"] = loggable_target(path)
        atoms["q"] = ""
        referer = str(environ.get("HTTP_REFERER") or "-")
        atoms["f"] = referer.split("?", 1)[0]
        return atoms


logger_class = MaskingLogger
worker_class = "gthread"
threads = 4
control_socket_disable = True  # older gunicorn versions ignore a setting they do not know


def child_exit(server: Any, worker: Any) -> None:
    """A dead worker's live gauges leave the sums (its counters stay counted)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
