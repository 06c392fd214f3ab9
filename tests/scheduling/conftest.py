"""Fixtures for the scheduling tests: the FHIR sandbox (from ``tests/fixtures/fhir_sandbox.py``), a
Cal.com sandbox and a desk that books in it, the Calendly sandbox and reader
(``tests/fixtures/calendly_sandbox.py``), and every scheduling connector behind one ``scheduling``
fixture for the contract suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import pytest
import requests

from connectors.scheduling import AvailabilityQuery, Booking, InMemoryScheduling, SchedulingConnector, Slot
from connectors.scheduling.calcom import LEAD_KEY, STATUS, CalcomEventType, CalcomScheduling, CalcomSettings
from connectors.scheduling.fhir import FhirScheduling
from nurture.prep import AppointmentStatus
from sandboxes.calcom import CalcomSandbox
from sandboxes.common import Faults, SandboxServer
from tests.fixtures.calendly_sandbox import (  # noqa: F401 - the Calendly fixtures, for this folder's tests
    calendly_api,
    calendly_clock,
    calendly_faults,
    calendly_sandbox,
    calendly_server,
    calendly_waits,
)
from tests.fixtures.clock import ManualClock
from tests.fixtures.fhir_sandbox import FHIR_T0

# The FHIR fixtures come from tests/fixtures/fhir_sandbox.py (a plugin of the root conftest).

CALCOM_KEY = "cal_test_sandbox"
CALCOM_EVENT_TYPES = (
    CalcomEventType(id=482113, service="primary_care", location="downtown", length_minutes=60),
    CalcomEventType(
        id=482114,
        service="primary_care",
        location="telehealth",
        telehealth=True,
        languages=frozenset({"en", "es"}),
    ),
)


@pytest.fixture
def calcom_sandbox(fhir_clock: ManualClock) -> Iterator[CalcomSandbox]:
    """A fresh Cal.com account on the same manual clock as the FHIR sandbox."""
    sandbox = CalcomSandbox(api_key=CALCOM_KEY, clock=fhir_clock, faults=Faults())
    yield sandbox
    sandbox.close()


@pytest.fixture(scope="session")
def _calcom_http() -> Iterator[tuple[list[CalcomSandbox], SandboxServer]]:
    current: list[CalcomSandbox] = []

    def app(environ: dict[str, object], start_response: Callable[..., object]) -> object:
        assert current, "no Cal.com sandbox is being served"
        return current[0](environ, start_response)

    with SandboxServer(app) as server:
        yield current, server


@pytest.fixture
def calcom_server(
    calcom_sandbox: CalcomSandbox, _calcom_http: tuple[list[CalcomSandbox], SandboxServer]
) -> Iterator[SandboxServer]:
    current, server = _calcom_http
    current[:] = [calcom_sandbox]
    yield server
    current.clear()


@pytest.fixture
def calcom_settings(calcom_server: SandboxServer) -> CalcomSettings:
    return CalcomSettings(
        api_host=calcom_server.url, event_types=CALCOM_EVENT_TYPES, requests_per_second=1000.0, burst=100
    )


class CalcomDesk:
    """Patients booking on Cal.com, and cancelling: through the Cal.com sandbox's own API
    (``POST /v2/bookings``, ``POST /v2/bookings/{uid}/cancel``), as Cal.com's booking page would.
    The hub only reads bookings. Each answer is the booking as the sandbox has it, as a
    :class:`Booking`.

    Raises:
        requests.HTTPError: the sandbox refused (a slot taken meanwhile is a 400).
    """

    def __init__(self, server: SandboxServer, api_key: str = CALCOM_KEY) -> None:
        self.url = server.url
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {api_key}", "cal-api-version": "2024-08-13"})

    def close(self) -> None:
        self.session.close()

    def _answer(self, response: requests.Response) -> Booking:
        response.raise_for_status()
        data: dict[str, Any] = response.json()["data"]
        return Booking(
            id=str(data["uid"]),
            system="calcom",
            status=STATUS[data["status"]],
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            updated_at=datetime.fromisoformat(data["updatedAt"]),
            created_at=datetime.fromisoformat(data["createdAt"]),
            lead_id=data["metadata"].get(LEAD_KEY),
        )

    def book(
        self,
        slot: Slot,
        lead_id: str,
        *,
        name: str = "Ana Ruiz",
        email: str = "ana.ruiz@example.org",
        phone: str | None = None,
        language: str = "en",
        timezone: str = "America/Chicago",
    ) -> Booking:
        """Book ``slot`` (a Cal.com slot: ``<event type id>@<start>``) for the lead, who gives her
        name and email; the booking carries the lead id in its metadata."""
        attendee = {"name": name, "email": email, "timeZone": timezone, "language": language}
        if phone:
            attendee["phoneNumber"] = phone
        body = {
            "start": slot.start.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "eventTypeId": int(slot.id.split("@")[0]),
            "attendee": attendee,
            "metadata": {LEAD_KEY: lead_id},
        }
        return self._answer(self.session.post(f"{self.url}/v2/bookings", json=body, timeout=10))

    def cancel(self, booking_id: str) -> Booking:
        """The patient cancels."""
        body = {"cancellationReason": "Cancelled by the patient"}
        return self._answer(self.session.post(f"{self.url}/v2/bookings/{booking_id}/cancel", json=body, timeout=10))


@pytest.fixture
def calcom_desk(calcom_server: SandboxServer) -> Iterator[CalcomDesk]:
    """Patients booking in this test's Cal.com sandbox (see :class:`CalcomDesk`)."""
    desk = CalcomDesk(calcom_server)
    yield desk
    desk.close()


