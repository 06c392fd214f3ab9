"""Calendly's API v2, read back: which visits booked through Calendly were kept, missed or cancelled.

Calendly tells the hub of bookings and cancellations by webhook (``connectors.scheduling.calendly_events``);
what no webhook says is whether the patient came. The clinic records a no-show on the invitee in
Calendly (the Invitee No Show resource, ``POST /invitee_no_shows``); a visit that ended without one
was kept. So a scheduled pull reads, with the organization's token:

==============================================================  =====================================
call                                                            used for
==============================================================  =====================================
``GET /scheduled_events?organization&min_start_time&max_start_time&sort=start_time:asc&count=100``
                                                                the events that started in the window,
                                                                every page (``page_token``)
``GET /scheduled_events/{uuid}/invitees?count=100``             each event's invitees: ``status``,
                                                                ``no_show``, email (for matching)
``GET /users/me``                                               ``check``
==============================================================  =====================================

:meth:`CalendlyApi.visits` answers :class:`Visit` values; :meth:`Visit.booking` says what the visit
is as of ``now``: cancelled, no-show (a no-show was marked), kept (ended more than the no-show grace
ago without one), else still booked. Calendly has no "changed since" filter on events, so the hub's
cursor is the start of the oldest visit whose outcome is not yet final (``hub.bookings.calendly``).

Failures: 401/403 → ``ConfigError`` (token or scope); 404 → ``SkipRecord``; 429 and 5xx → wait
(``Retry-After``, else backoff), then ``RetryLater``; anything else → ``FatalError``. Invitee emails
are PHI: they are kept out of ``repr`` and logs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import requests

from connectors.base import ConnectionStatus
from connectors.limits import RetryPolicy, TokenBucket
from connectors.scheduling.base import Booking
from connectors.scheduling.calendly_events import SYSTEM, CalendlySettings
from nurture.clock import require_aware
from nurture.errors import ConfigError, FatalError, RetryLater, SkipRecord
from nurture.prep import AppointmentStatus

__all__ = ["CalendlyApi", "CalendlyApiSettings", "Visit"]

logger = logging.getLogger(__name__)

#: Rows per page (Calendly's maximum ``count``).
PAGE: Final = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class CalendlyApiSettings:
    """How the hub reads one Calendly organization.

    Attributes:
        organization: the organization's URI (``https://api.calendly.com/organizations/…``); an
            organization admin's token can list every member's events.
        api_host: the API's base URL (the sandbox's in tests).
        no_show_grace: how long after a visit ends staff have to mark a no-show before the hub
            counts the visit as kept.
        requests_per_second, burst: client-side rate limit.
        max_retries, max_wait_s, backoff_s, timeout_s: retries and waits.
    """

    organization: str
    api_host: str = "https://api.calendly.com"
    no_show_grace: timedelta = timedelta(hours=24)
    requests_per_second: float = 5.0
    burst: int = 5
    max_retries: int = 4
    max_wait_s: float = 30.0
    backoff_s: float = 0.5
    timeout_s: float = 30.0

    @property
    def retry_policy(self) -> RetryPolicy:
        """How one call retries in place (connectors.limits)."""
        return RetryPolicy(self.max_retries, self.max_wait_s, self.backoff_s)

    def __post_init__(self) -> None:
        problems = []
        if not self.organization.startswith("https://"):
            problems.append("organization must be the organization's https URI")
        if not self.api_host.startswith(("https://", "http://")):
            problems.append("api_host must be an http(s) URL")
        if self.no_show_grace < timedelta(0):
            problems.append("no_show_grace must not be negative")
        if self.requests_per_second <= 0 or self.burst < 1 or self.timeout_s <= 0:
            problems.append("requests_per_second and timeout_s must be positive, burst at least 1")
        if problems:
            raise ValueError("CalendlyApiSettings: " + "; ".join(problems))
        object.__setattr__(self, "api_host", self.api_host.rstrip("/"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Visit:
    """One Calendly scheduled event, as read back.

    Attributes:
        id: the event's UUID (the last part of its URI; the webhook's booking id too).
        event_type: the event type's URI.
        start, end: aware.
        canceled: the event was cancelled.
        no_show_at: when staff marked the (first) invitee a no-show, if they did.
        created_at, updated_at: Calendly's stamps.
        email: the invitee's email (PHI; hidden from ``repr``), for matching a visit whose webhook
            never arrived.
    """

    id: str
    event_type: str
    start: datetime
    end: datetime
    canceled: bool
    no_show_at: datetime | None
    created_at: datetime | None
    updated_at: datetime
    email: str | None = field(default=None, repr=False)

    def final(self, now: datetime, grace: timedelta) -> bool:
        """The visit's outcome will not change any more: cancelled, a no-show marked, or ended
        longer ago than the no-show grace."""
        return self.canceled or self.no_show_at is not None or self.end + grace <= now

    def booking(self, settings: CalendlySettings, *, now: datetime, grace: timedelta) -> Booking:
        """The visit as a :class:`~connectors.scheduling.Booking` as of ``now``."""
        require_aware(now, "now")
        if self.canceled:
            status = AppointmentStatus.CANCELLED
        elif self.no_show_at is not None:
            status = AppointmentStatus.NO_SHOW
        elif self.end + grace <= now:
            status = AppointmentStatus.KEPT
        else:
            status = AppointmentStatus.BOOKED
        kind = settings.event_type(self.event_type)
        stamps = [self.updated_at, *([self.no_show_at] if self.no_show_at else [])]
        if status is AppointmentStatus.KEPT:
            stamps.append(self.end + grace)  # when it became kept
        return Booking(
            id=self.id, system=SYSTEM, status=status, start=self.start, end=self.end, updated_at=max(stamps),
            created_at=self.created_at, service=kind.service if kind else None,
            location=kind.location if kind else None, telehealth=kind.telehealth if kind else False,
        )  # fmt: skip


def _time(value: Any, what: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise FatalError(f"calendly: {what} is not a date-time") from None
    if parsed.tzinfo is None:
        raise FatalError(f"calendly: {what} has no UTC offset")
    return parsed


def _utc(at: datetime) -> str:
    return require_aware(at, "time").astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class CalendlyApi:
    """Reads an organization's Calendly events and invitees.

    Args:
        settings: the connection's settings.
        token: a personal access token or OAuth access token of an organization admin (a secret).
        session: the HTTP session; one is made when None.
        sleep, monotonic: waiting and the rate limiter's clock (tests pass fakes).
    """

    system = SYSTEM

    def __init__(
        self,
        settings: CalendlyApiSettings,
        token: str,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not token:
            raise ConfigError(
                ["scheduling.calendly: no API token (set the environment variable named by api_token_env)"]
            )
        self.settings = settings
        self._token = token
        self.session = session or requests.Session()
        self._sleep = sleep
        self._bucket = TokenBucket(settings.requests_per_second, settings.burst, monotonic=monotonic, sleep=sleep)
        self.calls = 0

    def __repr__(self) -> str:
        return f"CalendlyApi(organization={self.settings.organization!r})"

    def close(self) -> None:
        self.session.close()

    def _get(self, path_or_url: str, params: Sequence[tuple[str, str]] | None, *, what: str) -> dict[str, Any]:
        s = self.settings
        url = path_or_url if path_or_url.startswith(("https://", "http://")) else f"{s.api_host}{path_or_url}"
        if not url.startswith(s.api_host + "/"):
            raise FatalError(f"calendly: {what}: a link leaves {s.api_host}")
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        attempt = 0
        while True:
            self._bucket.acquire()
            self.calls += 1
            try:
                response = self.session.get(url, params=params, headers=headers, timeout=s.timeout_s)
            except requests.RequestException as exc:
                attempt = self._wait(attempt, f"calendly: {what} failed ({type(exc).__name__})")
                continue
            status = response.status_code
            if status == 200:
                try:
                    data = response.json()
                except ValueError:
                    raise FatalError(f"calendly: {what} answered a body that is not JSON") from None
                if not isinstance(data, dict):
                    raise FatalError(f"calendly: {what} answered {type(data).__name__}, not an object")
                return data
            if status in (401, 403):
                raise ConfigError(
                    [f"scheduling.calendly: {what} was refused ({status}); check the token and its scopes"]
                )
            if status == 404:
                raise SkipRecord(f"calendly: {what}: not found", code="calendly_not_found")
            if status == 429 or status >= 500:
                attempt = self._wait(
                    attempt, f"calendly: {what} failed ({status})", retry_after=response.headers.get("Retry-After")
                )
                continue
            raise FatalError(f"calendly: {what} was rejected ({status})")

    def _wait(self, attempt: int, failure: str, *, retry_after: str | None = None) -> int:
        """Wait before the next try by the retry policy (connectors.limits), or raise RetryLater;
        answers the retries made."""
        self.settings.retry_policy.pause(
            attempt + 1, failure, retry_after=retry_after, bucket=self._bucket, sleep=self._sleep
        )
        return attempt + 1

    def _pages(self, path: str, params: list[tuple[str, str]], *, what: str) -> Iterator[dict[str, Any]]:
        """Every row of a collection, following ``pagination.next_page`` (a cursor repeated by the
        server ends the walk rather than looping)."""
        url: str | None = path
        query: list[tuple[str, str]] | None = [*params, ("count", str(PAGE))]
        seen: set[str] = set()
        while url is not None:
            data = self._get(url, query, what=what)
            rows = data.get("collection")
            if not isinstance(rows, list):
                raise FatalError(f"calendly: {what} answered no collection")
            yield from (r for r in rows if isinstance(r, dict))
            pagination = data.get("pagination") or {}
            url = pagination.get("next_page") or None
            query = None  # the next page link carries the whole query
            if url is not None:
                if url in seen:
                    logger.warning("calendly: %s repeated a page link; stopping", what)
                    return
                seen.add(url)

    def check(self) -> ConnectionStatus:
        """``GET /users/me``: the token works (and names its user's organization)."""
        try:
            data = self._get("/users/me", None, what="reading the token's user")
        except (ConfigError, RetryLater, FatalError, SkipRecord) as exc:
            return ConnectionStatus(ok=False, detail=str(exc).splitlines()[-1].strip(" -"))
        organization = str((data.get("resource") or {}).get("current_organization") or "")
        if organization and organization != self.settings.organization:
            return ConnectionStatus(ok=False, detail="the token's user belongs to another Calendly organization")
        return ConnectionStatus(ok=True, detail="connected to Calendly")

    def visits(self, *, min_start: datetime, max_start: datetime) -> Iterator[Visit]:
        """The organization's events that start in ``[min_start, max_start)``, earliest first, each
        with its invitee's status, no-show and email (one invitees call per event)."""
        params = [
            ("organization", self.settings.organization),
            ("min_start_time", _utc(min_start)),
            ("max_start_time", _utc(max_start)),
            ("sort", "start_time:asc"),
        ]
        for event in self._pages("/scheduled_events", params, what="listing scheduled events"):
            yield self._visit(event)

    def _visit(self, event: Mapping[str, Any]) -> Visit:
        uri = str(event.get("uri") or "")
        uuid = uri.rstrip("/").rsplit("/", 1)[-1]
        if not uuid:
            raise FatalError("calendly: a scheduled event came without its uri")
        invitees = list(self._pages(f"/scheduled_events/{uuid}/invitees", [], what=f"reading invitees of {uuid}"))
        no_shows = [
            _time(i["no_show"].get("created_at"), "no_show.created_at")
            for i in invitees
            if isinstance(i.get("no_show"), dict) and i["no_show"].get("created_at")
        ]
        active = [i for i in invitees if i.get("status") == "active"] or invitees
        email = str(active[0].get("email") or "") or None if active else None
        updated = [_time(event.get("updated_at") or event.get("created_at"), "updated_at")]
        updated += [_time(i["updated_at"], "invitee updated_at") for i in invitees if i.get("updated_at")]
        return Visit(
            id=uuid, event_type=str(event.get("event_type") or ""), start=_time(event.get("start_time"), "start_time"),
            end=_time(event.get("end_time"), "end_time"), canceled=event.get("status") == "canceled",
            no_show_at=min(no_shows) if no_shows else None,
            created_at=_time(event["created_at"], "created_at") if event.get("created_at") else None,
            updated_at=max(updated), email=email,
        )  # fmt: skip
