"""Connecting a CRM by OAuth 2.0 (authorization code), from the command line or programmatically.

The CLI prints the CRM's authorize URL, listens on the configured redirect URI's port on this
machine for the browser coming back, checks ``state``, trades the code for tokens with Authlib (with
the PKCE S256 verifier, RFC 7636, which both Salesforce and HubSpot accept) and stores them
encrypted. ``connect_with_agent`` does the same without a person, for CRMs that approve at once
(the local sandboxes): it plays the browser.
"""

from __future__ import annotations

import logging
import threading
from typing import TextIO
from urllib.parse import urlsplit

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from hub.app.bootstrap import Hub
from hub.connections.crm import AuthorizationRequest, authorization_url, exchange_code
from nurture.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["connect_interactively", "connect_with_agent"]


def _finish(hub: Hub, name: str, *, callback_url: str, request: AuthorizationRequest) -> str:
    settings = hub.crm[name]
    token = exchange_code(
        settings,
        hub.secret(settings.client_secret_env),
        callback_url=callback_url,
        state=request.state,
        code_verifier=request.code_verifier,
    )
    hub.tokens(name).save(token, now=hub.clock(), detail="connected by OAuth")
    hub.reset_sync()
    log.info("%s: connected", name)
    where = token.get("instance_url") or settings.options.get("api_host") or ""
    return f"connected{f' to {where}' if where else ''}"


def connect_interactively(hub: Hub, name: str, *, timeout: float, out: TextIO) -> str:
    """Send the admin to the CRM's consent page and wait for the redirect back."""
    settings = hub.crm[name]
    if not settings.client_id:
        raise ConfigError([f"crm.{name}.client_id: set the connected app's client id first"])
    request = authorization_url(settings, hub.secret(settings.client_secret_env))
    url = request.url
    redirect = urlsplit(settings.redirect_uri)
    if redirect.hostname not in ("localhost", "127.0.0.1"):
        raise ConfigError(
            [f"crm.{name}.redirect_uri: the CLI can only receive a local redirect; connect from the web UI instead"]
        )
    received: dict[str, str] = {}
    done = threading.Event()

    @Request.application
    def callback(request: Request) -> Response:
        if request.path != redirect.path:
            return Response("not found", status=404)
        received["url"] = settings.redirect_uri.split("?")[0] + ("?" + request.query_string.decode())
        done.set()
        return Response("nurturehub: connected. You can close this window.", mimetype="text/plain")

    server = make_server(redirect.hostname or "127.0.0.1", redirect.port or 80, callback)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        out.write(f"Open this address in a browser and approve nurturehub's access:\n\n  {url}\n\n")
        out.flush()
        if not done.wait(timeout):
            raise ConfigError([f"crm.{name}: no answer from the browser within {int(timeout)} s"])
    finally:
        server.shutdown()
    return _finish(hub, name, callback_url=received["url"], request=request)


def connect_with_agent(hub: Hub, name: str, *, session: requests.Session | None = None) -> str:
    """Connect to a CRM whose consent page approves at once, following its redirect ourselves."""
    settings = hub.crm[name]
    request = authorization_url(settings, hub.secret(settings.client_secret_env))
    url = request.url
    http = session or requests.Session()
    http.trust_env = False
    ca = str(settings.options.get("ca_bundle") or "")
    response = http.get(url, allow_redirects=False, timeout=10, verify=ca or True)
    location = response.headers.get("Location", "")
    if response.status_code not in (301, 302, 303) or not location.startswith(settings.redirect_uri.split("?")[0]):
        raise ConfigError([f"crm.{name}: the authorize page did not redirect back (HTTP {response.status_code})"])
    return _finish(hub, name, callback_url=location, request=request)