@pytest.fixture
def calcom_connector(calcom_settings: CalcomSettings, fhir_sleep: ManualClock) -> Iterator[CalcomScheduling]:
    connector = CalcomScheduling(
        calcom_settings, CALCOM_KEY, session=requests.Session(), sleep=fhir_sleep.sleep, monotonic=fhir_sleep.monotonic
    )
    yield connector
    connector.close()


def fake_calendar(start: datetime, *, days: int = 14) -> list[Slot]:
    """Primary care at Downtown, weekdays 09:00-12:00 in Austin, 30-minute slots."""
    tz = ZoneInfo("America/Chicago")
    first = start.astimezone(tz).date()
    slots = []
    for n in range(days):
        day = first + timedelta(days=n)
        if day.weekday() > 4:
            continue
        at = datetime.combine(day, time(9), tzinfo=tz)
        while at.hour < 12:
            slots.append(
                Slot(
                    id=f"fake-{at:%Y%m%d%H%M}",
                    system="fake",
                    start=at,
                    end=at + timedelta(minutes=30),
                    service="primary_care",
                    location="downtown",
                    provider="okafor",
                    languages=frozenset({"en"}),
                )
            )
            at += timedelta(minutes=30)
    return slots


class Desk(Protocol):
    """Books and cancels in the scheduling system itself, as patients and staff do (the hub only
    reads bookings)."""

    def book(self, slot: Slot, lead_id: str) -> Booking: ...

    def cancel(self, booking_id: str) -> Booking: ...


@dataclass(frozen=True, slots=True)
class FakeDesk:
    """Booking in the in-memory fake's calendar."""

    calendar: InMemoryScheduling

    def book(self, slot: Slot, lead_id: str) -> Booking:
        return self.calendar.add_booking(slot.id, lead_id=lead_id)

    def cancel(self, booking_id: str) -> Booking:
        return self.calendar.set_status(booking_id, AppointmentStatus.CANCELLED)


@dataclass(frozen=True, slots=True)
class UnderTest:
    """One scheduling connector for the contract suite, with a query that finds free slots and a
    desk that books in the system behind it."""

    name: str
    connector: SchedulingConnector
    query: AvailabilityQuery
    desk: Desk


@pytest.fixture(params=["fake", "fhir", "calcom"])
def scheduling(request: pytest.FixtureRequest, fhir_clock: ManualClock) -> UnderTest:
    """Each scheduling connector in turn: the in-memory fake, FHIR (sandbox), Cal.com (sandbox)."""
    query = AvailabilityQuery(
        start=FHIR_T0 + timedelta(hours=2), end=FHIR_T0 + timedelta(days=7), service="primary_care"
    )
    connector: SchedulingConnector
    desk: Desk
    match request.param:
        case "fake":
            calendar = InMemoryScheduling(fake_calendar(FHIR_T0), clock=fhir_clock)
            connector, desk = calendar, FakeDesk(calendar)
        case "fhir":
            fhir: FhirScheduling = request.getfixturevalue("fhir_connector")
            connector, desk = fhir, request.getfixturevalue("fhir_desk")
        case _:
            connector, desk = request.getfixturevalue("calcom_connector"), request.getfixturevalue("calcom_desk")
    return UnderTest(request.param, connector, query, desk)
