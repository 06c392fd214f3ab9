"""The FHIR sandbox's clinic calendar: services, locations, providers and their schedules
(:class:`ClinicCalendar`), and :data:`DEFAULT_CALENDAR`, the clinic the sandbox plays by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time as dtime

# --- the clinic -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ClinicService:
    """A service the clinic schedules.

    Attributes:
        code: the service code (the hub's service id).
        display: its name.
        minutes: the length of one slot.
        requires_referral, requires_authorization: what must be in before booking.
    """

    code: str
    display: str
    minutes: int
    requires_referral: bool = False
    requires_authorization: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ClinicLocation:
    """A location; ``telehealth`` ones are virtual."""

    id: str
    name: str
    line: str = ""
    city: str = "Austin"
    state: str = "TX"
    postal_code: str = ""
    phone: str = "+15125550100"
    telehealth: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ClinicProvider:
    """A provider; ``languages`` are BCP 47 primary tags."""

    id: str
    family: str
    given: str
    prefix: str
    qualification: str
    npi: str
    languages: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ClinicSchedule:
    """One provider's schedule at one location.

    Attributes:
        id: the Schedule id.
        provider, location: ids.
        service: the service code its slots are for.
        weekdays: days it runs (0 = Monday).
        hours: local (start, end) windows each such day; an end before its start runs overnight.
        interpreter: weekday → language an interpreter is booked for on that day.
    """

    id: str
    provider: str
    location: str
    service: str
    weekdays: tuple[int, ...]
    hours: tuple[tuple[dtime, dtime], ...]
    interpreter: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClinicCalendar:
    """The clinic whose calendar the sandbox serves.

    Attributes:
        timezone: the clinic's IANA time zone.
        services, locations, providers, schedules: the clinic.
        weeks: slots are generated for this many weeks from the clock's date.
        busy_share: the share of slots already taken by other patients (seeded).
        booked_out: service code → days from today in which every slot is taken.
        seed: seeds which slots are busy.
    """

    timezone: str
    services: tuple[ClinicService, ...]
    locations: tuple[ClinicLocation, ...]
    providers: tuple[ClinicProvider, ...]
    schedules: tuple[ClinicSchedule, ...]
    weeks: int = 4
    busy_share: float = 0.35
    booked_out: Mapping[str, int] = field(default_factory=dict)
    seed: int = 8

    def service(self, code: str) -> ClinicService:
        return next(s for s in self.services if s.code == code)


def _h(text: str) -> dtime:
    return dtime.fromisoformat(text)


_DAY_HOURS = ((_h("08:00"), _h("12:00")), (_h("13:00"), _h("17:00")))

DEFAULT_CALENDAR = ClinicCalendar(
    timezone="America/Chicago",
    services=(
        ClinicService(code="primary_care", display="Primary care", minutes=30),
        ClinicService(code="physical_therapy", display="Physical therapy", minutes=60, requires_referral=True),
        ClinicService(
            code="sleep_study",
            display="Sleep study",
            minutes=600,
            requires_referral=True,
            requires_authorization=True,
        ),
    ),
    locations=(
        ClinicLocation(id="downtown", name="Downtown", line="200 Congress Ave", postal_code="78701"),
        ClinicLocation(id="eastside", name="Eastside", line="1400 E 7th St", postal_code="78702"),
        ClinicLocation(id="telehealth", name="Telehealth", telehealth=True),
    ),
    providers=(
        ClinicProvider(
            id="okafor",
            family="Okafor",
            given="Adaeze",
            prefix="Dr.",
            qualification="MD",
            npi="1912345670",
            languages=("en",),
        ),
        ClinicProvider(
            id="garcia",
            family="García",
            given="Lucía",
            prefix="Dr.",
            qualification="MD",
            npi="1923456781",
            languages=("es", "en"),
        ),
        ClinicProvider(
            id="chen",
            family="Chen",
            given="Wei",
            prefix="Dr.",
            qualification="MD",
            npi="1934567892",
            languages=("en", "zh"),
        ),
        ClinicProvider(
            id="nguyen",
            family="Nguyen",
            given="Minh",
            prefix="",
            qualification="DPT",
            npi="1945678903",
            languages=("en",),
        ),
        ClinicProvider(
            id="ramirez",
            family="Ramírez",
            given="Sofía",
            prefix="",
            qualification="DPT",
            npi="1956789014",
            languages=("es", "en"),
        ),
        ClinicProvider(
            id="patel",
            family="Patel",
            given="Priya",
            prefix="Dr.",
            qualification="MD",
            npi="1967890125",
            languages=("en",),
        ),
    ),
    schedules=(
        ClinicSchedule(
            id="okafor-downtown",
            provider="okafor",
            location="downtown",
            service="primary_care",
            weekdays=(0, 2, 4),
            hours=_DAY_HOURS,
        ),
        ClinicSchedule(
            id="okafor-telehealth",
            provider="okafor",
            location="telehealth",
            service="primary_care",
            weekdays=(1,),
            hours=((_h("09:00"), _h("12:00")),),
        ),
        ClinicSchedule(
            id="garcia-eastside",
            provider="garcia",
            location="eastside",
            service="primary_care",
            weekdays=(0, 1, 3),
            hours=_DAY_HOURS,
        ),
        ClinicSchedule(
            id="garcia-telehealth",
            provider="garcia",
            location="telehealth",
            service="primary_care",
            weekdays=(4,),
            hours=((_h("13:00"), _h("16:00")),),
        ),
        ClinicSchedule(
            id="chen-downtown",
            provider="chen",
            location="downtown",
            service="primary_care",
            weekdays=(1, 3),
            hours=_DAY_HOURS,
            interpreter={3: "es"},
        ),
        ClinicSchedule(
            id="nguyen-downtown",
            provider="nguyen",
            location="downtown",
            service="physical_therapy",
            weekdays=(0, 2, 3),
            hours=_DAY_HOURS,
        ),
        ClinicSchedule(
            id="ramirez-eastside",
            provider="ramirez",
            location="eastside",
            service="physical_therapy",
            weekdays=(1, 4),
            hours=_DAY_HOURS,
        ),
        ClinicSchedule(
            id="patel-downtown",
            provider="patel",
            location="downtown",
            service="sleep_study",
            weekdays=(1, 3),
            hours=((_h("20:00"), _h("06:00")),),
        ),
    ),
    booked_out={"sleep_study": 14},
)
