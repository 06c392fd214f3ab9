"""A local Salesforce REST API (v59.0) that the real simple-salesforce cannot tell from the real one.

It serves over TLS (simple-salesforce always builds ``https://`` URLs), keeps an org's Leads,
Contacts and Tasks in SQLite (a file for the demo, memory for tests), and answers with Salesforce's
status codes, bodies and headers: sObject rows, upsert by external id, sObject Collections, SOQL
with ``nextRecordsUrl`` paging, describe, ``Sforce-Limit-Info``, daily-budget and session errors,
and an OAuth 2.0 web-server flow (authorization code with client secret or PKCE, refresh, revoke).

This module holds :class:`SalesforceSandbox`, composed of one mixin per concern over the shared
state (``state``): ``auth``, ``limits``, ``describe``, ``sobjects`` (with ``validation``),
``collections`` and ``query``; the WSGI entry, routing, fault injection and the daily budget check
are here, with :func:`serve_salesforce` (TLS from ``sandboxes.common.ensure_tls_files``).

What is faithful and what is not is listed in ``docs/sandbox-salesforce.md``.

Example:
    sandbox = SalesforceSandbox()
    server, ca = serve_salesforce(sandbox)
    session = requests.Session()
    session.verify, session.trust_env = str(ca), False
    sf = Salesforce(instance_url=server.url, session_id=sandbox.issue_token(), session=session,
                    version="59.0")
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.wrappers import Request, Response

from sandboxes.common import SandboxServer, ensure_tls_files, tls_context
from sandboxes.salesforce.auth import AuthMixin
from sandboxes.salesforce.collections import CollectionsMixin
from sandboxes.salesforce.describe import DescribeMixin, versions
from sandboxes.salesforce.limits import DEFAULT_DAILY_BUDGET, LimitsMixin
from sandboxes.salesforce.query import QueryMixin
from sandboxes.salesforce.schema import SUPPORTED_VERSIONS
from sandboxes.salesforce.state import _URLS, ApiError, _not_found, logger

__all__ = ["DEFAULT_DAILY_BUDGET", "SalesforceSandbox", "ensure_tls_files", "serve_salesforce"]


class SalesforceSandbox(AuthMixin, LimitsMixin, DescribeMixin, CollectionsMixin, QueryMixin):
    """A stateful Salesforce org behind a WSGI app.

    Args:
        state_path: SQLite file to keep the org in (survives restarts); None keeps it in memory.
        faults: faults to inject (latency, 429/503 shares, session expiry, daily budget).
        client_id / client_secret: the connected app's consumer key and secret for OAuth.
        duplicate_rule: when true, a Lead or Contact whose Email matches another of the same type
            fails with DUPLICATES_DETECTED unless the request sends
            ``Sforce-Duplicate-Rule-Header: allowSave=true``.
        clock: returns the current aware datetime; audit stamps come from it (default: UTC now).
    """

    # ------------------------------------------------------------------------------------------
    # WSGI.

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        response = self._respond(request)
        self.log.add(request.method, request.path, response.status_code)
        logger.debug("%s %s -> %d", request.method, request.path, response.status_code)
        result: Iterable[bytes] = response(environ, start_response)
        return result

    def _respond(self, request: Request) -> Response:
        self.faults.delay()
        adapter = _URLS.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except MethodNotAllowed as exc:
            allowed = ",".join(sorted(exc.valid_methods or []))
            return self._json(
                405,
                [
                    {
                        "errorCode": "METHOD_NOT_ALLOWED",
                        "message": f"HTTP Method '{request.method}' not allowed. Allowed are {allowed}",
                    }
                ],
                request,
            )
        except NotFound:
            # werkzeug reports a wrong method as NotFound when strict_slashes is off: probe the methods.
            allowed_methods = []
            for method in ("GET", "PATCH", "POST", "DELETE"):
                try:
                    adapter.match(method=method)
                except HTTPException:
                    continue
                allowed_methods.append(method)
            if allowed_methods:
                return self._json(
                    405,
                    [
                        {
                            "errorCode": "METHOD_NOT_ALLOWED",
                            "message": f"HTTP Method '{request.method}' not allowed. "
                            f"Allowed are {','.join(allowed_methods)}",
                        }
                    ],
                    request,
                )
            error = _not_found()
            return self._json(error.status, error.body, request)
        except HTTPException as exc:  # pragma: no cover - redirects are disabled by strict_slashes
            return self._json(exc.code or 400, [{"errorCode": "NOT_FOUND", "message": str(exc)}], request)
        if endpoint.startswith("oauth_"):
            with self._state.lock:
                return self._oauth(endpoint, request)
        if endpoint == "versions":
            return self._json(200, versions(), request)
        with self._state.lock:
            return self._api_call(endpoint, dict(args), request)

    def _api_call(self, endpoint: str, args: dict[str, Any], request: Request) -> Response:
        fault = self.faults.roll()
        if fault == "429":
            return self._json(
                429,
                [
                    {
                        "message": "Too many requests (injected by the sandbox: Salesforce itself answers "
                        "REST overload with 403 REQUEST_LIMIT_EXCEEDED or 503)",
                        "errorCode": "REQUEST_LIMIT_EXCEEDED",
                    }
                ],
                request,
                headers={"Retry-After": str(self.faults.retry_after_s)},
            )
        if fault == "5xx":
            return self._json(
                503,
                [
                    {
                        "message": "Server temporarily unavailable (injected by the sandbox)",
                        "errorCode": "SERVER_UNAVAILABLE",
                    }
                ],
                request,
            )
        token = self._authenticate(request)
        if token is None:
            return self._json(
                401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], request
            )
        version = args.pop("version")
        if version not in SUPPORTED_VERSIONS:
            error = _not_found()
            return self._json(error.status, error.body, request)
        if self._usage >= self.daily_budget:
            return self._json(
                403,
                [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
                request,
                limit_info=True,
            )
        self._usage += 1
        handler = getattr(self, f"_h_{endpoint}")
        try:
            status, body, headers = handler(request, version, **args)
        except ApiError as exc:
            status, body, headers = exc.status, exc.body, exc.headers
        with self._state.tx() as conn:
            self._store.flush(conn)
            self._save_meta(conn)
        return self._json(status, body, request, headers=headers, limit_info=True)


def serve_salesforce(
    sandbox: SalesforceSandbox, *, port: int = 0, cert_dir: Path | None = None
) -> tuple[SandboxServer, Path]:
    """Start ``sandbox`` over TLS on a loopback port, with a certificate from a trustme CA.

    Args:
        sandbox: the org to serve.
        port: the port to bind (0 picks a free one).
        cert_dir: where the CA and the server certificate live; written once and reused (the demo).
            Without it they go to a fresh temporary directory.

    Returns:
        The running server (``server.url`` is the instance URL) and the CA bundle (PEM) that clients
        must trust (``session.verify = str(ca_path)``).
    """
    directory = cert_dir if cert_dir is not None else Path(tempfile.mkdtemp(prefix="nurturehub-sf-tls-"))
    ca_path, cert_path, key_path = ensure_tls_files(directory)
    server = SandboxServer(sandbox, port=port, ssl_context=tls_context(cert_path, key_path))
    server.start()
    logger.info("salesforce sandbox listening on %s", server.url)
    return server, ca_path
