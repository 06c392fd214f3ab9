"""The FHIR connector against the FHIR sandbox: paging, filters, no-shows read back, SMART Backend
Services tokens, and faults."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from joserfc.jwk import RSAKey

from connectors.scheduling import AvailabilityQuery, Slot
from connectors.scheduling.fhir import FhirScheduling, SmartBackendTokens
from nurture.errors import ConfigError, RetryLater
from nurture.prep import AppointmentStatus
from sandboxes.common import Faults, SandboxServer
from sandboxes.fhir import FhirSandbox
from tests.fixtures.clock import ManualClock
from tests.fixtures.fhir_sandbox import FHIR_T0, FhirDesk

WEEK = AvailabilityQuery(start=FHIR_T0 + timedelta(hours=2), end=FHIR_T0 + timedelta(days=7))


def free_in_sandbox(sandbox: FhirSandbox, query: AvailabilityQuery, service: str | None = None) -> set[str]:
    """The free slots the sandbox holds for ``query``, read from its store (not through the API)."""
    out = set()
    for slot in sandbox.resources("Slot"):
        start = datetime.fromisoformat(slot["start"])
        code = slot["serviceType"][0]["coding"][0]["code"]
        if slot["status"] == "free" and query.start <= start < query.end and (service is None or code == service):
            out.add(slot["id"])
    return out


def test_availability_search_follows_next_links_across_pages(
    make_fhir_connector: Callable[..., FhirScheduling], fhir_sandbox: FhirSandbox
) -> None:
    connector = make_fhir_connector(page_size=10)

    slots = list(connector.find_slots(WEEK))

    pages = fhir_sandbox.log.count("GET", "/fhir/Slot")
    assert pages > 5, "the week's free slots span several pages of 10"
    assert {s.id for s in slots} == free_in_sandbox(fhir_sandbox, WEEK)
    assert [s.start for s in slots] == sorted(s.start for s in slots)


def test_slots_carry_service_location_provider_languages_and_telehealth(fhir_connector: FhirScheduling) -> None:
    slots = list(fhir_connector.find_slots(WEEK))

    by_provider = {s.provider: s for s in slots}
    assert by_provider["garcia"].languages == {"es", "en"}
    assert by_provider["okafor"].languages == {"en"}
    assert {s.location for s in slots} == {"downtown", "eastside", "telehealth"}
    assert all(s.telehealth == (s.location == "telehealth") for s in slots)
    assert {s.service for s in slots} == {"primary_care", "physical_therapy"}  # sleep studies are booked out


def test_a_spanish_search_finds_spanish_speaking_providers_or_interpreter_slots(fhir_connector: FhirScheduling) -> None:
    query = AvailabilityQuery(start=WEEK.start, end=WEEK.end, service="primary_care", language="es")

    slots = list(fhir_connector.find_slots(query))

    assert slots
    assert all("es" in s.languages or "es" in s.interpreter_languages for s in slots)
    interpreted = [s for s in slots if "es" not in s.languages]
    assert interpreted, "Dr. Chen's Thursday clinic has a Spanish interpreter"
    assert {s.provider for s in interpreted} == {"chen"}
    assert all(s.start.astimezone(s.start.tzinfo).weekday() == 3 for s in interpreted)


def test_filters_by_service_location_and_provider(fhir_connector: FhirScheduling, fhir_sandbox: FhirSandbox) -> None:
    query = AvailabilityQuery(start=WEEK.start, end=WEEK.end, service="physical_therapy", location="eastside")

    slots = list(fhir_connector.find_slots(query))

    assert slots and {(s.provider, s.location, s.service) for s in slots} == {
        ("ramirez", "eastside", "physical_therapy")
    }
    only_okafor = AvailabilityQuery(start=WEEK.start, end=WEEK.end, provider="okafor")
    assert {s.provider for s in fhir_connector.find_slots(only_okafor)} == {"okafor"}


def first_free(connector: FhirScheduling, service: str = "primary_care") -> Slot:
    query = AvailabilityQuery(start=WEEK.start, end=WEEK.end, service=service)
    return next(iter(connector.find_slots(query)))


def test_no_shows_recorded_in_the_ehr_are_read_back(
    fhir_connector: FhirScheduling, fhir_sandbox: FhirSandbox, fhir_clock: ManualClock, fhir_desk: FhirDesk
) -> None:
    first = fhir_desk.book(first_free(fhir_connector), "nh_a")
    second = fhir_desk.book(first_free(fhir_connector), "nh_b")
    cursor = max(first.updated_at, second.updated_at)
    fhir_clock.advance(days=1)

    fhir_sandbox.set_appointment_status(first.id, "noshow")
    marked = fhir_desk.no_show(second.id)
    changed = list(fhir_connector.read_bookings(cursor))

    assert marked.status is AppointmentStatus.NO_SHOW
    assert [(b.id, b.status) for b in changed] == [
        (first.id, AppointmentStatus.NO_SHOW),
        (second.id, AppointmentStatus.NO_SHOW),
    ]
    assert {b.lead_id for b in changed} == {"nh_a", "nh_b"}


# --- tokens ---------------------------------------------------------------------------------------


def test_private_key_jwt_gets_a_token_from_the_discovered_endpoint(
    fhir_connector: FhirScheduling, fhir_sandbox: FhirSandbox
) -> None:
    status = fhir_connector.check()

    assert status.ok, status.detail
    assert "FHIR 4.0.1" in status.detail
    assert fhir_sandbox.log.count("GET", "/fhir/.well-known/smart-configuration") == 1
    assert fhir_sandbox.log.count("POST", "/auth/token", status=200) == 1


def test_an_expired_token_is_replaced_once(fhir_connector: FhirScheduling, fhir_sandbox: FhirSandbox) -> None:
    list(fhir_connector.find_slots(WEEK))
    tokens = fhir_connector.tokens
    assert isinstance(tokens, SmartBackendTokens)
    fetched = tokens.fetches

    fhir_sandbox.expire_tokens()
    slots = list(fhir_connector.find_slots(AvailabilityQuery(start=WEEK.start, end=WEEK.end, provider="okafor")))

    assert slots
    assert tokens.fetches == fetched + 1
    assert fhir_sandbox.log.count(status=401) == 1


def test_a_client_secret_works_too(
    make_fhir_connector: Callable[..., FhirScheduling], fhir_server: SandboxServer
) -> None:
    connector = make_fhir_connector(
        client_id="nurturehub", auth_method="client_secret_basic", key_id="", token_url=f"{fhir_server.url}/auth/token"
    )

    assert connector.check().ok
    assert list(connector.find_slots(WEEK))


def test_a_wrong_key_is_a_configuration_error(
    make_fhir_connector: Callable[..., FhirScheduling], fhir_sandbox: FhirSandbox
) -> None:
    connector = make_fhir_connector()
    other = RSAKey.generate_key(2048).as_dict(private=False)
    fhir_sandbox.register_client("nurturehub-backend", jwks={"keys": [dict(other, kid="nurturehub-2026")]})

    with pytest.raises(ConfigError, match="refused client nurturehub-backend"):
        list(connector.find_slots(WEEK))
    assert not connector.check().ok


# --- faults ---------------------------------------------------------------------------------------


def test_transient_failures_are_retried(
    fhir_connector: FhirScheduling, fhir_faults: Faults, fhir_sandbox: FhirSandbox, fhir_sleep: ManualClock
) -> None:
    fhir_connector.check()
    fhir_faults.share_5xx = 0.3
    fhir_faults.share_429 = 0.2

    slots = list(fhir_connector.find_slots(WEEK))

    assert {s.id for s in slots} == free_in_sandbox(fhir_sandbox, WEEK)
    assert fhir_sandbox.log.count(status=503) + fhir_sandbox.log.count(status=429) > 0
    assert fhir_sleep.sleeps


def test_a_server_that_keeps_throttling_means_retry_later(fhir_connector: FhirScheduling, fhir_faults: Faults) -> None:
    fhir_connector.check()
    fhir_faults.share_429 = 1.0
    fhir_faults.retry_after_s = 7

    with pytest.raises(RetryLater) as later:
        list(fhir_connector.find_slots(WEEK))

    assert later.value.retry_after == 7


def test_a_file_backed_sandbox_keeps_its_calendar_across_restarts(tmp_path: Path, fhir_clock: ManualClock) -> None:
    path = tmp_path / "fhir.sqlite3"
    first = FhirSandbox(state_path=path, clock=fhir_clock)
    slot = next(r for r in first.resources("Slot") if r["status"] == "free")
    first.close()
    fhir_clock.advance(days=3)

    again = FhirSandbox(state_path=path, clock=fhir_clock)

    assert again.get("Slot", slot["id"]) == slot  # not generated again from the later date
    again.close()
