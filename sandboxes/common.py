"""What every sandbox server shares: a threaded WSGI server on a loopback port, fault injection,
a request log that tests read to count API calls, a SQLite state file, and TLS: a server context
and certificates from a trustme CA (:func:`ensure_tls_files`; the Salesforce sandbox serves HTTPS).

A sandbox app is a WSGI callable built on werkzeug (not Flask: Flask lives only in ``webapp/``).
"""

from __future__ import annotations

import random
import socket
import sqlite3
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import trustme
from werkzeug.serving import BaseWSGIServer, make_server

__all__ = [
    "Faults",
    "LoggedRequest",
    "RequestLog",
    "SandboxServer",
    "SqliteState",
    "ensure_tls_files",
    "tls_context",
]


@dataclass(slots=True, kw_only=True)
class Faults:
    """Faults a sandbox injects, changeable while it runs (tests flip them between steps).

    Attributes:
        latency_ms: added to every response.
        share_429: fraction (0..1) of API calls answered with the vendor's rate-limit error.
        share_5xx: fraction (0..1) of API calls answered with a 503.
        retry_after_s: the Retry-After a 429 carries.
        expire_session_after: after this many authenticated calls, the current access token
            stops working (the vendor's session-expiry error) until a token refresh.
        daily_budget: API calls allowed in the current "day"; past it, the vendor's daily-limit error.
        seed: seeds the random choice of which calls fail, so a run is repeatable.
    """

    latency_ms: float = 0.0
    share_429: float = 0.0
    share_5xx: float = 0.0
    retry_after_s: int = 1
    expire_session_after: int | None = None
    daily_budget: int | None = None
    seed: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        for name in ("share_429", "share_5xx"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Faults.{name} must be between 0 and 1, got {value!r}")
        if self.latency_ms < 0:
            raise ValueError(f"Faults.latency_ms must not be negative, got {self.latency_ms!r}")
        self._rng.seed(self.seed)

    def roll(self) -> str | None:
        """Decide whether this call fails: '429', '5xx' or None."""
        r = self._rng.random()
        if r < self.share_429:
            return "429"
        if r < self.share_429 + self.share_5xx:
            return "5xx"
        return None

    def delay(self) -> None:
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000.0)


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request a sandbox answered: what tests count."""

    method: str
    path: str
    status: int
    at: float


class RequestLog:
    """Thread-safe, append-only log of answered requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[LoggedRequest] = []

    def add(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._items.append(LoggedRequest(method, path, status, time.monotonic()))

    def entries(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._items)

    def count(self, method: str | None = None, path_prefix: str = "", status: int | None = None) -> int:
        return sum(
            1
            for e in self.entries()
            if (method is None or e.method == method)
            and e.path.startswith(path_prefix)
            and (status is None or e.status == status)
        )

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class SqliteState:
    """A sandbox's state: one SQLite database (a file, so the demo survives restarts, or memory).

    One connection shared by the server's threads, serialised by a lock; sandboxes are not
    built for concurrency, only for fidelity.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        target = ":memory:" if path is None else str(path)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL" if path is not None else "PRAGMA journal_mode=MEMORY")
        self.lock = threading.RLock()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        with self.lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            self._conn.close()


def free_port(host: str = "127.0.0.1") -> int:
    """A loopback port free right now (for servers started in another process)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def tls_context(cert_pem: Path, key_pem: Path) -> ssl.SSLContext:
    """A server TLS context from PEM files (see ``SandboxServer.start(tls=...)``)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert_pem), str(key_pem))
    return ctx


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


class SandboxServer:
    """Runs a WSGI app on a loopback port in a background thread.

    Example:
        with SandboxServer(app) as server:
            requests.get(server.url + "/healthz")
    """

    def __init__(
        self,
        app: WSGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.app = app
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True, ssl_context=ssl_context)
        self.host = host
        self.port = self._server.server_port
        self.scheme = "https" if ssl_context is not None else "http"
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"sandbox:{self.port}", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (the CLI)."""
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def ensure_tls_files(cert_dir: Path) -> tuple[Path, Path, Path]:
    """The sandbox's TLS files in ``cert_dir``, made with a trustme CA the first time.

    Returns:
        ``(ca.pem, server.pem, server.key)``: the CA bundle clients trust, and the certificate chain
        and key of the server (valid for 127.0.0.1 and localhost).
    """
    ca_path, cert_path, key_path = cert_dir / "ca.pem", cert_dir / "server.pem", cert_dir / "server.key"
    if ca_path.exists() and cert_path.exists() and key_path.exists():
        return ca_path, cert_path, key_path
    cert_dir.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="nurturehub sandbox CA")
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(ca_path))
    server_cert.private_key_pem.write_to_path(str(key_path))
    cert_path.write_bytes(b"".join(pem.bytes() for pem in server_cert.cert_chain_pems))
    return ca_path, cert_path, key_path
