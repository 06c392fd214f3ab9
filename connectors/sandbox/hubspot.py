"""A local HubSpot CRM v3 sandbox: a stateful WSGI app that speaks HubSpot's wire format closely
enough that the real ``hubspot-api-client`` cannot tell the difference.

Served: contacts and tasks (basic, batch, search), the properties API, owners, associations v4,
OAuth 2.0 (authorize, token, token info), HubSpot's rate limits and error bodies, and the harness's
fault injection. State lives in SQLite, so a file-backed sandbox survives restarts.

Example:
    sandbox = HubSpotSandbox()
    with serve_hubspot(sandbox) as server:
        client = hubspot.Client.create(access_token=sandbox.issue_token(), host=server.url)
        client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={...}))

What is faithful, what is not and where each detail was checked: ``docs/sandbox-hubspot.md``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from connectors.sandbox.harness import Faults, RequestLog, SandboxServer, SqliteState
from connectors.sandbox.hubspot_crm import BATCH_MAX_INPUTS, MAX_UNIQUE_PROPERTIES, AssociationInput, Crm
from connectors.sandbox.hubspot_model import (
    HubSpotError,
    ObjectType,
    association_by_id,
    correlation_id,
    default_association,
    expired_authentication,
    invalid_authentication,
    iso_ms,
    not_found,
    oauth_error,
    rate_limit_error,
    resolve_object_type,
    validation_error,
)
from connectors.sandbox.hubspot_store import Association, CrmObject, HubSpotStore

__all__ = ["HubSpotSandbox", "RateLimits", "serve_hubspot"]

logger = logging.getLogger(__name__)

Json = dict[str, Any]
Clock = Callable[[], datetime]

ACCESS_TOKEN_TTL_S = 1800
AUTH_CODE_TTL_S = 600
DEFAULT_SCOPES = (
    "oauth",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.schemas.contacts.read",
    "crm.schemas.contacts.write",
    "crm.objects.owners.read",
)
JSON_TYPE = "application/json;charset=utf-8"


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimits:
    """The portal's API limits (defaults: a Professional portal's private app).

    Attributes:
        burst: requests allowed in any rolling ``burst_window_s`` (HubSpot: 100 Starter, 190 Pro/Enterprise).
        burst_window_s: the rolling window of the burst limit (HubSpot: 10 s).
        search_per_second: CRM search requests allowed in any rolling second (HubSpot: 5).
        daily: the daily allowance reported in the ``X-HubSpot-RateLimit-Daily`` header.
    """

    burst: int = 190
    burst_window_s: float = 10.0
    search_per_second: int = 5
    daily: int = 650_000

    def __post_init__(self) -> None:
        if self.burst < 1 or self.search_per_second < 1 or self.daily < 1:
            raise ValueError("RateLimits: every limit must be at least 1")
        if self.burst_window_s <= 0:
            raise ValueError("RateLimits.burst_window_s must be positive")


class _SlidingWindow:
    """Counts admitted calls in a rolling window (monotonic time, thread-safe)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._stamps: deque[float] = deque()
        self._lock = threading.Lock()

    def _prune(self, now: float) -> None:
        while self._stamps and self._stamps[0] <= now - self.window_s:
            self._stamps.popleft()

    def admit(self) -> int | None:
        """Admit a call, or answer the whole seconds until one would be admitted."""
        now = time.monotonic()
        with self._lock:
            self._prune(now)
            if len(self._stamps) >= self.limit:
                return max(1, math.ceil(self._stamps[0] + self.window_s - now))
            self._stamps.append(now)
            return None

    def remaining(self, last_s: float | None = None, limit: int | None = None) -> int:
        """Calls still allowed in the window (or in the last ``last_s`` seconds against ``limit``)."""
        now = time.monotonic()
        with self._lock:
            self._prune(now)
            if last_s is None:
                return max(0, self.limit - len(self._stamps))
            recent = sum(1 for s in self._stamps if s > now - last_s)
            return max(0, (limit or self.limit) - recent)


@dataclass(frozen=True, slots=True)
class _Caller:
    token: str
    private_app: bool


