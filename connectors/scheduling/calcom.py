"""The Cal.com API v2 scheduling connector, and the reading of Cal.com's booking webhooks.

Cal.com versions each endpoint by the ``cal-api-version`` header (a missing or old value silently
selects an older shape), so each call sends the version its endpoint is documented with:

============================================  =====================  ===============================
call                                          ``cal-api-version``    used for
============================================  =====================  ===============================
``GET /v2/slots?eventTypeId&start&end``        2024-09-04             ``find_slots`` (``format=range``)
``GET /v2/bookings?afterUpdatedAt&sortUpdatedAt=asc&take&skip``  2024-08-13  ``read_bookings``
============================================  =====================  ===============================

The versions are settings: Cal.com has newer ones (2026-02-25 for bookings; 2026-05-01 pages the
booking list with a cursor instead of ``take``/``skip``), and an operator moves to them by
configuration once verified. Times are sent in UTC (``...Z``), as Cal.com requires.

Cal.com knows event types, not services and locations: each configured :class:`CalcomEventType`
says which service, location, languages and interpreter support its slots stand for. Patients book
on Cal.com; the hub reads the bookings (it never books). A booking whose ``metadata`` carries the
hub's lead id (``nurturehub_lead_id``) names its lead, in webhooks and in reads.

Failures, one table (first match wins)::

    401, 403            ConfigError (the API key is refused or lacks access)
    404                 ConfigError (an unknown event type)
    429, 5xx, network   Retry-After / backoff, retried, then RetryLater
    other               FatalError

Bookings carry the attendee's name, email and phone; they are never logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final

import requests

from connectors.base import ConnectionStatus
from connectors.limits import RetryPolicy, TokenBucket
from connectors.scheduling.base import AvailabilityQuery, Booking, Slot
from nurture.errors import ConfigError, FatalError, RetryLater, SkipRecord
from nurture.prep import AppointmentStatus

__all__ = [
    "BOOKING_TRIGGERS",
    "CalcomBookingEvent",
    "CalcomEventType",
    "CalcomScheduling",
    "CalcomSettings",
    "booking_event",
]

logger = logging.getLogger(__name__)

SYSTEM = "calcom"
LEAD_KEY = "nurturehub_lead_id"

#: Cal.com booking status (API lower case, webhooks upper case) → the hub's appointment status.
STATUS: Final[Mapping[str, AppointmentStatus]] = MappingProxyType(
    {
        "accepted": AppointmentStatus.BOOKED,
        "pending": AppointmentStatus.HELD,
        "awaiting_host": AppointmentStatus.HELD,
        "unconfirmed": AppointmentStatus.HELD,
        "cancelled": AppointmentStatus.CANCELLED,
        "rejected": AppointmentStatus.CANCELLED,
    }
)

#: Webhook triggers that are about a booking.
BOOKING_TRIGGERS: Final = frozenset(
    {
        "BOOKING_CREATED",
        "BOOKING_REQUESTED",
        "BOOKING_RESCHEDULED",
        "BOOKING_CANCELLED",
        "BOOKING_REJECTED",
        "BOOKING_NO_SHOW_UPDATED",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CalcomEventType:
    """What one Cal.com event type stands for in the hub.

    Attributes:
        id: the event type id.
        service: the hub's service id.
        location: the hub's location id (``telehealth`` for video visits).
        provider: the host, if one person hosts it.
        languages: languages the host(s) speak.
        interpreter_languages: languages an interpreter is always booked for.
        telehealth: a video visit.
        length_minutes: the event's length, for slots Cal.com returns without an end.
    """

    id: int
    service: str
    location: str
    provider: str | None = None
    languages: frozenset[str] = frozenset({"en"})
    interpreter_languages: frozenset[str] = frozenset()
    telehealth: bool = False
    length_minutes: int = 30

    def __post_init__(self) -> None:
        if self.id <= 0 or not self.service or not self.location:
            raise ValueError("a Cal.com event type needs a positive id, a service and a location")
        if not 5 <= self.length_minutes <= 24 * 60:
            raise ValueError(f"event type {self.id}: length_minutes must be between 5 and 1440")
        object.__setattr__(self, "languages", frozenset(self.languages))
        object.__setattr__(self, "interpreter_languages", frozenset(self.interpreter_languages))


@dataclass(frozen=True, slots=True, kw_only=True)
class CalcomSettings:
    """How the hub talks to Cal.com (the ``[scheduling.calcom]`` table).

    Attributes:
        api_host: the API's base URL (a sandbox's in tests and the demo).
        event_types: the event types whose slots and bookings the hub reads, with their meaning.
        slots_api_version: ``cal-api-version`` for ``/v2/slots``.
        bookings_api_version: ``cal-api-version`` for ``/v2/bookings`` (the booking list).
        page_size: ``take`` of each booking list page (Cal.com allows up to 250).
        requests_per_second, burst: client-side rate limit.
        max_retries, max_wait_s, backoff_s, timeout_s: as for the other connectors.
    """

    api_host: str = "https://api.cal.com"
    event_types: tuple[CalcomEventType, ...] = ()
    slots_api_version: str = "2024-09-04"
    bookings_api_version: str = "2024-08-13"
    page_size: int = 100
    requests_per_second: float = 5.0
    burst: int = 5
    max_retries: int = 4
    max_wait_s: float = 30.0
    backoff_s: float = 0.5
    timeout_s: float = 30.0
    _by_id: Mapping[int, CalcomEventType] = field(init=False, repr=False, compare=False)

    @property
    def retry_policy(self) -> RetryPolicy:
        """How one call retries in place (connectors.limits)."""
        return RetryPolicy(self.max_retries, self.max_wait_s, self.backoff_s)

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not self.api_host.startswith(("https://", "http://")):
            problems.append("api_host must be an http(s) URL")
        ids = [e.id for e in self.event_types]
        if len(set(ids)) != len(ids):
            problems.append("event_types must not repeat an id")
        for name in ("slots_api_version", "bookings_api_version"):
            value = getattr(self, name)
            if len(value) != 10 or value[4] != "-" or value[7] != "-":
                problems.append(f"{name} must be a date like 2024-08-13")
        if not 1 <= self.page_size <= 250:
            problems.append("page_size must be between 1 and 250")
        if not self.requests_per_second > 0 or self.burst < 1 or self.max_retries < 0:
            problems.append("requests_per_second must be positive, burst at least 1, max_retries not negative")
        if problems:
            raise ValueError("CalcomSettings: " + "; ".join(problems))
        object.__setattr__(self, "api_host", self.api_host.rstrip("/"))
        object.__setattr__(self, "_by_id", MappingProxyType({e.id: e for e in self.event_types}))

    def event_type(self, event_type_id: int) -> CalcomEventType | None:
        """The configured event type with that id."""
        return self._by_id.get(event_type_id)


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _time(value: Any, what: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise FatalError(f"calcom: {what} is missing")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # Cal.com's UTC times sometimes come without a zone
    return parsed


def _slot_id(event_type_id: int, start: datetime) -> str:
    return f"{event_type_id}@{_utc(start)}"


def _booking(data: Mapping[str, Any], settings: CalcomSettings, *, updated_at: datetime | None = None) -> Booking:
    """A Cal.com booking (API ``BookingOutput``, or a webhook payload) as a :class:`Booking`."""
    uid = data.get("uid")
    if not uid:
        raise FatalError("calcom: a booking without a uid")
    raw_status = str(data.get("status", "")).lower()
    status = STATUS.get(raw_status)
    if status is None:
        raise FatalError(f"calcom: booking {uid} has an unknown status")
    attendees = data.get("attendees") or []
    if status is AppointmentStatus.BOOKED and any(a.get("absent") or a.get("noShow") for a in attendees):
        status = AppointmentStatus.NO_SHOW
    event_type_id = data.get("eventTypeId") or (data.get("eventType") or {}).get("id")
    event_type = settings.event_type(int(event_type_id)) if event_type_id else None
    metadata = data.get("metadata") or {}
    start = _time(data.get("start") or data.get("startTime"), f"booking {uid} start")
    end = _time(data.get("end") or data.get("endTime"), f"booking {uid} end")
    created = data.get("createdAt")
    stamp = data.get("updatedAt") or created
    return Booking(
        id=str(uid),
        system=SYSTEM,
        status=status,
        start=start,
        end=end,
        updated_at=updated_at or (_time(stamp, f"booking {uid} updatedAt") if stamp else start),
        created_at=_time(created, f"booking {uid} createdAt") if created else None,
        service=event_type.service if event_type else None,
        location=event_type.location if event_type else None,
        provider=event_type.provider if event_type else None,
        lead_id=str(metadata[LEAD_KEY]) if metadata.get(LEAD_KEY) else None,
        telehealth=event_type.telehealth if event_type else False,
        interpreter_language=str(metadata["interpreter_language"]) if metadata.get("interpreter_language") else None,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CalcomBookingEvent:
    """What a Cal.com booking webhook says.

    Attributes:
        trigger: ``BOOKING_CREATED``, ``BOOKING_CANCELLED``, ``BOOKING_NO_SHOW_UPDATED`` ….
        uid: the booking's uid.
        booking: the booking as the webhook describes it; None when the payload does not carry
            the booking itself (``BOOKING_NO_SHOW_UPDATED``): the bookings pull (``read_bookings``)
            reads it.
        replaces: for a reschedule, the uid of the booking it replaces (now cancelled).
    """

    trigger: str
    uid: str
    booking: Booking | None
    replaces: str | None = None


def booking_event(envelope: Mapping[str, Any], settings: CalcomSettings) -> CalcomBookingEvent | None:
    """Read a verified Cal.com webhook (``{"triggerEvent", "createdAt", "payload"}``).

    Returns None for triggers that are not about a booking (forms, recordings …).

    Raises:
        SkipRecord: a booking trigger whose payload lacks the booking's uid or times.
    """
    trigger = str(envelope.get("triggerEvent", ""))
    if trigger not in BOOKING_TRIGGERS:
        return None
    payload = envelope.get("payload")
    if not isinstance(payload, Mapping):
        raise SkipRecord(f"calcom {trigger}: the payload is not an object", field="payload", code="calcom_payload")
    uid = payload.get("uid") or payload.get("bookingUid")
    if not uid:
        raise SkipRecord(f"calcom {trigger}: no booking uid", field="payload.uid", code="calcom_payload")
    if trigger == "BOOKING_NO_SHOW_UPDATED":
        return CalcomBookingEvent(trigger=trigger, uid=str(uid), booking=None)
    stamp = envelope.get("createdAt")
    try:
        booking = _booking(payload, settings, updated_at=_time(stamp, "createdAt") if stamp else None)
    except (FatalError, ValueError) as exc:
        raise SkipRecord(f"calcom {trigger} {uid}: {exc}", field="payload", code="calcom_payload") from None
    replaces = payload.get("rescheduleUid") or payload.get("fromReschedule")
    return CalcomBookingEvent(
        trigger=trigger,
        uid=str(uid),
        booking=booking,
        replaces=str(replaces) if replaces and replaces != uid else None,
    )


class CalcomScheduling:
    """A :class:`~connectors.scheduling.SchedulingConnector` for Cal.com API v2.

    Args:
        settings: the connection's settings.
        api_key: the API key (``cal_live_…``; a secret from the environment).
        session: the HTTP session; one is made when None.
        sleep, monotonic: waiting and the rate limiter's clock (tests pass fakes).
    """

    system = SYSTEM

    def __init__(
        self,
        settings: CalcomSettings,
        api_key: str,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not api_key:
            raise ConfigError(["scheduling.calcom: no API key (set the environment variable named by api_key_env)"])
        self.settings = settings
        self._api_key = api_key
        self.session = session or requests.Session()
        self._sleep = sleep
        self._bucket = TokenBucket(settings.requests_per_second, settings.burst, monotonic=monotonic, sleep=sleep)
        self.calls = 0

    def __repr__(self) -> str:
        return f"CalcomScheduling(api_host={self.settings.api_host!r})"

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()

    # --- transport ------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        version: str | None,
        params: Sequence[tuple[str, str]] | None = None,
        body: Mapping[str, Any] | None = None,
        what: str,
    ) -> tuple[int, dict[str, Any]]:
        """One call with retries; answers (status, JSON body) for 2xx and the refusals callers
        translate (400, 404, 409, 422)."""
        s = self.settings
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}
        if version is not None:
            headers["cal-api-version"] = version
        attempt = 0
        while True:
            self._bucket.acquire()
            self.calls += 1
            try:
                response = self.session.request(
                    method, f"{s.api_host}{path}", params=params, json=body, headers=headers, timeout=s.timeout_s
                )
            except requests.RequestException as exc:
                attempt = self._wait(attempt, f"calcom: {what} failed ({type(exc).__name__})")
                continue
            status = response.status_code
            try:
                data = response.json()
            except ValueError:
                data = {}
            if not isinstance(data, dict):
                data = {"data": data}
            if status < 300 or status in (400, 404, 409, 422):
                return status, data
            code = str((data.get("error") or {}).get("code") or status)
            if status in (401, 403):
                raise ConfigError([f"scheduling.calcom: {what} was refused ({status} {code}); check the API key"])
            if status == 429 or status >= 500:
                attempt = self._wait(
                    attempt, f"calcom: {what} failed ({status})", retry_after=response.headers.get("Retry-After")
                )
                continue
            raise FatalError(f"calcom: {what} was rejected ({status} {code})")

    def _wait(self, attempt: int, failure: str, *, retry_after: str | None = None) -> int:
        """Wait before the next try by the retry policy (connectors.limits), or raise RetryLater;
        answers the retries made."""
        self.settings.retry_policy.pause(
            attempt + 1, failure, retry_after=retry_after, bucket=self._bucket, sleep=self._sleep
        )
        return attempt + 1

    @staticmethod
    def _error(data: Mapping[str, Any]) -> tuple[str, str]:
        error = data.get("error") or {}
        if not isinstance(error, Mapping):
            return "error", str(error)[:200]
        return str(error.get("code") or "error"), str(error.get("message") or "")[:200]

    # --- the protocol ---------------------------------------------------------------------------

    def check(self) -> ConnectionStatus:
        """``GET /v2/me``: the API key works."""
        try:
            status, data = self._call("GET", "/v2/me", version=None, what="reading the API key's user")
        except (ConfigError, RetryLater, FatalError) as exc:
            return ConnectionStatus(ok=False, detail=str(exc).splitlines()[-1].strip(" -"))
        if status != 200:
            return ConnectionStatus(ok=False, detail=f"GET /v2/me answered {status}")
        user = data.get("data") or {}
        return ConnectionStatus(ok=True, detail=f"connected to Cal.com as user {user.get('id', '?')}")

    def find_slots(self, query: AvailabilityQuery) -> Iterator[Slot]:
        found: list[Slot] = []
        for event_type in self.settings.event_types:
            if query.service is not None and event_type.service != query.service:
                continue
            if query.location is not None and event_type.location != query.location:
                continue
            if query.provider is not None and event_type.provider != query.provider:
                continue
            found.extend(s for s in self._event_slots(event_type, query) if query.matches(s))
        return iter(sorted(found, key=lambda s: (s.start, s.id)))

    def _event_slots(self, event_type: CalcomEventType, query: AvailabilityQuery) -> Iterator[Slot]:
        params = [
            ("eventTypeId", str(event_type.id)),
            ("start", _utc(query.start)),
            ("end", _utc(query.end)),
            ("timeZone", "UTC"),
            ("format", "range"),
        ]
        status, data = self._call(
            "GET", "/v2/slots", version=self.settings.slots_api_version, params=params, what="reading slots"
        )
        if status == 404:
            raise ConfigError([f"scheduling.calcom: event type {event_type.id} does not exist"])
        if status != 200:
            code, message = self._error(data)
            raise FatalError(f"calcom: reading slots of event type {event_type.id} was rejected ({code}: {message})")
        days = data.get("data") or {}
        length = timedelta(minutes=event_type.length_minutes)
        for items in days.values():
            for item in items:
                start = _time(item.get("start") or item.get("time"), "slot start")
                end = _time(item["end"], "slot end") if item.get("end") else start + length
                yield Slot(
                    id=_slot_id(event_type.id, start),
                    system=SYSTEM,
                    start=start,
                    end=end,
                    service=event_type.service,
                    location=event_type.location,
                    provider=event_type.provider,
                    languages=event_type.languages,
                    interpreter_languages=event_type.interpreter_languages,
                    telehealth=event_type.telehealth,
                )

    def read_bookings(self, since: datetime | None) -> Iterator[Booking]:
        take = self.settings.page_size
        skip = 0
        while True:
            params = [("sortUpdatedAt", "asc"), ("take", str(take)), ("skip", str(skip))]
            if since is not None:
                params.append(("afterUpdatedAt", _utc(since)))
            status, data = self._call(
                "GET",
                "/v2/bookings",
                version=self.settings.bookings_api_version,
                params=params,
                what="reading changed bookings",
            )
            if status != 200:
                code, _ = self._error(data)
                raise FatalError(f"calcom: reading bookings was rejected ({status} {code})")
            items = data.get("data") or []
            for item in items:
                yield _booking(item, self.settings)
            pagination = data.get("pagination") or {}
            more = pagination.get("hasNextPage")
            if not items or more is False or (more is None and len(items) < take):
                return
            skip += len(items)
