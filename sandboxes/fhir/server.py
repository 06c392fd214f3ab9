"""A local FHIR R4 (4.0.1) scheduling server: a clinic's calendar as an EHR's FHIR API exposes it.

Served under ``/fhir``: ``CapabilityStatement`` (``/metadata``), ``Practitioner``, ``Location``,
``HealthcareService``, ``Schedule`` and ``Slot`` (read and search, Bundle paging through ``next``
links), and ``Appointment`` (create referencing a slot, conditional create by identifier, read,
search by ``_lastUpdated``, update with ``If-Match`` to cancel or record a no-show). Errors are
``OperationOutcome`` resources with the status codes FHIR servers use (400, 401, 403, 404, 409, 412,
422, 429, 503). OAuth 2.0 client credentials in the SMART Backend Services style
(``/.well-known/smart-configuration``, ``/auth/token``): ``private_key_jwt`` (RS384/ES384 client
assertions checked against the client's JWKS) or a client secret (basic or post), SMART v1 and v2
system scopes.

The calendar (:data:`DEFAULT_CALENDAR`): six providers — two of them Spanish-speaking, one also
Chinese-speaking — at two clinic locations plus telehealth; primary care, physical therapy (needs a
referral) and sleep studies (need a referral and a prior authorization; booked out for the first two
weeks); an interpreter booked for Spanish on Thursdays with one provider. Slots are generated from
the sandbox clock's date for the next weeks; a seeded share of them is already busy. Booking marks a
slot busy (a pending appointment: busy-tentative), a second booking of a busy slot is refused with
409 and an ``OperationOutcome``, and a cancellation frees the slot.

State lives in SQLite (:class:`~sandboxes.common.SqliteState`), so a file-backed sandbox
survives restarts; faults come from the shared (``sandboxes.common``) :class:`~sandboxes.common.Faults`.
It plays one of three EHR *profiles* (``profile=``), as deployed EHRs differ in how they offer
availability — the connector reads ``/metadata`` to tell which it faces:

- ``generic``: Slot search by ``schedule`` and ``status`` (R4 core), Appointment create;
- ``argonaut`` (Epic-style): no Slot or Schedule search; ``Appointment/$find`` answers proposed
  appointments, ``$hold`` and ``$book`` (with ``patient-id``) hold and book one (Argonaut
  Scheduling IG operations, listed in the CapabilityStatement); direct Appointment create refused;
- ``oracle`` (Oracle Health Millennium-style): Slot search by ``service-type`` (or ``_id``) with
  ``start``, narrowed by ``schedule.actor`` and ``-location``, free slots only (no ``schedule`` or
  ``status`` parameter); an Appointment must name its patient as ``Patient/<id>``.

In every profile an Appointment search must be narrowed (patient, practitioner, actor, location,
identifier, slot or id): an unfiltered search of a clinic's appointments is refused, as EHRs do.
Patients are registered by the EHR (:meth:`FhirSandbox.register_patient`) and found by identifier.

This module holds :class:`FhirSandbox`, composed of one mixin per concern over the shared state
(``state``): ``auth`` (SMART backend services), ``search`` and ``booking``; the WSGI entry, routing,
faults, ``/metadata`` and reads are here. The calendar is ``calendar``, the vocabulary ``model``.

What is faithful and what is not: ``docs/scheduling.md``.

Example:
    sandbox = FhirSandbox()
    with SandboxServer(sandbox) as server:
        requests.get(server.url + "/fhir/metadata")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from sandboxes.fhir.auth import AuthMixin, _allows
from sandboxes.fhir.booking import BookingMixin
from sandboxes.fhir.model import (
    ARGONAUT_BOOK,
    ARGONAUT_FIND,
    ARGONAUT_HOLD,
    SEARCHABLE,
    FhirError,
    Json,
    _instant,
    operation_outcome,
)
from sandboxes.fhir.search import SearchMixin

__all__ = ["FhirSandbox"]


# --- the sandbox ------------------------------------------------------------------------------


class FhirSandbox(AuthMixin, SearchMixin, BookingMixin):
    """A FHIR R4 scheduling server on this machine (a WSGI app).

    Args:
        calendar: the clinic whose calendar it serves.
        state_path: SQLite file (the demo); None keeps state in memory (tests).
        faults: faults to inject into API calls (flip its fields while it runs).
        clock: the time resources are stamped with and slots are generated from (default real
            UTC); token lifetimes and client assertions use real time, as Authlib signs with it.
        client_id, client_secret: a client registered at start (client-secret authentication).
        token_ttl_s: access token lifetime.
        profile: the EHR behaviour to play: ``generic``, ``argonaut`` (Epic-style) or ``oracle``.
    """

    # --- WSGI -----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        response = self._respond(request)
        self.log.add(request.method, request.path, response.status_code)
        return response(environ, start_response)

    def _respond(self, request: Request) -> Response:
        self.faults.delay()
        try:
            adapter = self._url_map.bind_to_environ(request.environ)
            endpoint, args = adapter.match()
            handler: Callable[..., Response] = getattr(self, f"_h_{endpoint}")
            if endpoint in ("search", "create", "read", "update", "find", "hold", "book"):
                self._fault()
                token = self._authorize(request)
                rtype = args.get("rtype", "Appointment")
                op = "read" if request.method == "GET" or endpoint == "find" else "write"
                if rtype not in SEARCHABLE or (endpoint == "search" and rtype not in self._params()):
                    raise FhirError(404, "not-supported", f"resource type {rtype} is not supported here")
                if endpoint in ("find", "hold", "book") and self.profile != "argonaut":
                    raise FhirError(404, "not-supported", f"Appointment/${endpoint} is not supported here")
                if endpoint == "create" and self.profile == "argonaut":
                    raise FhirError(405, "not-supported", "appointments are booked with Appointment/$book here")
                if not _allows(token.scopes, rtype, op):
                    raise FhirError(403, "forbidden", f"the access token's scopes do not allow {op} on {rtype}")
            return handler(request, **args)
        except FhirError as exc:
            return self._outcome_response(exc)
        except HTTPException as exc:
            code = "not-supported" if exc.code == 405 else "not-found"
            return self._outcome_response(FhirError(exc.code or 400, code, exc.description or exc.name))

    def _outcome_response(self, exc: FhirError) -> Response:
        body = operation_outcome(exc.code, exc.diagnostics, severity=exc.severity)
        return self._json(body, status=exc.status, headers=exc.headers)

    def _fault(self) -> None:
        match self.faults.roll():
            case "429":
                raise FhirError(
                    429,
                    "throttled",
                    "rate limit exceeded; retry later",
                    headers={"Retry-After": str(self.faults.retry_after_s)},
                )
            case "5xx":
                raise FhirError(503, "transient", "the server is temporarily unavailable")
            case _:
                return

    # --- handlers: discovery and auth ------------------------------------------------------------

    def _h_metadata(self, request: Request) -> Response:
        base = self._base(request)
        params = self._params()
        resources: list[Json] = []
        for rtype in SEARCHABLE:
            if rtype not in params:
                continue
            interactions = [{"code": "read"}, {"code": "search-type"}]
            if rtype == "Appointment":
                interactions += [{"code": "update"}] if self.profile == "argonaut" else [
                    {"code": "create"}, {"code": "update"}
                ]  # fmt: skip
            entry: Json = {
                "type": rtype,
                "interaction": interactions,
                "searchParam": [{"name": name, "type": kind} for name, kind in params[rtype].items()],
            }
            if rtype == "Appointment" and self.profile == "argonaut":
                entry["operation"] = [
                    {"name": "find", "definition": ARGONAUT_FIND},
                    {"name": "hold", "definition": ARGONAUT_HOLD},
                    {"name": "book", "definition": ARGONAUT_BOOK},
                ]
            resources.append(entry)
        body: Json = {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": _instant(self._clock()),
            "kind": "instance",
            "software": {"name": f"nurturehub FHIR sandbox ({self.profile})", "version": "1.0"},
            "implementation": {"description": "Local FHIR R4 scheduling sandbox", "url": base},
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "service": [
                            {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                        "code": "SMART-on-FHIR",
                                    }
                                ]
                            }
                        ]
                    },
                    "resource": resources,
                }
            ],
        }
        return self._json(body)

    # --- handlers: REST ---------------------------------------------------------------------------

    def _h_read(self, request: Request, rtype: str, rid: str) -> Response:
        with self._state.tx() as conn:
            resource = self._load(conn, rtype, rid)
        if resource is None:
            raise FhirError(404, "not-found", f"{rtype}/{rid} is not known")
        return self._json(resource, headers={"ETag": f'W/"{resource["meta"]["versionId"]}"'})