class HubSpotSandbox:
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

    def __init__(
        self,
        *,
        state_path: Path | None = None,
        faults: Faults | None = None,
        client_id: str = "nurturehub-sandbox",
        client_secret: str = "sandbox-secret",  # noqa: S107 - the sandbox app's documented demo secret
        portal_id: int = 1234567,
        clock: Clock | None = None,
        limits: RateLimits | None = None,
        unique_property_objects: Collection[str] = ("contacts", "tasks"),
        multi_status: bool = True,
    ) -> None:
        self.faults = faults if faults is not None else Faults()
        self.multi_status = multi_status
        self.log = RequestLog()
        self.client_id = client_id
        self.client_secret = client_secret
        self.portal_id = portal_id
        self.limits = limits if limits is not None else RateLimits()
        self._state = SqliteState(state_path)
        self.store = HubSpotStore(self._state, clock=clock or _utc_now)
        self.crm = Crm(self.store, portal_id=portal_id, unique_property_objects=unique_property_objects)
        self._burst = _SlidingWindow(self.limits.burst, self.limits.burst_window_s)
        self._search = _SlidingWindow(self.limits.search_per_second, 1.0)
        self._lock = threading.Lock()
        self._calls_by_token: dict[str, int] = {}
        self._daily_used = 0
        self._url_map = Map([Rule(path, endpoint=name, methods=methods) for path, name, methods in _ROUTES])

    # --- public helpers -------------------------------------------------------------------------

    def issue_token(self) -> str:
        """A valid private-app access token (no OAuth dance, no time expiry)."""
        token = "pat-na1-" + str(uuid.uuid4())
        self.store.put_token(
            token,
            "access",
            {"private_app": True, "scopes": list(DEFAULT_SCOPES), "expires_at_ms": None, "user_id": 9100101},
        )
        return token

    def reset_day(self) -> None:
        """Start a new API "day": the daily call count goes back to zero."""
        with self._lock:
            self._daily_used = 0

    def seed(self, object_type: str, rows: Iterable[Mapping[str, str]]) -> list[str]:
        """Create records directly (no HTTP, no rate limits), validated as a batch create is.

        Args:
            object_type: ``contacts`` or ``tasks``.
            rows: property values of each record.

        Returns:
            The new records' ids, in order.
        """
        ot = _object_type(object_type)
        created: list[CrmObject] = []
        batch: list[tuple[Mapping[str, Any], Sequence[AssociationInput]]] = []
        for row in rows:
            batch.append((row, ()))
            if len(batch) == 1000:
                created += self.crm.create_many(ot, batch)
                batch = []
        if batch:
            created += self.crm.create_many(ot, batch)
        return [str(o.id) for o in created]

    def unsubscribe_all(self, contact_id: str) -> None:
        """The contact unsubscribes from all email (HubSpot sets ``hs_email_optout``; the API cannot)."""
        self.crm.unsubscribe_all(contact_id)

    def close(self) -> None:
        """Close the state database."""
        self._state.close()

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

    # --- auth, limits, faults -------------------------------------------------------------------

    def _admit(self, request: Request, headers: dict[str, str]) -> _Caller:
        caller = self._authenticate(request)
        with self._lock:
            budget = self.faults.daily_budget
            if budget is not None and self._daily_used >= budget:
                raise rate_limit_error("DAILY", None)
            self._daily_used += 1
            used = self._daily_used
        daily = budget if budget is not None else self.limits.daily
        wait = self._burst.admit()
        headers.update(self._limit_headers(caller, daily, used))
        if wait is not None:
            logger.info("hubspot sandbox: burst limit hit")
            raise rate_limit_error("TEN_SECONDLY_ROLLING", wait)
        if request.path.endswith("/search"):
            wait = self._search.admit()
            if wait is not None:
                raise rate_limit_error("SECONDLY", wait)
        roll = self.faults.roll()
        if roll == "429":
            raise rate_limit_error("SECONDLY", self.faults.retry_after_s)
        if roll == "5xx":
            status = 502 if secrets.randbelow(2) else 503
            raise HubSpotError.of(status, "INTERNAL_ERROR", "Bad Gateway" if status == 502 else "Service Unavailable")
        return caller

    def _limit_headers(self, caller: _Caller, daily: int, used: int) -> dict[str, str]:
        secondly = max(1, self.limits.burst // 10)
        found = {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.limits.burst_window_s * 1000)),
            "X-HubSpot-RateLimit-Max": str(self.limits.burst),
            "X-HubSpot-RateLimit-Remaining": str(self._burst.remaining()),
            "X-HubSpot-RateLimit-Secondly": str(secondly),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(self._burst.remaining(1.0, secondly)),
        }
        if caller.private_app:
            found["X-HubSpot-RateLimit-Daily"] = str(daily)
            found["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, daily - used))
        return found

    def _authenticate(self, request: Request) -> _Caller:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise invalid_authentication()
        token = token.strip()
        data = self.store.token(token, "access")
        if data is None:
            raise invalid_authentication()
        now_ms = self.store.now_ms()
        expired_at = data.get("expired_at_ms")
        if expired_at is None and data.get("expires_at_ms") is not None and now_ms >= data["expires_at_ms"]:
            expired_at = data["expires_at_ms"]
        if expired_at is None and self.faults.expire_session_after is not None:
            with self._lock:
                count = self._calls_by_token.get(token, 0) + 1
                self._calls_by_token[token] = count
            if count > self.faults.expire_session_after:
                expired_at = now_ms
                self.store.put_token(token, "access", {**data, "expired_at_ms": now_ms})
                logger.info("hubspot sandbox: session expired after %d calls", count - 1)
        if expired_at is not None:
            raise expired_authentication(int(expired_at), now_ms)
        return _Caller(token=token, private_app=bool(data.get("private_app")))

    # --- request helpers ------------------------------------------------------------------------

    @staticmethod
    def _body(request: Request) -> Any:
        raw = request.get_data(as_text=True)
        if not raw.strip():
            raise validation_error("Request body is required")
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise validation_error(f"Invalid input JSON on line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc

    @staticmethod
    def _inputs(body: Any) -> list[Any]:
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list):
            raise validation_error("inputs is required")
        if len(inputs) > BATCH_MAX_INPUTS:
            raise validation_error(f"Batch input limit exceeded: {len(inputs)} inputs, the limit is {BATCH_MAX_INPUTS}")
        return inputs

    @staticmethod
    def _csv_arg(request: Request, name: str) -> list[str]:
        values: list[str] = []
        for raw in request.args.getlist(name):
            values += [v for v in raw.split(",") if v]
        return values

    def _batch_envelope(self, started: str, results: list[Json], errors: list[Json]) -> Json:
        body: Json = {"status": "COMPLETE", "results": results}
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
        body["startedAt"] = started
        body["completedAt"] = iso_ms(self.store.now_ms())
        return body

    def _started(self) -> str:
        return iso_ms(self.store.now_ms())

    @staticmethod
    def _not_found_error(ot: ObjectType, ids: Sequence[str]) -> Json:
        return {
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": f"Could not get some {ot.singular.upper()} objects, they may be deleted or not exist. "
            "Check that ids are valid.",
            "context": {"ids": list(ids)},
            "errors": [],
            "links": {},
        }

    # --- objects --------------------------------------------------------------------------------

    def _h_objects(self, request: Request, *, caller: _Caller, otype: str) -> Response:
        ot = _object_type(otype)
        if request.method == "POST":
            body = self._body(request)
            props, assoc = _create_input(body)
            [obj] = self.crm.create_many(ot, [(props, assoc)])
            logger.info("hubspot sandbox: created %s %d", ot.singular, obj.id)
            return _json(self.crm.render_written(ot, obj, props), 201)
        limit = _int_arg(request, "limit", 10, maximum=100)
        after = _int_arg(request, "after", 0)
        archived = request.args.get("archived", "false").lower() == "true"
        chosen, next_after = self.crm.page(ot, limit=limit, after=after, archived=archived)
        properties = self._csv_arg(request, "properties") or None
        to_types = self._csv_arg(request, "associations")
        result: Json = {"results": [self._with_associations(ot, o, properties, to_types) for o in chosen]}
        if next_after is not None:
            link = f"{request.host_url.rstrip('/')}{request.path}?" + urlencode({"after": next_after, "limit": limit})
            result["paging"] = {"next": {"after": str(next_after), "link": link}}
        return _json(result)

    def _with_associations(
        self, ot: ObjectType, obj: CrmObject, properties: Sequence[str] | None, to_types: Sequence[str]
    ) -> Json:
        body = self.crm.render(ot, obj, properties)
        found: Json = {}
        for raw in to_types:
            target = resolve_object_type(raw)
            if target is None:
                continue
            links = self.store.associations(ot.name, obj.id, target.name)
            if links:
                found[target.name] = {
                    "results": [{"id": str(a.to_id), "type": _v3_type_name(a.type_id)} for a in links]
                }
        if found:
            body["associations"] = found
        return body

    def _h_object(self, request: Request, *, caller: _Caller, otype: str, object_id: str) -> Response:
        ot = _object_type(otype)
        id_property = request.args.get("idProperty") or None
        if request.method == "GET":
            archived = request.args.get("archived", "false").lower() == "true"
            if archived:
                parsed = int(object_id) if object_id.isdigit() else 0
                obj = self.store.get(ot.name, parsed, archived=True) if parsed else None
            else:
                obj = self.crm.resolve(ot, object_id, id_property)
            if obj is None:
                raise not_found()
            properties = self._csv_arg(request, "properties") or None
            to_types = self._csv_arg(request, "associations")
            return _json(self._with_associations(ot, obj, properties, to_types))
        if request.method == "PATCH":
            body = self._body(request)
            props = body.get("properties") if isinstance(body, dict) else None
            if not isinstance(props, dict):
                raise validation_error("properties is required")
            updated, missing = self.crm.update_many(ot, [(object_id, id_property, props)])
            if missing:
                raise not_found()
            obj, written = updated[0]
            return _json(self.crm.render_written(ot, obj, written))
        obj = self.crm.resolve(ot, object_id, None)
        if obj is not None:
            self.crm.archive_many(ot, [str(obj.id)])
        return Response(status=204)

    def _h_batch_read(self, request: Request, *, caller: _Caller, otype: str) -> Response:
        ot = _object_type(otype)
        body = self._body(request)
        inputs = self._inputs(body)
        started = self._started()
        id_property = body.get("idProperty") or None
        results: list[Json] = []
        missing: list[str] = []
        for item in inputs:
            raw_id = str(item.get("id", "")) if isinstance(item, dict) else ""
            obj = self.crm.resolve(ot, raw_id, id_property)
            if obj is None:
                missing.append(raw_id)
            else:
                results.append(self.crm.render(ot, obj, body.get("properties") or None))
        errors = [self._not_found_error(ot, missing)] if missing else []
        return _json(self._batch_envelope(started, results, errors), 207 if errors else 200)

    def _h_batch_create(self, request: Request, *, caller: _Caller, otype: str) -> Response:
        ot = _object_type(otype)
        inputs = self._inputs(self._body(request))
        started = self._started()
        parsed = [_create_input(item) for item in inputs]
        traces = _traces(inputs) if self.multi_status else None
        if traces is None:  # all or nothing: one bad input fails the batch with its 400
            created = self.crm.create_many(ot, parsed)
            results = [self.crm.render_written(ot, o, props) for o, (props, _) in zip(created, parsed, strict=True)]
            return _json(self._batch_envelope(started, results, []), 201)
        results, errors = [], []
        for answer, (props, _), trace in zip(self.crm.create_each(ot, parsed), parsed, traces, strict=True):
            if isinstance(answer, HubSpotError):
                errors.append(_record_error(answer, trace))
            else:
                results.append(_traced(self.crm.render_written(ot, answer, props), trace))
        return _json(self._batch_envelope(started, results, errors), 207 if errors else 201)

    def _h_batch_update(self, request: Request, *, caller: _Caller, otype: str) -> Response:
        ot = _object_type(otype)
        inputs = self._inputs(self._body(request))
        started = self._started()
        updated, missing = self.crm.update_many(ot, [_update_input(item) for item in inputs])
        results = [self.crm.render_written(ot, o, written) for o, written in updated]
        errors = [self._not_found_error(ot, missing)] if missing else []
        return _json(self._batch_envelope(started, results, errors), 207 if errors else 200)

    def _h_batch_upsert(self, request: Request, *, caller: _Caller, otype: str) -> Response:
        ot = _object_type(otype)
        inputs = self._inputs(self._body(request))
        started = self._started()
        query_id_property = request.args.get("idProperty") or None
        parsed = []
        for item in inputs:
            raw_id, id_prop, props = _update_input(item)
            parsed.append((raw_id, id_prop or query_id_property, props))
        traces = _traces(inputs) if self.multi_status else None
        if traces is None:  # all or nothing: one bad input fails the batch with its 400
            done = self.crm.upsert_many(ot, parsed)
            results = []
            for obj, new, written in done:
                rendered = self.crm.render_written(ot, obj, written)
                rendered["new"] = new
                results.append(rendered)
            logger.info("hubspot sandbox: upserted %d %s (%d new)", len(done), ot.name, sum(1 for _, n, _ in done if n))
            return _json(self._batch_envelope(started, results, []))
        results, errors = [], []
        for answer, trace in zip(self.crm.upsert_each(ot, parsed), traces, strict=True):
            if isinstance(answer, HubSpotError):
                errors.append(_record_error(answer, trace))
                continue
            obj, new, written = answer
            rendered = self.crm.render_written(ot, obj, written)
            rendered["new"] = new
            results.append(_traced(rendered, trace))
        logger.info("hubspot sandbox: upserted %d %s (%d refused)", len(results), ot.name, len(errors))
        return _json(self._batch_envelope(started, results, errors), 207 if errors else 200)

    def _h_batch_archive(self, request: Request, *, caller: _Caller, otype: str) -> Response:
        ot = _object_type(otype)
        inputs = self._inputs(self._body(request))
        self.crm.archive_many(ot, [str(i.get("id", "")) for i in inputs if isinstance(i, dict)])
        return Response(status=204)

    def _h_search(self, request: Request, *, caller: _Caller, otype: str) -> Response:
        ot = _object_type(otype)
        body = self._body(request)
        if not isinstance(body, dict):
            raise validation_error("Invalid search request")
        return _json(self.crm.search(ot, body))

    # --- properties -----------------------------------------------------------------------------

    def _h_properties(self, request: Request, *, caller: _Caller, otype: str) -> Response:
        ot = _object_type(otype)
        if request.method == "GET":
            archived = request.args.get("archived", "false").lower() == "true"
            defs = self.store.property_defs(ot.name, archived=archived)
            return _json({"results": [_public_property(d) for d in defs.values()]})
        body = self._body(request)
        definition = self._new_property(ot, body)
        self.store.put_property(ot.name, definition)
        logger.info("hubspot sandbox: property created on %s", ot.name)
        return _json(_public_property(definition), 201)

    def _new_property(self, ot: ObjectType, body: Any) -> Json:
        if not isinstance(body, dict):
            raise validation_error("Invalid property definition")
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
        if missing:
            raise validation_error(f"Missing required fields: {', '.join(missing)}")
        name = str(body["name"])
        existing = {**self.store.property_defs(ot.name), **self.store.property_defs(ot.name, archived=True)}
        if name in existing:
            raise HubSpotError.of(
                409,
                "OBJECT_ALREADY_EXISTS",
                f"Property named '{name}' already exists.",
                sub_category="PROPERTY_EXISTS",
            )
        if body["groupName"] not in self.store.groups(ot.name):
            raise validation_error(f"Property group '{body['groupName']}' does not exist.")
        kind = body["type"]
        if kind not in ("string", "number", "date", "datetime", "enumeration", "bool"):
            raise validation_error(f"Invalid property type: {kind}")
        options = body.get("options") or []
        if kind == "enumeration" and not options and not body.get("externalOptions"):
            raise validation_error("Enumeration properties must have at least one option.")
        unique = bool(body.get("hasUniqueValue"))
        if unique:
            if ot.name not in self.crm.unique_property_objects:
                raise validation_error(f"Unique value properties are not supported for {ot.name}.")
            count = sum(1 for d in self.store.property_defs(ot.name).values() if d.get("hasUniqueValue"))
            if count >= MAX_UNIQUE_PROPERTIES:
                raise validation_error(
                    f"Cannot create more than {MAX_UNIQUE_PROPERTIES} unique value properties for {ot.name}."
                )
            if kind not in ("string", "number"):
                raise validation_error("Only string and number properties can require unique values.")
        now = iso_ms(self.store.now_ms())
        return {
            "name": name,
            "label": body["label"],
            "type": kind,
            "fieldType": body["fieldType"],
            "description": body.get("description") or "",
            "groupName": body["groupName"],
            "options": [_option(o, i) for i, o in enumerate(options)],
            "displayOrder": body.get("displayOrder", -1),
            "calculated": False,
            "externalOptions": bool(body.get("externalOptions")),
            "hasUniqueValue": unique,
            "hidden": bool(body.get("hidden")),
            "hubspotDefined": False,
            "showCurrencySymbol": False,
            "modificationMetadata": {"archivable": True, "readOnlyDefinition": False, "readOnlyValue": False},
            "formField": bool(body.get("formField")),
            "dataSensitivity": "non_sensitive",
            "createdAt": now,
            "updatedAt": now,
            "createdUserId": "9100101",
            "updatedUserId": "9100101",
            "archived": False,
        }

    def _h_property(self, request: Request, *, caller: _Caller, otype: str, name: str) -> Response:
        ot = _object_type(otype)
        definition = self.store.property_defs(ot.name).get(name)
        if definition is None:
            raise HubSpotError.of(
                404, "OBJECT_NOT_FOUND", f"Unable to find property {name} on object type {ot.type_id}"
            )
        if request.method == "GET":
            return _json(_public_property(definition))
        if definition["modificationMetadata"].get("readOnlyDefinition") and request.method == "DELETE":
            raise validation_error(f"Property {name} is a HubSpot-defined property and cannot be archived.")
        if request.method == "DELETE":
            self.store.put_property(
                ot.name, {**definition, "archived": True, "archivedAt": iso_ms(self.store.now_ms())}
            )
            return Response(status=204)
        body = self._body(request)
        if not isinstance(body, dict):
            raise validation_error("Invalid property update")
        updated = dict(definition)
        for key in (
            "label",
            "description",
            "groupName",
            "hidden",
            "displayOrder",
            "formField",
            "fieldType",
            "type",
        ):
            if key in body and body[key] is not None:
                updated[key] = body[key]
        if "options" in body and body["options"] is not None:
            updated["options"] = [_option(o, i) for i, o in enumerate(body["options"])]
        if updated["groupName"] not in self.store.groups(ot.name):
            raise validation_error(f"Property group '{updated['groupName']}' does not exist.")
        updated["updatedAt"] = iso_ms(self.store.now_ms())
        self.store.put_property(ot.name, updated)
        return _json(_public_property(updated))

    def _h_groups(self, request: Request, *, caller: _Caller, otype: str) -> Response:
        ot = _object_type(otype)
        if request.method == "GET":
            return _json({"results": list(self.store.groups(ot.name).values())})
        body = self._body(request)
        if not isinstance(body, dict) or not body.get("name") or not body.get("label"):
            raise validation_error("name and label are required")
        if body["name"] in self.store.groups(ot.name):
            raise HubSpotError.of(409, "OBJECT_ALREADY_EXISTS", f"Property group '{body['name']}' already exists.")
        group = {
            "name": body["name"],
            "label": body["label"],
            "displayOrder": body.get("displayOrder", -1),
            "archived": False,
        }
        self.store.put_group(ot.name, group)
        return _json(group, 201)

    def _h_group(self, request: Request, *, caller: _Caller, otype: str, name: str) -> Response:
        ot = _object_type(otype)
        group = self.store.groups(ot.name).get(name)
        if group is None:
            raise not_found()
        return _json(group)

    # --- owners ---------------------------------------------------------------------------------

    def _h_owners(self, request: Request, *, caller: _Caller) -> Response:
        owners = [o for o in self.store.owners() if not o["archived"]]
        email = request.args.get("email")
        if email:
            owners = [o for o in owners if o["email"].lower() == email.lower()]
        limit = _int_arg(request, "limit", 100, maximum=500)
        after = _int_arg(request, "after", 0)
        chosen = [o for o in owners if int(o["id"]) > after][:limit]
        result: Json = {"results": chosen}
        if chosen and any(int(o["id"]) > int(chosen[-1]["id"]) for o in owners):
            after_id = chosen[-1]["id"]
            link = f"{request.host_url.rstrip('/')}/crm/v3/owners/?" + urlencode({"after": after_id, "limit": limit})
            result["paging"] = {"next": {"after": after_id, "link": link}}
        return _json(result)

    def _h_owner(self, request: Request, *, caller: _Caller, owner_id: str) -> Response:
        by_user = request.args.get("idProperty") == "userId"
        for owner in self.store.owners():
            if (str(owner["userId"]) if by_user else owner["id"]) == owner_id:
                return _json(owner)
        raise not_found()

    # --- associations v4 ------------------------------------------------------------------------

    def _pair(
        self, from_raw: str, from_id: str, to_raw: str, to_id: str
    ) -> tuple[ObjectType, CrmObject, ObjectType, CrmObject]:
        from_t, to_t = _object_type(from_raw), _object_type(to_raw)
        source = self.crm.resolve(from_t, from_id, None)
        target = self.crm.resolve(to_t, to_id, None)
        if source is None or target is None:
            missing = from_id if source is None else to_id
            raise HubSpotError.of(
                400,
                "VALIDATION_ERROR",
                f"No {(from_t if source is None else to_t).singular} with ID {missing} exists",
            )
        return from_t, source, to_t, target

    def _h_assoc_default(
        self, request: Request, *, caller: _Caller, from_type: str, from_id: str, to_type: str, to_id: str
    ) -> Response:
        started = self._started()
        result = self._associate_default(from_type, from_id, to_type, to_id)
        return _json(self._batch_envelope(started, result, []))

    def _associate_default(self, from_raw: str, from_id: str, to_raw: str, to_id: str) -> list[Json]:
        from_t, source, to_t, target = self._pair(from_raw, from_id, to_raw, to_id)
        kind = default_association(from_t.name, to_t.name)
        if kind is None:
            raise validation_error(f"No default association type between {from_t.name} and {to_t.name}")
        self.store.associate(
            [
                Association(
                    from_type=from_t.name,
                    from_id=source.id,
                    to_type=to_t.name,
                    to_id=target.id,
                    category="HUBSPOT_DEFINED",
                    type_id=kind.type_id,
                )
            ]
        )
        return [
            {
                "from": {"id": str(source.id)},
                "to": {"id": str(target.id)},
                "associationSpec": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": kind.type_id,
                },
            },
            {
                "from": {"id": str(target.id)},
                "to": {"id": str(source.id)},
                "associationSpec": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": kind.inverse_id,
                },
            },
        ]

    def _h_assoc_pair(
        self, request: Request, *, caller: _Caller, from_type: str, from_id: str, to_type: str, to_id: str
    ) -> Response:
        from_t, source, to_t, target = self._pair(from_type, from_id, to_type, to_id)
        if request.method == "DELETE":
            self.store.unassociate(from_t.name, source.id, to_t.name, target.id)
            return Response(status=204)
        specs = self._body(request)
        if not isinstance(specs, list) or not specs:
            raise validation_error("A list of association types is required")
        links = [self._link(from_t, source.id, to_t, target.id, spec) for spec in specs]
        self.store.associate(links)
        return _json(self._labels_between(from_t, source.id, to_t, target.id), 201)

    def _link(self, from_t: ObjectType, from_id: int, to_t: ObjectType, to_id: int, spec: Any) -> Association:
        if not isinstance(spec, dict):
            raise validation_error("Invalid association spec")
        category = str(spec.get("associationCategory", ""))
        raw_type = spec.get("associationTypeId")
        known = association_by_id(raw_type) if isinstance(raw_type, int) else None
        if (
            category != "HUBSPOT_DEFINED"
            or known is None
            or (known.from_type, known.to_type) != (from_t.name, to_t.name)
        ):
            raise validation_error(
                f"{category} {raw_type} is not a valid association type between {from_t.name} and {to_t.name}"
            )
        return Association(
            from_type=from_t.name,
            from_id=from_id,
            to_type=to_t.name,
            to_id=to_id,
            category=category,
            type_id=known.type_id,
        )

    def _labels_between(self, from_t: ObjectType, from_id: int, to_t: ObjectType, to_id: int) -> Json:
        links = [a for a in self.store.associations(from_t.name, from_id, to_t.name) if a.to_id == to_id]
        return {
            "fromObjectTypeId": from_t.type_id,
            "fromObjectId": from_id,
            "toObjectTypeId": to_t.type_id,
            "toObjectId": to_id,
            "labels": [a.label for a in links if a.label],
        }

    def _h_assoc_list(
        self, request: Request, *, caller: _Caller, from_type: str, from_id: str, to_type: str
    ) -> Response:
        from_t, to_t = _object_type(from_type), _object_type(to_type)
        source = self.crm.resolve(from_t, from_id, None)
        if source is None:
            raise not_found()
        limit = _int_arg(request, "limit", 500, maximum=500)
        after = _int_arg(request, "after", 0)
        grouped = _group_links(self.store.associations(from_t.name, source.id, to_t.name))
        chosen = [g for g in grouped if g["toObjectId"] > after][:limit]
        result: Json = {"results": chosen}
        if chosen and grouped[-1]["toObjectId"] > chosen[-1]["toObjectId"]:
            result["paging"] = {"next": {"after": str(chosen[-1]["toObjectId"])}}
        return _json(result)

    def _h_assoc_batch_read(self, request: Request, *, caller: _Caller, from_type: str, to_type: str) -> Response:
        from_t, to_t = _object_type(from_type), _object_type(to_type)
        inputs = self._inputs(self._body(request))
        started = self._started()
        results: list[Json] = []
        empty: list[str] = []
        for item in inputs:
            raw_id = str(item.get("id", "")) if isinstance(item, dict) else ""
            source = self.crm.resolve(from_t, raw_id, None)
            grouped = _group_links(self.store.associations(from_t.name, source.id, to_t.name)) if source else []
            if grouped:
                results.append({"from": {"id": raw_id}, "to": grouped})
            else:
                empty.append(raw_id)
        errors = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                "message": f"No {to_t.singular} is associated with {from_t.singular} {raw_id}.",
                "context": {"fromObjectId": [raw_id]},
                "errors": [],
                "links": {},
            }
            for raw_id in empty
        ]
        return _json(self._batch_envelope(started, results, errors), 207 if errors else 200)

    def _h_assoc_batch_default(self, request: Request, *, caller: _Caller, from_type: str, to_type: str) -> Response:
        inputs = self._inputs(self._body(request))
        started = self._started()
        results: list[Json] = []
        for item in inputs:
            from_id = str((item.get("from") or {}).get("id", ""))
            to_id = str((item.get("to") or {}).get("id", ""))
            results += self._associate_default(from_type, from_id, to_type, to_id)
        return _json(self._batch_envelope(started, results, []))

    def _h_assoc_batch_create(self, request: Request, *, caller: _Caller, from_type: str, to_type: str) -> Response:
        inputs = self._inputs(self._body(request))
        started = self._started()
        results: list[Json] = []
        for item in inputs:
            from_t, source, to_t, target = self._pair(
                from_type,
                str((item.get("from") or {}).get("id", "")),
                to_type,
                str((item.get("to") or {}).get("id", "")),
            )
            self.store.associate([self._link(from_t, source.id, to_t, target.id, s) for s in item.get("types") or []])
            results.append(self._labels_between(from_t, source.id, to_t, target.id))
        return _json(self._batch_envelope(started, results, []), 201)

    def _h_assoc_batch_archive(self, request: Request, *, caller: _Caller, from_type: str, to_type: str) -> Response:
        from_t, to_t = _object_type(from_type), _object_type(to_type)
        for item in self._inputs(self._body(request)):
            source = self.crm.resolve(from_t, str((item.get("from") or {}).get("id", "")), None)
            for to in item.get("to") or []:
                target = self.crm.resolve(to_t, str(to.get("id", "")), None)
                if source is not None and target is not None:
                    self.store.unassociate(from_t.name, source.id, to_t.name, target.id)
        return Response(status=204)

    # --- OAuth ----------------------------------------------------------------------------------

    def _h_authorize(self, request: Request) -> Response:
        args = request.args
        if args.get("client_id") != self.client_id:
            return Response("Unknown client_id", status=400, content_type="text/plain")
        redirect_uri = args.get("redirect_uri")
        if not redirect_uri:
            return Response("redirect_uri is required", status=400, content_type="text/plain")
        scopes = [s for s in args.get("scope", "").replace(",", " ").split() if s] or list(DEFAULT_SCOPES)
        challenge, method = args.get("code_challenge"), args.get("code_challenge_method") or "plain"
        if challenge and method not in ("S256", "plain"):
            return Response("code_challenge_method must be S256 or plain", status=400, content_type="text/plain")
        code = str(uuid.uuid4())
        self.store.put_token(
            code,
            "code",
            {
                "redirect_uri": redirect_uri,
                "scopes": scopes,
                "expires_at_ms": self.store.now_ms() + AUTH_CODE_TTL_S * 1000,
                # PKCE (RFC 7636), as HubSpot's token endpoint takes ``code_verifier``.
                "code_challenge": challenge,
                "code_challenge_method": method,
            },
        )
        query = {"code": code}
        if args.get("state"):
            query["state"] = args["state"]
        separator = "&" if "?" in redirect_uri else "?"
        return Response(status=302, headers={"Location": f"{redirect_uri}{separator}{urlencode(query)}"})

    def _h_token(self, request: Request) -> Response:
        form = request.form
        if form.get("client_id") != self.client_id:
            raise oauth_error("BAD_CLIENT_ID", "missing or unknown client id")
        if form.get("client_secret") != self.client_secret:
            raise oauth_error("BAD_CLIENT_SECRET", "missing or invalid client secret")
        grant = form.get("grant_type")
        if grant == "authorization_code":
            code = form.get("code", "")
            data = self.store.token(code, "code")
            if data is None or self.store.now_ms() >= data["expires_at_ms"]:
                raise oauth_error("BAD_AUTH_CODE", "missing or unknown auth code")
            if form.get("redirect_uri") != data["redirect_uri"]:
                raise oauth_error("BAD_REDIRECT_URI", "redirect_uri does not match initial auth code URL")
            if data.get("code_challenge"):
                verifier = form.get("code_verifier", "")
                expected = _s256(verifier) if data.get("code_challenge_method") == "S256" else verifier
                if not verifier or not hmac.compare_digest(expected, data["code_challenge"]):
                    raise oauth_error("BAD_CODE_VERIFIER", "missing or invalid code_verifier")
            self.store.delete_token(code)
            refresh = str(uuid.uuid4())
            self.store.put_token(refresh, "refresh", {"scopes": data["scopes"], "user_id": 9100101})
            return _json(self._grant(refresh, data["scopes"]))
        if grant == "refresh_token":
            refresh = form.get("refresh_token", "")
            data = self.store.token(refresh, "refresh")
            if data is None:
                raise oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
            return _json(self._grant(refresh, data["scopes"]))
        raise oauth_error("BAD_GRANT_TYPE", "grant_type must be authorization_code or refresh_token")

    def _grant(self, refresh: str, scopes: list[str]) -> Json:
        access = "C" + secrets.token_urlsafe(48)
        self.store.put_token(
            access,
            "access",
            {
                "private_app": False,
                "scopes": scopes,
                "expires_at_ms": self.store.now_ms() + ACCESS_TOKEN_TTL_S * 1000,
                "user_id": 9100101,
                "refresh_token": refresh,
            },
        )
        logger.info("hubspot sandbox: access token granted")
        return {
            "token_type": "bearer",
            "refresh_token": refresh,
            "access_token": access,
            "expires_in": ACCESS_TOKEN_TTL_S,
        }

    def _h_access_token_info(self, request: Request, token: str) -> Response:
        data = self.store.token(token, "access")
        now = self.store.now_ms()
        if (
            data is None
            or data.get("expired_at_ms") is not None
            or (data.get("expires_at_ms") is not None and now >= data["expires_at_ms"])
        ):
            raise HubSpotError.of(404, "OBJECT_NOT_FOUND", "Access token not found or expired")
        expires_in = (data["expires_at_ms"] - now) // 1000 if data.get("expires_at_ms") else ACCESS_TOKEN_TTL_S
        return _json(
            {
                "token": token,
                "user": "frontdesk@clinic.example",
                "hub_domain": f"portal-{self.portal_id}.sandbox.hubspot.test",
                "scopes": data["scopes"],
                "scope_to_scope_group_pks": list(range(1, len(data["scopes"]) + 1)),
                "trial_scopes": [],
                "trial_scope_to_scope_group_pks": [],
                "hub_id": self.portal_id,
                "app_id": 4000001,
                "expires_in": int(expires_in),
                "user_id": data.get("user_id", 9100101),
                "token_type": "access",
            }
        )

    def _h_refresh_token_info(self, request: Request, token: str) -> Response:
        data = self.store.token(token, "refresh")
        if data is None:
            raise HubSpotError.of(404, "OBJECT_NOT_FOUND", "Refresh token not found")
        if request.method == "DELETE":
            self.store.delete_token(token)
            return Response(status=204)
        return _json(
            {
                "token": token,
                "user": "frontdesk@clinic.example",
                "hub_domain": f"portal-{self.portal_id}.sandbox.hubspot.test",
                "scopes": data["scopes"],
                "hub_id": self.portal_id,
                "client_id": self.client_id,
                "user_id": data.get("user_id", 9100101),
                "token_type": "refresh",
            }
        )


