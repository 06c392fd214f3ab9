"""EHR scheduling as deployed EHRs serve it: the FHIR sandbox plays a generic R4 server, an
Epic-style server (Argonaut ``Appointment/$find`` + ``$hold``/``$book``, no Slot search) and an
Oracle Health-style one (Slot search by ``service-type`` and ``schedule.actor``, patients by
reference); the connector reads the CapabilityStatement and chooses how to find slots, and reads
back the appointments staff book in each (through the sandbox's own booking endpoints)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from joserfc.jwk import RSAKey

from connectors.scheduling import AvailabilityQuery
from connectors.scheduling.fhir import FhirScheduling
from nurture.prep import AppointmentStatus
from sandboxes.common import Faults
from sandboxes.fhir import FhirSandbox
from tests.fixtures.clock import ManualClock
from tests.fixtures.fhir_sandbox import FHIR_T0, JWT_CLIENT, JWT_KID, FhirDesk, FhirSchema, FhirTraffic

PROFILES = {"generic": "slot", "argonaut": "argonaut", "oracle": "oracle"}
WEEK = AvailabilityQuery(start=FHIR_T0, end=FHIR_T0 + timedelta(days=7), service="primary_care")
#: The practitioners whose appointments are read back where schedules cannot be searched.
CLINICIANS = ("okafor", "garcia", "chen", "nguyen", "ramirez", "patel")


@pytest.fixture(params=list(PROFILES))
def profile(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fhir_sandbox(
    profile: str, fhir_clock: ManualClock, fhir_faults: Faults, fhir_client_key: RSAKey
) -> Iterator[FhirSandbox]:
    """This module's clinic calendar, served the way ``profile``'s EHR serves it."""
    sandbox = FhirSandbox(clock=fhir_clock, faults=fhir_faults, profile=profile)
    public = dict(fhir_client_key.as_dict(private=False), kid=JWT_KID, alg="RS384", use="sig")
    sandbox.register_client(JWT_CLIENT, jwks={"keys": [public]})
    yield sandbox
    sandbox.close()


@pytest.fixture
def ehr(make_fhir_connector: Callable[..., FhirScheduling]) -> FhirScheduling:
    return make_fhir_connector(practitioners=CLINICIANS)


def test_the_connector_chooses_its_strategy_by_the_capability_statement(ehr: FhirScheduling, profile: str) -> None:
    assert ehr.strategy == PROFILES[profile]


def test_each_profile_finds_and_books_with_the_patient_by_reference(
    ehr: FhirScheduling, fhir_sandbox: FhirSandbox, fhir_traffic: FhirTraffic, profile: str, fhir_desk: FhirDesk
) -> None:
    patient = fhir_sandbox.register_patient("nh_prof0001")
    slots = list(ehr.find_slots(WEEK))
    assert slots
    assert [s.start for s in slots] == sorted(s.start for s in slots)
    assert {s.service for s in slots} == {"primary_care"}
    booking = fhir_desk.book(slots[0], "nh_prof0001")
    assert booking.status is AppointmentStatus.BOOKED
    assert booking.lead_id == "nh_prof0001"
    stored = fhir_sandbox.get("Appointment", booking.id)
    assert stored is not None
    refs = [p["actor"].get("reference") for p in stored["participant"]]
    assert f"Patient/{patient}" in refs
    sent = {(e.method, e.path) for e in fhir_traffic.exchanges if e.direction == "request"}
    if profile == "argonaut":
        assert ("POST", "/fhir/Appointment/$find") in {(e.method, e.path) for e in fhir_traffic.exchanges}
        assert ("POST", "/fhir/Appointment/$book") in sent
    assert not any(path == "/fhir/Slot" for _, path in sent) or profile != "argonaut"


def test_bookings_are_read_back_by_practitioner_never_unfiltered(
    ehr: FhirScheduling, fhir_sandbox: FhirSandbox, fhir_clock: ManualClock, fhir_desk: FhirDesk
) -> None:
    fhir_sandbox.register_patient("nh_prof0003")
    slot = next(iter(ehr.find_slots(WEEK)))
    booking = fhir_desk.book(slot, "nh_prof0003")
    fhir_clock.advance(minutes=5)
    fhir_sandbox.set_appointment_status(booking.id, "cancelled")
    read = {b.id: b for b in ehr.read_bookings(None)}
    assert read[booking.id].status is AppointmentStatus.CANCELLED
    assert read[booking.id].lead_id == "nh_prof0003"
    since = list(ehr.read_bookings(read[booking.id].updated_at))
    assert [b.id for b in since] == [booking.id]


def test_the_sandbox_refuses_an_unfiltered_appointment_search(
    ehr: FhirScheduling, make_fhir_connector: Callable[..., FhirScheduling]
) -> None:
    ehr.capability()
    response = ehr.session.get(
        f"{ehr.settings.base_url}/Appointment",
        headers={"Authorization": f"Bearer {ehr.tokens.token().access_token}", "Accept": "application/fhir+json"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["issue"][0]["code"] == "too-costly"


@pytest.mark.parametrize("profile", ["oracle"])
def test_oracle_style_slot_search_refuses_what_oracle_does_not_offer(ehr: FhirScheduling) -> None:
    token = ehr.tokens.token().access_token
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}
    by_schedule = ehr.session.get(
        f"{ehr.settings.base_url}/Slot", params={"schedule": "Schedule/okafor-downtown"}, headers=headers, timeout=10
    )
    assert by_schedule.status_code == 400
    no_start = ehr.session.get(
        f"{ehr.settings.base_url}/Slot", params={"service-type": "primary_care"}, headers=headers, timeout=10
    )
    assert no_start.status_code == 400
    assert list(ehr.find_slots(WEEK))  # the connector asks the way Oracle Health answers


@pytest.mark.node
def test_every_profiles_traffic_is_valid_fhir_r4(
    ehr: FhirScheduling,
    fhir_sandbox: FhirSandbox,
    fhir_traffic: FhirTraffic,
    fhir_schema: FhirSchema,
    profile: str,
    fhir_desk: FhirDesk,
) -> None:
    fhir_sandbox.register_patient("nh_prof0005")
    slots = list(ehr.find_slots(WEEK))
    booking = fhir_desk.book(slots[0], "nh_prof0005")
    if profile == "argonaut":
        fhir_desk.book(slots[1], "nh_prof0005", hold=True)
    fhir_desk.cancel(booking.id)
    list(ehr.read_bookings(None))
    seen = fhir_traffic.resources()
    violations = [f"{x.direction} {x.method} {x.path}: {v}" for x, r in seen for v in fhir_schema.violations(r)]
    assert violations == []
    kinds = {r["resourceType"] for _, r in seen}
    assert {"CapabilityStatement", "Bundle", "Appointment", "Patient"} <= kinds
    if profile == "argonaut":
        assert "Parameters" in kinds
