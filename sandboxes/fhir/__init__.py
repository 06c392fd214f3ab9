"""The FHIR sandbox: a local FHIR R4 scheduling server, a clinic's calendar as an EHR exposes it.

:class:`FhirSandbox` (``server``) serves it. What is faithful and what is not: ``docs/scheduling.md``.
"""

from sandboxes.fhir.calendar import (
    DEFAULT_CALENDAR,
    ClinicCalendar,
    ClinicLocation,
    ClinicProvider,
    ClinicSchedule,
    ClinicService,
)
from sandboxes.fhir.model import (
    BOOKING_SYSTEM,
    INTERPRETER_EXTENSION,
    LEAD_SYSTEM,
    PROFILES,
    REQUIREMENT_SYSTEM,
    SERVICE_SYSTEM,
)
from sandboxes.fhir.server import FhirSandbox

__all__ = [
    "BOOKING_SYSTEM",
    "DEFAULT_CALENDAR",
    "INTERPRETER_EXTENSION",
    "LEAD_SYSTEM",
    "PROFILES",
    "REQUIREMENT_SYSTEM",
    "SERVICE_SYSTEM",
    "ClinicCalendar",
    "ClinicLocation",
    "ClinicProvider",
    "ClinicSchedule",
    "ClinicService",
    "FhirSandbox",
]