# --- module helpers ------------------------------------------------------------------------------

_O = "/crm/v3/objects/<otype>"
_ROUTES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (_O, "objects", ("GET", "POST")),
    (f"{_O}/batch/read", "batch_read", ("POST",)),
    (f"{_O}/batch/create", "batch_create", ("POST",)),
    (f"{_O}/batch/update", "batch_update", ("POST",)),
    (f"{_O}/batch/upsert", "batch_upsert", ("POST",)),
    (f"{_O}/batch/archive", "batch_archive", ("POST",)),
    (f"{_O}/search", "search", ("POST",)),
    (f"{_O}/<object_id>", "object", ("GET", "PATCH", "DELETE")),
    ("/crm/v3/properties/<otype>", "properties", ("GET", "POST")),
    ("/crm/v3/properties/<otype>/groups", "groups", ("GET", "POST")),
    ("/crm/v3/properties/<otype>/groups/<name>", "group", ("GET",)),
    ("/crm/v3/properties/<otype>/<name>", "property", ("GET", "PATCH", "DELETE")),
    ("/crm/v3/owners", "owners", ("GET",)),
    ("/crm/v3/owners/", "owners", ("GET",)),
    ("/crm/v3/owners/<owner_id>", "owner", ("GET",)),
    (
        "/crm/v4/objects/<from_type>/<from_id>/associations/default/<to_type>/<to_id>",
        "assoc_default",
        ("PUT",),
    ),
    ("/crm/v4/objects/<from_type>/<from_id>/associations/<to_type>/<to_id>", "assoc_pair", ("PUT", "DELETE")),
    ("/crm/v4/objects/<from_type>/<from_id>/associations/<to_type>", "assoc_list", ("GET",)),
    ("/crm/v4/associations/<from_type>/<to_type>/batch/read", "assoc_batch_read", ("POST",)),
    ("/crm/v4/associations/<from_type>/<to_type>/batch/associate/default", "assoc_batch_default", ("POST",)),
    ("/crm/v4/associations/<from_type>/<to_type>/batch/create", "assoc_batch_create", ("POST",)),
    ("/crm/v4/associations/<from_type>/<to_type>/batch/archive", "assoc_batch_archive", ("POST",)),
    ("/oauth/authorize", "authorize", ("GET",)),
    ("/oauth/v1/token", "token", ("POST",)),
    ("/oauth/v1/access-tokens/<token>", "access_token_info", ("GET",)),
    ("/oauth/v1/refresh-tokens/<token>", "refresh_token_info", ("GET", "DELETE")),
)


