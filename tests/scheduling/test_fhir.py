"""The FHIR connector against the FHIR sandbox: paging, booking, double booking, cancellation,
no-shows, SMART Backend Services tokens, and faults."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from joserfc.jwk import RSAKey

from connectors.fhir import FhirScheduling, SmartBackendTokens
from connectors.sandbox.fhir import FhirSandbox
from connectors.sandbox.harness import Faults, SandboxServer
from connectors.scheduling import Attendee, AvailabilityQuery, BookingRequest, Slot, SlotUnavailable
from nurture.errors import ConfigError, RetryLater, SkipRecord
from nurture.prep import AppointmentStatus
from tests.fixtures.fhir_sandbox import FHIR_T0, ManualClock, NoSleep

WEEK = AvailabilityQuery(start=FHIR_T0 + timedelta(hours=2), end=FHIR_T0 + timedelta(days=7))


def who(lead_id: str = "nh_fhir0001") -> Attendee:
    return Attendee(lead_id=lead_id, timezone="America/Chicago")


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


def test_booking_marks_the_slot_busy_and_references_it(
    fhir_connector: FhirScheduling, fhir_sandbox: FhirSandbox
) -> None:
    slot = first_free(fhir_connector)

    booking = fhir_connector.book(BookingRequest(slot=slot, attendee=who()))

    assert fhir_sandbox.get("Slot", slot.id)["status"] == "busy"  # type: ignore[index]
    stored = fhir_sandbox.get("Appointment", booking.id)
    assert stored is not None
    assert stored["slot"] == [{"reference": f"Slot/{slot.id}"}]
    assert stored["status"] == "booked"
    assert booking.status is AppointmentStatus.BOOKED
    assert (booking.slot_id, booking.provider, booking.location) == (slot.id, slot.provider, slot.location)


def test_the_patient_takes_part_by_lead_id_only(fhir_connector: FhirScheduling, fhir_sandbox: FhirSandbox) -> None:
    person = Attendee(lead_id="nh_fhir0002", timezone="America/Chicago", name="Ana Ruiz", email="ana@example.org")

    booking = fhir_connector.book(BookingRequest(slot=first_free(fhir_connector), attendee=person))

    text = str(fhir_sandbox.get("Appointment", booking.id))
    assert "nh_fhir0002" in text
    assert "Ana" not in text and "ana@example.org" not in text


def test_a_hold_makes_the_slot_tentative(fhir_connector: FhirScheduling, fhir_sandbox: FhirSandbox) -> None:
    slot = first_free(fhir_connector)

    booking = fhir_connector.book(BookingRequest(slot=slot, attendee=who(), hold=True))

    assert booking.status is AppointmentStatus.HELD
    assert fhir_sandbox.get("Slot", slot.id)["status"] == "busy-tentative"  # type: ignore[index]


def test_an_interpreter_is_requested_with_the_booking(
    fhir_connector: FhirScheduling, fhir_sandbox: FhirSandbox
) -> None:
    booking = fhir_connector.book(
        BookingRequest(slot=first_free(fhir_connector), attendee=who(), interpreter_language="es")
    )

    stored = fhir_sandbox.get("Appointment", booking.id)
    assert stored is not None
    assert any(p.get("type", [{}])[0].get("coding", [{}])[0].get("code") == "INTP" for p in stored["participant"])
    assert booking.interpreter_language == "es"


def test_a_retried_booking_does_not_book_twice(fhir_connector: FhirScheduling, fhir_sandbox: FhirSandbox) -> None:
    request = BookingRequest(slot=first_free(fhir_connector), attendee=who())

    first = fhir_connector.book(request)
    again = fhir_connector.book(request)

    assert again.id == first.id
    assert len(list(fhir_sandbox.resources("Appointment"))) == 1


def test_a_double_booking_is_refused_with_an_operation_outcome(
    fhir_connector: FhirScheduling, fhir_sandbox: FhirSandbox, fhir_server: SandboxServer
) -> None:
    slot = first_free(fhir_connector)
    fhir_connector.book(BookingRequest(slot=slot, attendee=who("nh_first")))

    with pytest.raises(SlotUnavailable, match=rf"Slot/{slot.id} is not free any more.*double booking"):
        fhir_connector.book(BookingRequest(slot=slot, attendee=who("nh_second")))

    assert fhir_sandbox.log.count("POST", "/fhir/Appointment", status=409) == 1
    token = fhir_connector.tokens.token().access_token
    raw = requests.post(
        f"{fhir_server.url}/fhir/Appointment",
        json=fhir_connector._appointment_body(BookingRequest(slot=slot, attendee=who("nh_third")), "nh_third.x"),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"},
        timeout=5,
    )
    assert raw.status_code == 409
    outcome = raw.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "conflict"
    assert f"Slot/{slot.id}" in outcome["issue"][0]["diagnostics"]
    assert len(list(fhir_sandbox.resources("Appointment"))) == 1


def test_cancellation_reopens_the_slot(fhir_connector: FhirScheduling, fhir_sandbox: FhirSandbox) -> None:
    slot = first_free(fhir_connector)
    booking = fhir_connector.book(BookingRequest(slot=slot, attendee=who()))

    cancelled = fhir_connector.cancel(booking.id)

    assert cancelled.status is AppointmentStatus.CANCELLED
    assert fhir_sandbox.get("Slot", slot.id)["status"] == "free"  # type: ignore[index]
    assert slot.id in {s.id for s in fhir_connector.find_slots(WEEK)}
    stored = fhir_sandbox.get("Appointment", booking.id)
    assert stored is not None and stored["cancelationReason"]["coding"][0]["code"] == "pat"


def test_a_cancellation_racing_another_change_reads_again(
    fhir_connector: FhirScheduling, fhir_sandbox: FhirSandbox
) -> None:
    booking = fhir_connector.book(BookingRequest(slot=first_free(fhir_connector), attendee=who()))
    original_read = fhir_connector._read
    raced: list[str] = []

    def read_then_change(rtype: str, rid: str, *, what: str) -> tuple[dict[str, object], str | None]:
        resource, etag = original_read(rtype, rid, what=what)
        if not raced:
            raced.append(rid)
            fhir_sandbox.set_appointment_status(rid, "arrived")  # the front desk checks the patient in
        return resource, etag

    fhir_connector._read = read_then_change  # type: ignore[method-assign]

    with pytest.raises(SkipRecord, match="cannot go from arrived to cancelled"):
        fhir_connector.cancel(booking.id)

    assert fhir_sandbox.log.count("PUT", "/fhir/Appointment", status=412) == 1


def test_no_shows_recorded_in_the_ehr_are_read_back(
    fhir_connector: FhirScheduling, fhir_sandbox: FhirSandbox, fhir_clock: ManualClock
) -> None:
    first = fhir_connector.book(BookingRequest(slot=first_free(fhir_connector), attendee=who("nh_a")))
    second = fhir_connector.book(BookingRequest(slot=first_free(fhir_connector), attendee=who("nh_b")))
    cursor = max(first.updated_at, second.updated_at)
    fhir_clock.advance(days=1)

    fhir_sandbox.set_appointment_status(first.id, "noshow")
    marked = fhir_connector.mark_no_show(second.id)
    changed = list(fhir_connector.read_bookings(cursor))

    assert marked.status is AppointmentStatus.NO_SHOW
    assert [(b.id, b.status) for b in changed] == [
        (first.id, AppointmentStatus.NO_SHOW),
        (second.id, AppointmentStatus.NO_SHOW),
    ]
    assert {b.lead_id for b in changed} == {"nh_a", "nh_b"}


def test_services_and_their_requirements_come_from_the_ehr(fhir_connector: FhirScheduling) -> None:
    services = {s.id: s for s in fhir_connector.services()}

    assert not services["primary_care"].requires_referral
    assert services["physical_therapy"].requires_referral and not services["physical_therapy"].requires_authorization
    assert services["sleep_study"].requires_referral and services["sleep_study"].requires_authorization


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


def test_missing_write_scope_is_a_configuration_error(make_fhir_connector: Callable[..., FhirScheduling]) -> None:
    connector = make_fhir_connector(scopes=("system/*.read",))
    slot = first_free(connector)

    with pytest.raises(ConfigError, match=r"not allowed.*check the scopes"):
        connector.book(BookingRequest(slot=slot, attendee=who()))


# --- faults ---------------------------------------------------------------------------------------


def test_transient_failures_are_retried(
    fhir_connector: FhirScheduling, fhir_faults: Faults, fhir_sandbox: FhirSandbox, fhir_sleep: NoSleep
) -> None:
    fhir_connector.check()
    fhir_faults.share_5xx = 0.3
    fhir_faults.share_429 = 0.2

    slots = list(fhir_connector.find_slots(WEEK))

    assert {s.id for s in slots} == free_in_sandbox(fhir_sandbox, WEEK)
    assert fhir_sandbox.log.count(status=503) + fhir_sandbox.log.count(status=429) > 0
    assert fhir_sleep.waits


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
