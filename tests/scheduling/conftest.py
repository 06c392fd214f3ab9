"""Fixtures for the scheduling tests: the FHIR sandbox (from ``tests/fixtures/fhir_sandbox.py``), a
Cal.com sandbox, the Calendly sandbox and reader (``tests/fixtures/calendly_sandbox.py``), and every
scheduling connector behind one ``scheduling`` fixture for the contract suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from connectors.calcom_api import CalcomEventType, CalcomScheduling, CalcomSettings
from connectors.fhir import FhirScheduling
from connectors.sandbox.calcom import CalcomSandbox
from connectors.sandbox.harness import Faults, SandboxServer
from connectors.scheduling import AvailabilityQuery, InMemoryScheduling, SchedulingConnector, Slot
from tests.fixtures.calendly_sandbox import (  # noqa: F401 - the Calendly fixtures, for this folder's tests
    calendly_api,
    calendly_clock,
    calendly_faults,
    calendly_sandbox,
    calendly_server,
    calendly_waits,
)
from tests.fixtures.fhir_sandbox import FHIR_T0, ManualClock, NoSleep

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


@pytest.fixture
def calcom_connector(calcom_settings: CalcomSettings, fhir_sleep: NoSleep) -> Iterator[CalcomScheduling]:
    connector = CalcomScheduling(
        calcom_settings, CALCOM_KEY, session=requests.Session(), sleep=fhir_sleep, monotonic=fhir_sleep.monotonic
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


@dataclass(frozen=True, slots=True)
class UnderTest:
    """One scheduling connector for the contract suite, with a query that finds free slots."""

    name: str
    connector: SchedulingConnector
    query: AvailabilityQuery


@pytest.fixture(params=["fake", "fhir", "calcom"])
def scheduling(request: pytest.FixtureRequest, fhir_clock: ManualClock) -> UnderTest:
    """Each scheduling connector in turn: the in-memory fake, FHIR (sandbox), Cal.com (sandbox)."""
    query = AvailabilityQuery(
        start=FHIR_T0 + timedelta(hours=2), end=FHIR_T0 + timedelta(days=7), service="primary_care"
    )
    connector: SchedulingConnector
    match request.param:
        case "fake":
            connector = InMemoryScheduling(fake_calendar(FHIR_T0), clock=fhir_clock)
        case "fhir":
            fhir: FhirScheduling = request.getfixturevalue("fhir_connector")
            connector = fhir
        case _:
            connector = request.getfixturevalue("calcom_connector")
    return UnderTest(request.param, connector, query)