def _traces(inputs: Sequence[Any]) -> list[str] | None:
    """The inputs' trace ids (``objectWriteTraceId``) when the batch asks for multi-status answers (HubSpot:
    "include a unique objectWriteTraceId value for each input"), else None (all or nothing)."""
    traces = [str(i.get("objectWriteTraceId") or "") if isinstance(i, dict) else "" for i in inputs]
    if not any(traces):
        return None
    if len(set(traces)) != len(traces) or not all(traces):
        raise validation_error("objectWriteTraceId must be unique for each input")
    return traces


def _record_error(error: HubSpotError, trace: str) -> Json:
    """One input's error in a 207: HubSpot's error body (``StandardError``), naming the input by its
    trace id in ``context``."""
    body = error.body
    context = {k: list(v) for k, v in (body.get("context") or {}).items()}
    context["objectWriteTraceId"] = [trace]
    entry: Json = {
        "status": "error",
        "category": body.get("category", "VALIDATION_ERROR"),
        "message": body.get("message", ""),
        "context": context,
        "errors": list(body.get("errors") or []),
        "links": {},
    }
    if body.get("subCategory"):
        entry["subCategory"] = body["subCategory"]
    return entry


def _traced(rendered: Json, trace: str) -> Json:
    rendered["objectWriteTraceId"] = trace
    return rendered


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status=status, content_type=JSON_TYPE)


