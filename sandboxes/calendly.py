"""A local Calendly API v2 (the read side the hub uses, and no-show marking): an organization's
scheduled events and their invitees, paged as Calendly pages (``count`` ≤ 100, an opaque
``page_token`` and a ``next_page`` link), and the Invitee No Show resource.

Served: ``GET /users/me``, ``GET /scheduled_events`` (``organization`` or ``user`` required;
``min_start_time``, ``max_start_time``, ``status``, ``sort=start_time:asc|desc``, ``count``,
``page_token``), ``GET /scheduled_events/{uuid}``, ``GET /scheduled_events/{uuid}/invitees``,
``POST /invitee_no_shows``, ``GET``/``DELETE /invitee_no_shows/{uuid}``. Errors have Calendly's
``{"title", "message", "details"}`` shape; the shared faults (``sandboxes.common``) inject 429s (with ``Retry-After``)
and 5xx. What staff do in Calendly's own pages (a patient books, cancels) are the helpers
:meth:`CalendlySandbox.schedule` and :meth:`CalendlySandbox.cancel`; state is in memory.

Not modelled: webhooks subscriptions (the hub's webhook tests sign their own deliveries), routing
forms, event types' availability, group events with several invitees' own no-shows beyond the list.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from sandboxes.common import Faults, RequestLog

__all__ = ["CalendlySandbox"]

Json = dict[str, Any]
MAX_COUNT = 100


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("no UTC offset")
    return parsed


@dataclass(slots=True)
class _Event:
    uuid: str
    event_type: str
    name: str
    start: datetime
    end: datetime
    created: datetime
    updated: datetime
    status: str = "active"
    invitees: list[Json] = field(default_factory=list)


class _Error(Exception):
    def __init__(self, status: int, title: str, message: str, details: Iterable[Json] = ()) -> None:
        super().__init__(message)
        self.status, self.title, self.message, self.details = status, title, message, list(details)


class CalendlySandbox:
    """A Calendly organization on this machine (a WSGI app).

    Args:
        clock: the time events and no-shows are stamped with (tests pass a manual clock).
        faults: faults to inject into API calls.
        organization: the organization's UUID.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        faults: Faults | None = None,
        organization: str = "ORGCLINIC0000001",
    ) -> None:
        self._clock = clock or _utc_now
        self.faults = faults if faults is not None else Faults()
        self.log = RequestLog()
        # Resource URIs are Calendly's canonical ones whatever host serves them (as in Calendly);
        # only pagination links point at the serving host.
        self.host = "https://api.calendly.com"
        self.organization_id = organization
        self.user_id = "USERFRONTDESK001"
        self._token = "calendly-pat-" + uuid.uuid4().hex
        self._events: dict[str, _Event] = {}
        self._no_shows: dict[str, Json] = {}
        self._lock = threading.Lock()
        self._urls = Map(
            [
                Rule("/users/me", endpoint="me", methods=["GET"]),
                Rule("/scheduled_events", endpoint="events", methods=["GET"]),
                Rule("/scheduled_events/<event>", endpoint="event", methods=["GET"]),
                Rule("/scheduled_events/<event>/invitees", endpoint="invitees", methods=["GET"]),
                Rule("/invitee_no_shows", endpoint="mark", methods=["POST"]),
                Rule("/invitee_no_shows/<no_show>", endpoint="no_show", methods=["GET", "DELETE"]),
            ]
        )

    # --- what people do in Calendly ------------------------------------------------------------

    @property
    def token(self) -> str:
        """The organization admin's personal access token."""
        return self._token

    @property
    def organization_uri(self) -> str:
        return f"{self.host}/organizations/{self.organization_id}"

    def schedule(self, *, event_type: str, start: datetime, minutes: int = 30, email: str, name: str = "") -> str:
        """A patient books through a Calendly page; answers the event's UUID."""
        now = self._clock()
        event_id = uuid.uuid4().hex[:16].upper()
        invitee = {
            "id": uuid.uuid4().hex[:16].upper(), "email": email, "name": name, "status": "active",
            "timezone": "America/Chicago", "created_at": now, "updated_at": now, "no_show": None,
        }  # fmt: skip
        with self._lock:
            self._events[event_id] = _Event(
                uuid=event_id, event_type=event_type, name="Visit", start=start, end=start + timedelta(minutes=minutes),
                created=now, updated=now, invitees=[invitee],
            )  # fmt: skip
        return event_id

    def cancel(self, event_id: str) -> None:
        """The invitee (or the clinic) cancels the event."""
        now = self._clock()
        with self._lock:
            event = self._events[event_id]
            event.status, event.updated = "canceled", now
            for invitee in event.invitees:
                invitee["status"], invitee["updated_at"] = "canceled", now

    def webhook(self, event_id: str, kind: str = "invitee.created") -> Json:
        """The webhook envelope Calendly would post for ``event_id`` (to drive the hub's inbox)."""
        with self._lock:
            event = self._events[event_id]
            invitee = dict(event.invitees[0])
            rendered_event = self._event_json(event)
        return {
            "event": kind,
            "created_at": _iso(self._clock()),
            "payload": {**self._invitee_json(event, invitee), "scheduled_event": rendered_event},
        }

    # --- WSGI ----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        response = self._respond(request)
        self.log.add(request.method, request.path, response.status_code)
        return response(environ, start_response)

    def _respond(self, request: Request) -> Response:
        base = request.host_url.rstrip("/")
        try:
            endpoint, args = self._urls.bind_to_environ(request.environ).match()
            match self.faults.roll():
                case "429":
                    raise _Error(429, "Too Many Requests", "Rate limit exceeded")
                case "5xx":
                    raise _Error(503, "Service Unavailable", "The server is temporarily unavailable")
            if request.headers.get("Authorization", "") != f"Bearer {self._token}":
                raise _Error(401, "Unauthenticated", "The access token is invalid")
            with self._lock:
                status, body = getattr(self, f"_h_{endpoint}")(request, base, **args)
        except _Error as exc:
            headers = {"Retry-After": str(self.faults.retry_after_s)} if exc.status == 429 else {}
            body = {"title": exc.title, "message": exc.message}
            if exc.details:
                body["details"] = exc.details
            return Response(json.dumps(body), status=exc.status, content_type="application/json", headers=headers)
        except HTTPException as exc:
            return Response(
                json.dumps(
                    {"title": "Resource Not Found", "message": "The server could not find the requested resource."}
                ),
                status=exc.code or 404,
                content_type="application/json",
            )
        if body is None:
            return Response(status=status)
        return Response(json.dumps(body), status=status, content_type="application/json")

    # --- rendering -----------------------------------------------------------------------------

    def _event_json(self, event: _Event) -> Json:
        base = self.host
        active = sum(1 for i in event.invitees if i["status"] == "active")
        return {
            "uri": f"{base}/scheduled_events/{event.uuid}",
            "name": event.name,
            "status": event.status,
            "start_time": _iso(event.start),
            "end_time": _iso(event.end),
            "event_type": event.event_type,
            "location": {"type": "physical", "location": "Clinic"},
            "invitees_counter": {"total": len(event.invitees), "active": active, "limit": 1},
            "created_at": _iso(event.created),
            "updated_at": _iso(event.updated),
            "event_memberships": [{"user": f"{base}/users/{self.user_id}"}],
            "event_guests": [],
        }

    def _invitee_json(self, event: _Event, invitee: Json) -> Json:
        base = self.host
        no_show = invitee["no_show"]
        return {
            "uri": f"{base}/scheduled_events/{event.uuid}/invitees/{invitee['id']}",
            "email": invitee["email"],
            "name": invitee["name"],
            "status": invitee["status"],
            "timezone": invitee["timezone"],
            "event": f"{base}/scheduled_events/{event.uuid}",
            "created_at": _iso(invitee["created_at"]),
            "updated_at": _iso(invitee["updated_at"]),
            "no_show": None if no_show is None else {"uri": f"{base}/invitee_no_shows/{no_show['id']}",
                                                     "created_at": _iso(no_show["created_at"])},
            "rescheduled": False,
            "old_invitee": None,
            "new_invitee": None,
            "tracking": {"utm_campaign": None, "utm_source": None, "utm_medium": None, "utm_content": None,
                         "utm_term": None, "salesforce_uuid": None},
        }  # fmt: skip

    # --- handlers ------------------------------------------------------------------------------

    def _h_me(self, request: Request, base: str) -> tuple[int, Json]:
        return 200, {
            "resource": {
                "uri": f"{self.host}/users/{self.user_id}",
                "name": "Front Desk",
                "current_organization": self.organization_uri,
            }
        }

    def _page(self, request: Request, base: str, rows: list[Json]) -> tuple[int, Json]:
        raw = request.args.get("count", "20")
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_COUNT:
            raise _Error(400, "Invalid Argument", "The supplied parameters are invalid.",
                         [{"parameter": "count", "message": f"must be between 1 and {MAX_COUNT}"}])  # fmt: skip
        count = int(raw)
        token = request.args.get("page_token")
        offset = 0
        if token:
            try:
                offset = int(base64.urlsafe_b64decode(token.encode()).decode())
            except ValueError:
                raise _Error(400, "Invalid Argument", "The supplied parameters are invalid.",
                             [{"parameter": "page_token", "message": "is invalid"}]) from None  # fmt: skip
        chosen = rows[offset : offset + count]
        kept = [(k, v) for k, v in request.args.items(multi=True) if k != "page_token"]

        def link(at: int) -> tuple[str, str]:
            token = base64.urlsafe_b64encode(str(at).encode()).decode()
            return f"{base}{request.path}?" + urlencode([*kept, ("page_token", token)]), token

        nxt = link(offset + count) if offset + count < len(rows) else None
        prev = link(max(offset - count, 0)) if offset > 0 else None
        return 200, {
            "collection": chosen,
            "pagination": {
                "count": len(chosen),
                "next_page": nxt[0] if nxt else None,
                "previous_page": prev[0] if prev else None,
                "next_page_token": nxt[1] if nxt else None,
                "previous_page_token": prev[1] if prev else None,
            },
        }

    def _h_events(self, request: Request, base: str) -> tuple[int, Json]:
        args = request.args
        if args.get("organization") != self.organization_uri and not args.get("user"):
            raise _Error(400, "Invalid Argument", "The supplied parameters are invalid.",
                         [{"parameter": "organization", "message": "organization or user is required"}])  # fmt: skip
        try:
            low = _parse(args["min_start_time"]) if "min_start_time" in args else None
            high = _parse(args["max_start_time"]) if "max_start_time" in args else None
        except ValueError:
            detail = {"parameter": "min_start_time", "message": "must be an ISO 8601 time"}
            raise _Error(400, "Invalid Argument", "The supplied parameters are invalid.", [detail]) from None
        sort = args.get("sort", "start_time:asc")
        if sort not in ("start_time:asc", "start_time:desc"):
            raise _Error(400, "Invalid Argument", "The supplied parameters are invalid.",
                         [{"parameter": "sort", "message": "unsupported sort"}])  # fmt: skip
        status = args.get("status")
        events = [
            e
            for e in self._events.values()
            if (low is None or e.start >= low) and (high is None or e.start < high) and (status in (None, e.status))
        ]
        events.sort(key=lambda e: (e.start, e.uuid), reverse=sort.endswith("desc"))
        return self._page(request, base, [self._event_json(e) for e in events])

    def _h_event(self, request: Request, base: str, event: str) -> tuple[int, Json]:
        found = self._events.get(event)
        if found is None:
            raise _Error(404, "Resource Not Found", "The server could not find the requested resource.")
        return 200, {"resource": self._event_json(found)}

    def _h_invitees(self, request: Request, base: str, event: str) -> tuple[int, Json]:
        found = self._events.get(event)
        if found is None:
            raise _Error(404, "Resource Not Found", "The server could not find the requested resource.")
        return self._page(request, base, [self._invitee_json(found, i) for i in found.invitees])

    def _h_mark(self, request: Request, base: str) -> tuple[int, Json]:
        try:
            body = json.loads(request.get_data(as_text=True) or "{}")
        except ValueError:
            raise _Error(400, "Invalid Argument", "The supplied parameters are invalid.") from None
        uri = str(body.get("invitee") or "") if isinstance(body, dict) else ""
        for event in self._events.values():
            for invitee in event.invitees:
                if uri == f"{self.host}/scheduled_events/{event.uuid}/invitees/{invitee['id']}":
                    if invitee["no_show"] is not None:
                        raise _Error(400, "Invalid Argument", "The invitee is already marked as a no show.")
                    if event.start > self._clock():
                        raise _Error(400, "Invalid Argument", "A no show can only be marked after the event started.")
                    now = self._clock()
                    no_show_id = uuid.uuid4().hex[:16].upper()
                    no_show: Json = {"id": no_show_id, "created_at": now, "invitee": uri}
                    invitee["no_show"], invitee["updated_at"] = no_show, now
                    self._no_shows[no_show_id] = no_show
                    return 201, {"resource": self._no_show_json(no_show)}
        raise _Error(404, "Resource Not Found", "The server could not find the requested resource.")

    def _no_show_json(self, no_show: Json) -> Json:
        base = self.host
        return {
            "uri": f"{base}/invitee_no_shows/{no_show['id']}",
            "invitee": no_show["invitee"],
            "created_at": _iso(no_show["created_at"]),
        }

    def _h_no_show(self, request: Request, base: str, no_show: str) -> tuple[int, Json | None]:
        found = self._no_shows.get(no_show)
        if found is None:
            raise _Error(404, "Resource Not Found", "The server could not find the requested resource.")
        if request.method == "GET":
            return 200, {"resource": self._no_show_json(found)}
        del self._no_shows[no_show]
        for event in self._events.values():
            for invitee in event.invitees:
                if invitee["no_show"] is found:
                    invitee["no_show"], invitee["updated_at"] = None, self._clock()
        return 204, None
