"""What the FHIR connector is told: :class:`FhirSettings` (validated), the SMART scopes it asks for,
the availability strategies, and how FHIR ``Appointment.status`` maps to the hub's status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from connectors.limits import RetryPolicy
from nurture.prep import AppointmentStatus

SYSTEM = "fhir"
FHIR_JSON = "application/fhir+json"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
BCP47 = "urn:ietf:bcp:47"
PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"

#: SMART v1 system scopes the connector asks for: read only, and only what it reads (the least an
#: EHR's administrator has to grant). The hub reads free slots and bookings; it never books, so it
#: asks no ``Appointment.write`` (nor ``HealthcareService.read``, which nothing reads any more).
DEFAULT_SCOPES: Final = (
    "system/Schedule.read",
    "system/Slot.read",
    "system/Practitioner.read",
    "system/Location.read",
    "system/Appointment.read",
    "system/Patient.read",
)

#: FHIR Appointment.status → the hub's appointment status.
STATUS: Final[Mapping[str, AppointmentStatus]] = MappingProxyType(
    {
        "proposed": AppointmentStatus.HELD,
        "pending": AppointmentStatus.HELD,
        "waitlist": AppointmentStatus.HELD,
        "booked": AppointmentStatus.BOOKED,
        "arrived": AppointmentStatus.KEPT,
        "checked-in": AppointmentStatus.KEPT,
        "fulfilled": AppointmentStatus.KEPT,
        "cancelled": AppointmentStatus.CANCELLED,
        "entered-in-error": AppointmentStatus.CANCELLED,
        "noshow": AppointmentStatus.NO_SHOW,
    }
)

_AUTH_METHODS = ("private_key_jwt", "client_secret_basic", "client_secret_post")

#: How availability is found (see the module docstring).
STRATEGIES: Final = ("slot", "argonaut", "oracle")
_FIND, _BOOK = "appointment-find", "appointment-book"


@dataclass(frozen=True, slots=True, kw_only=True)
class FhirSettings:
    """How the hub talks to one EHR's FHIR R4 API.

    Attributes:
        base_url: the FHIR base (``https://ehr.example.org/fhir/r4``).
        client_id: the backend client's id registered with the EHR.
        token_url: the token endpoint; None discovers it from ``.well-known/smart-configuration``.
        auth_method: ``private_key_jwt`` (SMART Backend Services), ``client_secret_basic`` or
            ``client_secret_post``.
        jwt_alg: the client assertion's algorithm (RS384 or ES384, as SMART requires).
        key_id: the ``kid`` of the client's key in the JWKS registered with the EHR.
        scopes: the system scopes to ask for.
        service_system: the code system of ``Schedule``/``Slot.serviceType`` codes.
        services: hub service id → the EHR's service code (unlisted ids are used as they are).
        locations: hub location id → the EHR's ``Location`` id (unlisted ids are used as they are).
        interpreter_extension: the extension URL that marks a slot's interpreter language.
        lead_system: the identifier system of the hub's lead ids (the patient participant).
        page_size: ``_count`` of each search page.
        requests_per_second, burst: client-side rate limit.
        max_retries: retries of one call after 429, 5xx and network errors.
        max_wait_s: the longest Retry-After or backoff slept in place; longer raises ``RetryLater``.
        backoff_s: the first backoff (doubling).
        timeout_s: socket timeout of one request.
        cache_s: how long schedules, practitioners, locations, patients and the server's
            CapabilityStatement are cached.
        profile: ``auto`` (read the CapabilityStatement) or a strategy: ``slot``, ``argonaut``,
            ``oracle``.
        practitioners: the EHR's Practitioner ids whose appointments the hub reads back, for
            servers whose Schedules cannot be searched (Argonaut); otherwise the schedules' own.
        bookings_window_days: appointments starting this many days back (and ahead) are read
            back when the server cannot search by ``_lastUpdated``.
    """

    base_url: str
    client_id: str
    token_url: str | None = None
    auth_method: str = "private_key_jwt"
    jwt_alg: str = "RS384"
    key_id: str = ""
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    service_system: str = "https://nurturehub.dev/fhir/CodeSystem/service"
    services: Mapping[str, str] = field(default_factory=dict)
    locations: Mapping[str, str] = field(default_factory=dict)
    interpreter_extension: str = "https://nurturehub.dev/fhir/StructureDefinition/interpreter-language"
    lead_system: str = "https://nurturehub.dev/fhir/lead"
    page_size: int = 50
    requests_per_second: float = 10.0
    burst: int = 10
    max_retries: int = 4
    max_wait_s: float = 30.0
    backoff_s: float = 0.5
    timeout_s: float = 30.0
    cache_s: float = 600.0
    profile: str = "auto"
    practitioners: tuple[str, ...] = ()
    bookings_window_days: int = 30

    @property
    def retry_policy(self) -> RetryPolicy:
        """How one call retries in place (connectors.limits)."""
        return RetryPolicy(self.max_retries, self.max_wait_s, self.backoff_s)

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name in ("base_url", "token_url"):
            value = getattr(self, name)
            if value is not None and not str(value).startswith(("https://", "http://")):
                problems.append(f"{name} must be an http(s) URL")
        if not self.client_id.strip():
            problems.append("client_id must not be empty")
        if self.auth_method not in _AUTH_METHODS:
            problems.append(f"auth_method must be one of {', '.join(_AUTH_METHODS)}")
        if self.auth_method == "private_key_jwt":
            if self.jwt_alg not in ("RS384", "ES384"):
                problems.append("jwt_alg must be RS384 or ES384 (SMART Backend Services)")
            if not self.key_id:
                problems.append("key_id (the kid of the registered public key) is required for private_key_jwt")
        if not self.scopes:
            problems.append("scopes must not be empty")
        if not 1 <= self.page_size <= 1000:
            problems.append("page_size must be between 1 and 1000")
        for name in ("requests_per_second", "max_wait_s", "timeout_s"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be positive")
        if self.max_retries < 0 or self.backoff_s < 0 or self.burst < 1 or self.cache_s < 0:
            problems.append("max_retries, backoff_s and cache_s must not be negative; burst at least 1")
        if self.profile not in ("auto", *STRATEGIES):
            problems.append(f"profile must be auto or one of {', '.join(STRATEGIES)}")
        if not 1 <= self.bookings_window_days <= 366:
            problems.append("bookings_window_days must be between 1 and 366")
        if problems:
            raise ValueError("FhirSettings: " + "; ".join(problems))
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        object.__setattr__(self, "practitioners", tuple(self.practitioners))
        object.__setattr__(self, "services", MappingProxyType(dict(self.services)))
        object.__setattr__(self, "locations", MappingProxyType(dict(self.locations)))