def _object_type(raw: str) -> ObjectType:
    ot = resolve_object_type(raw)
    if ot is None:
        raise HubSpotError.of(
            400,
            "VALIDATION_ERROR",
            f"Unable to infer object type from: {raw}",
            sub_category="INVALID_OBJECT_TYPE",
        )
    return ot


def _int_arg(request: Request, name: str, default: int, *, maximum: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise validation_error(f"Unable to parse value for query parameter: {name}")
    value = int(raw)
    return min(value, maximum) if maximum is not None else value


def _create_input(item: Any) -> tuple[dict[str, Any], list[AssociationInput]]:
    if not isinstance(item, dict) or not isinstance(item.get("properties"), dict):
        raise validation_error("properties is required")
    assoc: list[AssociationInput] = []
    for a in item.get("associations") or []:
        to_id = str((a.get("to") or {}).get("id", "")) if isinstance(a, dict) else ""
        if not to_id.isdigit():
            raise validation_error(f"Invalid association target id: {to_id}")
        types = tuple(
            (str(t.get("associationCategory", "")), int(t.get("associationTypeId", 0)))
            for t in a.get("types") or []
            if isinstance(t, dict)
        )
        assoc.append(AssociationInput(to_id=int(to_id), types=types))
    return dict(item["properties"]), assoc


def _update_input(item: Any) -> tuple[str, str | None, dict[str, Any]]:
    if not isinstance(item, dict) or not isinstance(item.get("properties"), dict) or item.get("id") in (None, ""):
        raise validation_error("Each input needs an id and properties")
    return str(item["id"]), (item.get("idProperty") or None), dict(item["properties"])


def _option(raw: Any, order: int) -> Json:
    if not isinstance(raw, dict) or not raw.get("value") or not raw.get("label"):
        raise validation_error("Each option needs a label and a value")
    return {
        "label": raw["label"],
        "value": raw["value"],
        "description": raw.get("description") or "",
        "displayOrder": raw.get("displayOrder", order),
        "hidden": bool(raw.get("hidden")),
    }


def _public_property(definition: Mapping[str, Any]) -> Json:
    return {k: v for k, v in definition.items() if k != "archived" or v}


def _v3_type_name(type_id: int) -> str:
    known = association_by_id(type_id)
    return known.name if known else str(type_id)


def _group_links(links: Sequence[Association]) -> list[Json]:
    grouped: dict[int, list[Json]] = {}
    for a in links:
        grouped.setdefault(a.to_id, []).append({"category": a.category, "typeId": a.type_id, "label": a.label})
    return [{"toObjectId": to_id, "associationTypes": types} for to_id, types in sorted(grouped.items())]


def serve_hubspot(sandbox: HubSpotSandbox, *, port: int = 0) -> SandboxServer:
    """A (not yet started) plain-http server for the sandbox on a loopback port.

    Args:
        sandbox: the sandbox app.
        port: the port; 0 picks a free one.

    Returns:
        The server; use it as a context manager or call ``start()``.
    """
    return SandboxServer(sandbox, port=port)


def _s256(verifier: str) -> str:
    """RFC 7636's S256 challenge of ``verifier``."""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
