"""A local HubSpot CRM v3 sandbox: a stateful WSGI app that speaks HubSpot's wire format closely
enough that the real ``hubspot-api-client`` cannot tell the difference.

Served: contacts and tasks (basic, batch, search), the properties API, owners, associations v4,
OAuth 2.0 (authorize, token, token info), HubSpot's rate limits and error bodies, and the shared
fault injection (``sandboxes.common``). State lives in SQLite, so a file-backed sandbox survives restarts.

Example:
    sandbox = HubSpotSandbox()
    with serve_hubspot(sandbox) as server:
        client = hubspot.Client.create(access_token=sandbox.issue_token(), host=server.url)
        client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={...}))

This module holds :class:`HubSpotSandbox`, composed of one mixin per concern over the shared
state (``state``): ``auth`` (tokens, OAuth, admission and rate limits), ``objects``, ``properties``
and ``associations``; the WSGI entry and the routing are here, with :func:`serve_hubspot`.

What is faithful, what is not and where each detail was checked: ``docs/sandbox-hubspot.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.wrappers import Request, Response

from sandboxes.common import SandboxServer
from sandboxes.hubspot.associations import AssociationsMixin
from sandboxes.hubspot.auth import AuthMixin
from sandboxes.hubspot.limits import RateLimits
from sandboxes.hubspot.model import (
    HubSpotError,
    correlation_id,
    not_found,
)
from sandboxes.hubspot.objects import ObjectsMixin
from sandboxes.hubspot.properties import PropertiesMixin
from sandboxes.hubspot.state import _json

__all__ = ["HubSpotSandbox", "RateLimits", "serve_hubspot"]


class HubSpotSandbox(AuthMixin, ObjectsMixin, PropertiesMixin, AssociationsMixin):
    """A HubSpot portal on this machine (WSGI app).

    Args:
        state_path: SQLite file for the portal's state (the demo); None keeps it in memory (tests).
        faults: faults to inject; flip its fields while the sandbox runs.
        client_id: the OAuth app's client id.
        client_secret: the OAuth app's client secret.
        portal_id: the portal (hub) id.
        clock: the time records are stamped with (default: real UTC); rate limits use real time.
        limits: the portal's rate limits.
        unique_property_objects: object types on which ``hasUniqueValue`` properties may be created.
        multi_status: batch create and upsert answer 207 with per-input errors when the inputs carry
            ``objectWriteTraceId``s (HubSpot's multi-status mode); False answers every batch all or
            nothing (one bad input: a 400 for the whole call), as without trace ids.
    """

    # --- WSGI -----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        response = self._respond(request)
        self.log.add(request.method, request.path, response.status_code)
        return response(environ, start_response)

    def _respond(self, request: Request) -> Response:
        self.faults.delay()
        headers: dict[str, str] = {}
        try:
            adapter = self._url_map.bind_to_environ(request.environ)
            endpoint, args = adapter.match()
            handler: Callable[..., Response] = getattr(self, f"_h_{endpoint}")
            if request.path.startswith("/crm/"):
                caller = self._admit(request, headers)
                response = handler(request, caller=caller, **args)
            else:
                response = handler(request, **args)
        except HubSpotError as exc:
            headers.update(exc.headers)
            response = _json(exc.body, exc.status)
        except MethodNotAllowed:
            response = _json(
                {
                    "status": "error",
                    "message": "HTTP 405 Method Not Allowed",
                    "correlationId": correlation_id(),
                    "category": "VALIDATION_ERROR",
                },
                405,
            )
        except NotFound:
            response = _json(not_found().body, 404)
        except HTTPException as exc:
            response = _json(
                HubSpotError.of(exc.code or 400, "VALIDATION_ERROR", exc.description or "").body,
                exc.code or 400,
            )
        for name, value in headers.items():
            response.headers[name] = value
        return response


def serve_hubspot(sandbox: HubSpotSandbox, *, port: int = 0) -> SandboxServer:
    """A (not yet started) plain-http server for the sandbox on a loopback port.

    Args:
        sandbox: the sandbox app.
        port: the port; 0 picks a free one.

    Returns:
        The server; use it as a context manager or call ``start()``.
    """
    return SandboxServer(sandbox, port=port)
