"""The HubSpot sandbox's shared state: the SQLite store, the CRM over it, the rate-limit windows,
the URL map, and the request helpers (bodies, batch envelopes, HubSpot's JSON answers) that
every concern's mixin uses. The mixins (``auth``, ``objects``, ``properties``,
``associations``) are composed into one server class in ``server``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from sandboxes.common import Faults, RequestLog, SqliteState
from sandboxes.hubspot.crm import BATCH_MAX_INPUTS, Crm
from sandboxes.hubspot.limits import RateLimits, _SlidingWindow
from sandboxes.hubspot.model import (
    HubSpotError,
    ObjectType,
    association_by_id,
    iso_ms,
    resolve_object_type,
    validation_error,
)
from sandboxes.hubspot.store import HubSpotStore

logger = logging.getLogger(__name__)

Json = dict[str, Any]
Clock = Callable[[], datetime]
JSON_TYPE = "application/json;charset=utf-8"


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Caller:
    token: str
    private_app: bool


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


def _v3_type_name(type_id: int) -> str:
    known = association_by_id(type_id)
    return known.name if known else str(type_id)


class HubSpotState:
    """The portal's state that every concern's mixin shares, and the request helpers."""

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

    def close(self) -> None:
        """Close the state database."""
        self._state.close()

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
