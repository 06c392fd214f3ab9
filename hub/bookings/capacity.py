"""Real availability drives the next action: the capacity job reads free slots from the scheduling
system (FHIR R4) into the store every few minutes; intake refines each new lead's next action with
them (``nurture.capacity.apply_capacity``: offer times, waitlist or another location, collect
insurance or referral documents first, Spanish-speaking providers or interpreter slots); and the
dashboard shows a summary per service, location and language.

Availability is read ahead, never while an inquiry is being committed: a slow EHR must not slow the
first response, and a missing one leaves the rules as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.settings.config import HubConfig, flatten_errors
from hub.store import Store
from hub.store.models import OpeningRow
from nurture.capacity import (
    CapacityDecision,
    CapacityOutcome,
    CapacityRow,
    Clearance,
    Opening,
    apply_capacity,
    summarize_capacity,
)
from nurture.errors import ConfigError
from nurture.lead import Lead, NextAction

log = logging.getLogger(__name__)

__all__ = [
    "CapacityRefiner",
    "FhirConfig",
    "capacity_refiner",
    "capacity_summary",
    "load_fhir_config",
    "refresh_openings",
]

#: How far ahead the capacity job reads.
HORIZON = timedelta(days=14)


class _FhirSchema(Schema):
    enabled = fields.Boolean(load_default=False)
    base_url = fields.Url(load_default="https://ehr.example.org/fhir/r4", require_tld=False)
    client_id = fields.String(load_default="nurturehub")
    token_url = fields.String(load_default=None, allow_none=True)
    auth_method = fields.String(
        load_default="private_key_jwt",
        validate=validate.OneOf(["private_key_jwt", "client_secret_basic", "client_secret_post"]),
    )
    key_id = fields.String(load_default="")
    credential_env = fields.String(load_default="NURTUREHUB_FHIR_CREDENTIAL")
    ca_bundle = fields.String(load_default="")
    refresh_minutes = fields.Integer(load_default=15, validate=validate.Range(min=1, max=1440))
    bookings_minutes = fields.Integer(load_default=5, validate=validate.Range(min=1, max=1440))
    profile = fields.String(load_default="auto", validate=validate.OneOf(["auto", "slot", "argonaut", "oracle"]))
    practitioners = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class FhirConfig:
    """The ``[scheduling.fhir]`` section: where the EHR's scheduling API is and how to sign in.

    Attributes:
        enabled: read availability from it.
        options: the validated keys (base_url, client_id, token_url, auth_method, key_id, ca_bundle).
        credential_env: the environment variable holding the private key (PEM) or client secret.
        refresh: how often the capacity job reads availability.
        bookings: how often the bookings job reads changed appointments (booked, cancelled,
            no-show, kept).
    """

    enabled: bool
    options: Mapping[str, Any]
    credential_env: str
    refresh: timedelta
    bookings: timedelta = timedelta(minutes=5)


def load_fhir_config(config: HubConfig) -> FhirConfig:
    raw = dict(config.raw.get("scheduling", {}).get("fhir", {}))
    try:
        data = _FhirSchema().load(raw)
    except ValidationError as exc:
        raise ConfigError([f"scheduling.fhir.{p}" for p in flatten_errors(exc.messages)]) from None
    return FhirConfig(
        enabled=data["enabled"],
        options=data,
        credential_env=data["credential_env"],
        refresh=timedelta(minutes=data["refresh_minutes"]),
        bookings=timedelta(minutes=data["bookings_minutes"]),
    )


def build_fhir(fhir: FhirConfig, environ: Mapping[str, str]) -> Any:
    """The FHIR scheduling connector, or None when it is not enabled."""
    if not fhir.enabled:
        return None
    import requests

    from connectors.scheduling.fhir import FhirScheduling, FhirSettings, SmartBackendTokens

    options = fhir.options
    credential = environ.get(fhir.credential_env, "")
    if not credential:
        raise ConfigError([f"scheduling.fhir.credential_env: {fhir.credential_env} is not set"])
    settings = FhirSettings(
        base_url=str(options["base_url"]).rstrip("/"),
        client_id=str(options["client_id"]),
        token_url=options["token_url"],
        auth_method=str(options["auth_method"]),
        key_id=str(options["key_id"]),
        profile=str(options["profile"]),
        practitioners=tuple(options["practitioners"]),
    )
    session = requests.Session()
    if options["ca_bundle"]:
        session.verify, session.trust_env = str(options["ca_bundle"]), False
    return FhirScheduling(settings, SmartBackendTokens(settings, credential, session=session), session=session)


def refresh_openings(store: Store, connector: Any, *, now: datetime) -> int:
    """Read every free slot of the next two weeks and replace the stored ones. Returns how many."""
    from connectors.scheduling import AvailabilityQuery

    openings = [slot.opening() for slot in connector.find_slots(AvailabilityQuery(start=now, end=now + HORIZON))]
    with store.tx() as session:
        session.execute(delete(OpeningRow))
        session.add_all(
            OpeningRow(
                ref=o.ref,
                service=o.service,
                location=o.location,
                start_at=o.start,
                end_at=o.end,
                provider=o.provider,
                languages=sorted(o.languages),
                interpreter_languages=sorted(o.interpreter_languages),
                telehealth=o.telehealth,
                read_at=now,
            )
            for o in openings
        )
    log.info("capacity: %d openings in the next %d days", len(openings), HORIZON.days)
    return len(openings)


def stored_openings(session: Session, *, service: str | None = None, after: datetime) -> list[Opening]:
    query = select(OpeningRow).where(OpeningRow.start_at >= after).order_by(OpeningRow.start_at)
    if service is not None:
        query = query.where(OpeningRow.service == service)
    return [
        Opening(
            ref=r.ref,
            start=r.start_at,
            end=r.end_at,
            service=r.service,
            location=r.location,
            provider=r.provider,
            languages=frozenset(r.languages),
            interpreter_languages=frozenset(r.interpreter_languages),
            telehealth=r.telehealth,
        )
        for r in session.scalars(query)
    ]


def has_openings_data(session: Session) -> bool:
    return session.scalar(select(OpeningRow.ref).limit(1)) is not None


def decide_capacity(
    session: Session, config: HubConfig, lead: Lead, proposed: NextAction, clearance: Clearance, *, now: datetime
) -> CapacityDecision | None:
    """Refine ``proposed`` for ``lead`` with what the hub knows: the service's prerequisites always
    (no slots before referral documents or an authorization, availability data or not), and the
    stored availability when a scheduling system feeds it. None: nothing to refine."""
    service = config.services.get(lead.service or "")
    if service is None:
        return None
    info = service.info
    if not has_openings_data(session) and not clearance.outstanding(info):
        return None  # no availability to go by and nothing outstanding: the rules' action stands
    # Without availability data only the prerequisite branches can apply (they come first).
    return apply_capacity(
        lead,
        proposed,
        service=info,
        openings=stored_openings(session, service=service.id, after=now),
        clearance=clearance,
        settings=config.settings,
        now=now,
    )


class CapacityRefiner:
    """Refines new leads' next actions (see :func:`decide_capacity`) and remembers the
    first-response script each decision chose (offer times, another location, the waitlist,
    referral or authorization first), so the Day-0 call follows it. One per transaction."""

    def __init__(self, session: Session, config: HubConfig, *, now: datetime) -> None:
        self.session, self.config, self.now = session, config, now
        self._templates: dict[str, str] = {}

    def __call__(self, lead: Lead, proposed: NextAction) -> NextAction:
        decision = decide_capacity(self.session, self.config, lead, proposed, Clearance(), now=self.now)
        if decision is None:
            return proposed
        if decision.outcome is not CapacityOutcome.NOT_APPLICABLE and decision.template:
            self._templates[lead.id] = decision.template
        return decision.next_action

    def first_template(self, lead_id: str) -> str | None:
        return self._templates.get(lead_id)


def capacity_refiner(session: Session, config: HubConfig, *, now: datetime) -> CapacityRefiner:
    """The refiner for new leads."""
    return CapacityRefiner(session, config, now=now)


def capacity_summary(
    session: Session, config: HubConfig, *, now: datetime, languages: Sequence[str] = ()
) -> list[CapacityRow]:
    """Next available, and openings in 7 and 14 days, per service, location and language."""
    langs = list(languages) or sorted({config.settings.clinic_language, *config.settings.routing.language_queues})
    return list(
        summarize_capacity(
            stored_openings(session, after=now),
            now=now,
            services=sorted(config.services),
            locations=sorted(config.locations),
            languages=langs,
        )
    )
