"""A local Cal.com API v2 sandbox: event types with weekly availability, slots, bookings.

Served: ``GET /v2/me``; ``GET /v2/slots`` (``cal-api-version: 2024-09-04``, ``format=range``);
``POST /v2/bookings``, ``GET /v2/bookings`` (``afterUpdatedAt``, ``sortUpdatedAt``, ``take``,
``skip``), ``GET /v2/bookings/{uid}``, ``POST /v2/bookings/{uid}/cancel`` (``cal-api-version:
2024-08-13`` or ``2026-02-25``). Bodies follow Cal.com's ``{"status": "success", "data": …}`` and
``{"status": "error", "error": {"code", "message"}}`` envelopes; a slot taken meanwhile is refused
with 400 ``no_available_users_found_error``, as Cal.com does.

Stricter than Cal.com where that catches mistakes: a missing or unknown ``cal-api-version`` is a 400
(Cal.com silently answers in an older shape), and unknown query parameters are a 400.

:meth:`CalcomSandbox.webhook` renders a booking as the webhook envelope Cal.com would send, so
tests can post it, signed, to the hub's inbound endpoint.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from sandboxes.common import Faults, RequestLog, SqliteState

__all__ = ["DEFAULT_EVENT_TYPES", "CalcomSandbox", "SandboxEventType"]

Json = dict[str, Any]
SLOTS_VERSIONS = frozenset({"2024-09-04"})
BOOKINGS_VERSIONS = frozenset({"2024-08-13", "2026-02-25"})


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxEventType:
    """An event type and its host's weekly availability.

    Attributes:
        id, slug, title: as Cal.com has them.
        length: minutes.
        weekdays: days it can be booked (0 = Monday).
        hours: local (start, end) windows on those days.
        timezone: the host's time zone.
        location: the event's location text.
    """

    id: int
    slug: str
    title: str
    length: int
    weekdays: tuple[int, ...]
    hours: tuple[tuple[dtime, dtime], ...]
    timezone: str = "America/Chicago"
    location: str = "In person"


DEFAULT_EVENT_TYPES = (
    SandboxEventType(
        id=482113,
        slug="new-patient-evaluation",
        title="New patient evaluation",
        length=60,
        weekdays=(0, 1, 2, 3, 4),
        hours=((dtime(9), dtime(12)), (dtime(13), dtime(17))),
        location="In person (Downtown, 200 Congress Ave)",
    ),
    SandboxEventType(
        id=482114,
        slug="telehealth-visit",
        title="Telehealth visit",
        length=30,
        weekdays=(1, 3),
        hours=((dtime(13), dtime(16)),),
        location="integrations:daily",
    ),
)


class _Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(at: datetime, tz: ZoneInfo | None = None) -> str:
    if tz is None:
        return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return at.astimezone(tz).isoformat(timespec="milliseconds")


def _parse(value: str | None, what: str, *, end_of_day: bool = False) -> datetime:
    if not value:
        raise _Error(400, "BadRequestException", f"{what} is required")
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day, dtime(23, 59, 59) if end_of_day else dtime(0), tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _Error(400, "BadRequestException", f"{what} must be an ISO 8601 date string") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class CalcomSandbox:
    """Cal.com API v2 on this machine (a WSGI app).

    Args:
        event_types: the event types and their availability.
        api_key: the API key it accepts.
        clock: "now" for slots and stamps (default real UTC).
        faults: faults to inject.
        state_path: SQLite file; None keeps state in memory.
        weeks: how far ahead slots are offered.
    """

    def __init__(
        self,
        *,
        event_types: Sequence[SandboxEventType] = DEFAULT_EVENT_TYPES,
        api_key: str = "cal_test_sandbox",
        clock: Callable[[], datetime] | None = None,
        faults: Faults | None = None,
        state_path: Path | None = None,
        weeks: int = 4,
    ) -> None:
        self.event_types = {e.id: e for e in event_types}
        self.api_key = api_key
        self.faults = faults if faults is not None else Faults()
        self.log = RequestLog()
        self.weeks = weeks
        self._clock = clock or _utc_now
        self._state = SqliteState(state_path)
        self._lock = threading.Lock()
        self._last: datetime | None = None
        with self._state.tx() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS bookings (id INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT UNIQUE,"
                " event_type INTEGER, start TEXT, end TEXT, status TEXT, body TEXT, updated TEXT)"
            )
        self._url_map = Map(
            [
                Rule("/v2/me", endpoint="me", methods=["GET"]),
                Rule("/v2/slots", endpoint="slots", methods=["GET"]),
                Rule("/v2/bookings", endpoint="create", methods=["POST"]),
                Rule("/v2/bookings", endpoint="list", methods=["GET"]),
                Rule("/v2/bookings/<uid>", endpoint="get", methods=["GET"]),
                Rule("/v2/bookings/<uid>/cancel", endpoint="cancel", methods=["POST"]),
            ]
        )

    # --- helpers for tests ----------------------------------------------------------------------

    def booking(self, uid: str) -> Json | None:
        """A booking as the API returns it, or None."""
        with self._state.tx() as conn:
            row = conn.execute("SELECT body FROM bookings WHERE uid = ?", (uid,)).fetchone()
        return json.loads(row["body"]) if row else None

    def mark_absent(self, uid: str) -> Json:
        """The host marks the attendee absent (a no-show)."""
        return self._update(uid, lambda b: {**b, "attendees": [{**a, "absent": True} for a in b["attendees"]]})

    def webhook(self, uid: str, trigger: str = "BOOKING_CREATED") -> Json:
        """The webhook envelope Cal.com sends for this booking."""
        booking = self.booking(uid)
        if booking is None:
            raise KeyError(uid)
        event = self.event_types[booking["eventTypeId"]]
        attendees = [
            {
                "email": a["email"],
                "name": a["name"],
                "timeZone": a["timeZone"],
                "language": {"locale": a.get("language", "en")},
                **({"phoneNumber": a["phoneNumber"]} if a.get("phoneNumber") else {}),
            }
            for a in booking["attendees"]
        ]
        first = booking["attendees"][0]
        return {
            "triggerEvent": trigger,
            "createdAt": _iso(self._clock()),
            "payload": {
                "type": event.slug,
                "title": booking["title"],
                "startTime": booking["start"],
                "endTime": booking["end"],
                "eventTypeId": event.id,
                "organizer": {"id": 90211, "name": "Front Desk", "timeZone": event.timezone},
                "attendees": attendees,
                "responses": {
                    "name": {"label": "your_name", "value": first["name"]},
                    "email": {"label": "email_address", "value": first["email"]},
                },
                "location": event.location,
                "uid": booking["uid"],
                "bookingId": booking["id"],
                "length": event.length,
                "metadata": booking.get("metadata", {}),
                "status": booking["status"].upper(),
                **({"cancellationReason": booking["cancellationReason"]} if booking.get("cancellationReason") else {}),
            },
        }

    def close(self) -> None:
        self._state.close()

    # --- availability ---------------------------------------------------------------------------

    def _stamp(self) -> datetime:
        with self._lock:
            now = self._clock()
            if self._last is not None and now <= self._last:
                now = self._last + timedelta(milliseconds=1)
            self._last = now
            return now

    def _candidates(self, event: SandboxEventType) -> Iterator[tuple[datetime, datetime]]:
        tz = ZoneInfo(event.timezone)
        now = self._clock()
        today = now.astimezone(tz).date()
        length = timedelta(minutes=event.length)
        for n in range(self.weeks * 7):
            day = today + timedelta(days=n)
            if day.weekday() not in event.weekdays:
                continue
            for begin, finish in event.hours:
                start = datetime.combine(day, begin, tzinfo=tz)
                stop = datetime.combine(day, finish, tzinfo=tz)
                while start + length <= stop:
                    if start > now:
                        yield start.astimezone(UTC), (start + length).astimezone(UTC)
                    start += length

    def _taken(self, conn: Any, event_id: int) -> list[tuple[datetime, datetime]]:
        rows = conn.execute(
            "SELECT start, end FROM bookings WHERE event_type = ? AND status IN ('accepted', 'pending')", (event_id,)
        ).fetchall()
        return [(_parse(r["start"], "start"), _parse(r["end"], "end")) for r in rows]

    def _free(self, conn: Any, event: SandboxEventType) -> list[tuple[datetime, datetime]]:
        taken = self._taken(conn, event.id)
        return [(s, e) for s, e in self._candidates(event) if not any(s < te and ts < e for ts, te in taken)]

    # --- WSGI -----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        response = self._respond(request)
        self.log.add(request.method, request.path, response.status_code)
        return response(environ, start_response)

    def _respond(self, request: Request) -> Response:
        self.faults.delay()
        try:
            endpoint, args = self._url_map.bind_to_environ(request.environ).match()
            self._fault()
            if request.headers.get("Authorization") != f"Bearer {self.api_key}":
                raise _Error(401, "UnauthorizedException", "Invalid API Key")
            if endpoint == "slots":
                self._version(request, SLOTS_VERSIONS)
            elif endpoint != "me":
                self._version(request, BOOKINGS_VERSIONS)
            handler: Callable[..., Response] = getattr(self, f"_h_{endpoint}")
            return handler(request, **args)
        except _Error as exc:
            return self._json({"status": "error", "error": {"code": exc.code, "message": exc.message}}, exc.status)
        except HTTPException as exc:
            code = exc.code or 400
            return self._json(
                {"status": "error", "error": {"code": "NotFoundException", "message": exc.description}}, code
            )

    def _fault(self) -> None:
        match self.faults.roll():
            case "429":
                raise _Error(429, "ThrottlerException", "ThrottlerException: Too Many Requests")
            case "5xx":
                raise _Error(503, "ServiceUnavailableException", "Service Unavailable")
            case _:
                return

    @staticmethod
    def _version(request: Request, allowed: frozenset[str]) -> None:
        version = request.headers.get("cal-api-version")
        if version not in allowed:
            raise _Error(
                400,
                "BadRequestException",
                f"cal-api-version must be one of {', '.join(sorted(allowed))} (got {version or 'none'})",
            )

    @staticmethod
    def _json(body: Mapping[str, Any], status: int = 200) -> Response:
        return Response(json.dumps(body), status=status, content_type="application/json")

    @staticmethod
    def _strict(request: Request, allowed: set[str]) -> None:
        unknown = sorted(set(request.args) - allowed)
        if unknown:
            raise _Error(400, "BadRequestException", f"property {unknown[0]} should not exist")

    # --- handlers -------------------------------------------------------------------------------

    def _h_me(self, request: Request) -> Response:
        data = {
            "id": 90211,
            "username": "frontdesk",
            "email": "frontdesk@clinic.example",
            "timeZone": "America/Chicago",
        }
        return self._json({"status": "success", "data": data})

    def _h_slots(self, request: Request) -> Response:
        self._strict(request, {"eventTypeId", "start", "end", "timeZone", "format", "duration"})
        try:
            event = self.event_types[int(request.args.get("eventTypeId", ""))]
        except (KeyError, ValueError):
            raise _Error(404, "NotFoundException", "Event type not found") from None
        start = _parse(request.args.get("start"), "start")
        end = _parse(request.args.get("end"), "end", end_of_day=True)
        tz = ZoneInfo(request.args.get("timeZone") or "UTC")
        ranged = request.args.get("format") == "range"
        days: dict[str, list[Json]] = {}
        with self._state.tx() as conn:
            free = self._free(conn, event)
        for s, e in free:
            if start <= s <= end:
                item = {"start": _iso(s, tz), "end": _iso(e, tz)} if ranged else {"start": _iso(s, tz)}
                days.setdefault(s.astimezone(tz).date().isoformat(), []).append(item)
        return self._json({"status": "success", "data": days})

    def _h_create(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise _Error(400, "BadRequestException", "the body must be a JSON object")
        attendee = body.get("attendee")
        if not isinstance(attendee, dict) or not all(attendee.get(k) for k in ("name", "email", "timeZone")):
            raise _Error(400, "BadRequestException", "attendee.name, attendee.email and attendee.timeZone are required")
        event_type_id = body.get("eventTypeId")
        event = self.event_types.get(event_type_id) if isinstance(event_type_id, int) else None
        if event is None:
            raise _Error(404, "NotFoundException", f"Event type with id={body.get('eventTypeId')} not found")
        start = _parse(body.get("start"), "start")
        if start <= self._clock():
            raise _Error(400, "BadRequestException", "Attempting to book a meeting in the past.")
        now = self._stamp()
        with self._state.tx() as conn:
            match = next(((s, e) for s, e in self._free(conn, event) if s == start), None)
            if match is None:
                raise _Error(400, "BadRequestException", "no_available_users_found_error")
            uid = secrets.token_urlsafe(16)
            cursor = conn.execute(
                "INSERT INTO bookings (uid, event_type, start, end, status, body, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (uid, event.id, _iso(match[0]), _iso(match[1]), "accepted", "{}", _iso(now)),
            )
            booking = {
                "id": cursor.lastrowid,
                "uid": uid,
                "title": f"{event.title} between Front Desk and {attendee['name']}",
                "description": "",
                "hosts": [{"id": 90211, "name": "Front Desk", "username": "frontdesk", "timeZone": event.timezone}],
                "status": "accepted",
                "start": _iso(match[0]),
                "end": _iso(match[1]),
                "duration": event.length,
                "eventTypeId": event.id,
                "eventType": {"id": event.id, "slug": event.slug},
                "location": event.location,
                "absentHost": False,
                "createdAt": _iso(now),
                "updatedAt": _iso(now),
                "metadata": dict(body.get("metadata") or {}),
                "attendees": [
                    {
                        "name": attendee["name"],
                        "email": attendee["email"],
                        "timeZone": attendee["timeZone"],
                        "language": attendee.get("language", "en"),
                        "absent": False,
                        **({"phoneNumber": attendee["phoneNumber"]} if attendee.get("phoneNumber") else {}),
                    }
                ],
                "guests": [],
                "bookingFieldsResponses": {"name": attendee["name"], "email": attendee["email"]},
            }
            conn.execute("UPDATE bookings SET body = ? WHERE uid = ?", (json.dumps(booking), uid))
        return self._json({"status": "success", "data": booking}, 201)

    def _h_get(self, request: Request, uid: str) -> Response:
        booking = self.booking(uid)
        if booking is None:
            raise _Error(404, "NotFoundException", f"Booking with uid={uid} was not found in the database")
        return self._json({"status": "success", "data": booking})

    def _update(self, uid: str, change: Callable[[Json], Json]) -> Json:
        now = self._stamp()
        with self._state.tx() as conn:
            row = conn.execute("SELECT body FROM bookings WHERE uid = ?", (uid,)).fetchone()
            if row is None:
                raise _Error(404, "NotFoundException", f"Booking with uid={uid} was not found in the database")
            booking = change(json.loads(row["body"]))
            booking["updatedAt"] = _iso(now)
            conn.execute(
                "UPDATE bookings SET body = ?, status = ?, updated = ? WHERE uid = ?",
                (json.dumps(booking), booking["status"], _iso(now), uid),
            )
        return booking

    def _h_cancel(self, request: Request, uid: str) -> Response:
        body = request.get_json(silent=True) or {}
        reason = str(body.get("cancellationReason") or "")
        booking = self._update(
            uid, lambda b: {**b, "status": "cancelled", **({"cancellationReason": reason} if reason else {})}
        )
        return self._json({"status": "success", "data": booking})

    def _h_list(self, request: Request) -> Response:
        self._strict(request, {"afterUpdatedAt", "beforeUpdatedAt", "sortUpdatedAt", "take", "skip", "status"})
        try:
            take = min(int(request.args.get("take", 100)), 250)
            skip = max(int(request.args.get("skip", 0)), 0)
        except ValueError:
            raise _Error(400, "BadRequestException", "take and skip must be numbers") from None
        clauses, args = ["1 = 1"], []
        if request.args.get("afterUpdatedAt"):
            clauses.append("updated >= ?")
            args.append(_iso(_parse(request.args["afterUpdatedAt"], "afterUpdatedAt")))
        if request.args.get("beforeUpdatedAt"):
            clauses.append("updated <= ?")
            args.append(_iso(_parse(request.args["beforeUpdatedAt"], "beforeUpdatedAt")))
        order = "DESC" if request.args.get("sortUpdatedAt") == "desc" else "ASC"
        where = " AND ".join(clauses)
        with self._state.tx() as conn:
            total = conn.execute(f"SELECT COUNT(*) FROM bookings WHERE {where}", args).fetchone()[0]  # noqa: S608
            rows = conn.execute(
                f"SELECT body FROM bookings WHERE {where} ORDER BY updated {order}, id {order} LIMIT ? OFFSET ?",  # noqa: S608
                [*args, take, skip],
            ).fetchall()
        data = [json.loads(r["body"]) for r in rows]
        pagination = {
            "totalItems": total,
            "remainingItems": max(total - skip - len(data), 0),
            "returnedItems": len(data),
            "itemsPerPage": take,
            "currentPage": skip // take + 1 if take else 1,
            "totalPages": -(-total // take) if take else 1,
            "hasNextPage": skip + len(data) < total,
            "hasPreviousPage": skip > 0,
        }
        return self._json({"status": "success", "data": data, "pagination": pagination})
