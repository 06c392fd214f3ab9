"""The hub's own JSON shape for an inquiry — what `nurturehub leads add --file` reads and what the
generic signed webhook accepts — validated with marshmallow, every problem named by its field.

Example::

    {"channel": "website_form", "first_name": "Ana", "last_name": "García",
     "phone": "(512) 555-0142", "email": "ana@example.org", "language": "es",
     "text": "Quiero una cita", "consent": {"sms": {"granted": true, "wording": "Text me ..."}}}
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from hub.settings.config import HubConfig, flatten_errors
from nurture.clock import zone
from nurture.consent import ConsentEntry
from nurture.errors import SkipRecord
from nurture.inquiry import Inquiry
from nurture.vocab import Channel, ConsentState, ContactChannel, ContactWindow, Intent, Need

__all__ = ["InquirySchema", "inquiry_from_json"]


def _aware(value: datetime) -> None:
    if value.tzinfo is None:
        raise ValidationError("must include a UTC offset, e.g. 2026-11-26T15:00:00-06:00")


def _valid_zone(name: str) -> None:
    try:
        zone(name)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


class ConsentStatementSchema(Schema):
    granted = fields.Boolean(required=True)
    wording = fields.String(load_default="", validate=validate.Length(max=2000))
    source = fields.String(load_default="", validate=validate.Length(max=120))


class InquirySchema(Schema):
    channel = fields.Enum(Channel, by_value=True, load_default=Channel.OTHER)
    first_name = fields.String(load_default="", validate=validate.Length(max=200))
    last_name = fields.String(load_default="", validate=validate.Length(max=200))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    email = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=254))
    language = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^[a-z]{2}$", error="must be like 'en' or 'es'"),
    )
    contact_window = fields.Enum(ContactWindow, by_value=True, load_default=None, allow_none=True)
    callback_at = fields.AwareDateTime(load_default=None, allow_none=True, validate=_aware)
    timezone = fields.String(load_default=None, allow_none=True, validate=_valid_zone)
    region = fields.String(
        load_default=None, allow_none=True, validate=validate.Regexp(r"^[A-Z]{2}$", error="must be like 'TX'")
    )
    location = fields.String(load_default=None, allow_none=True)
    service = fields.String(load_default=None, allow_none=True)
    campaign = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    referral_source = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    text = fields.String(load_default="", validate=validate.Length(max=10000))
    reply_via = fields.Enum(ContactChannel, by_value=True, load_default=None, allow_none=True)
    intent = fields.Enum(Intent, by_value=True, load_default=None, allow_none=True)
    needs = fields.List(fields.Enum(Need, by_value=True), load_default=list)
    consent = fields.Dict(
        keys=fields.Enum(ContactChannel, by_value=True),
        values=fields.Nested(ConsentStatementSchema),
        load_default=dict,
    )
    external_ids = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=64)),
        values=fields.String(validate=validate.Length(min=1, max=200)),
        load_default=dict,
    )

    @validates_schema
    def _reachable(self, data: Mapping[str, Any], **_: Any) -> None:
        if not (data.get("phone") or data.get("email") or data.get("external_ids")):
            raise ValidationError("give a phone, an email or an external id to follow up on", "phone")


#: Built once: a schema holds no state between loads, and building one costs more than a load.
_SCHEMA = InquirySchema()


def _by_id_or_name(value: str | None, names: Mapping[str, str]) -> str | None:
    """The id ``value`` stands for: itself, or the id of the entry of that name (any case)."""
    if not value or value in names:
        return value
    wanted = " ".join(value.split()).casefold()
    return next((key for key, name in names.items() if name.casefold() == wanted), value)


def inquiry_from_json(
    data: Mapping[str, Any], *, config: HubConfig, received_at: datetime, source: str = "json"
) -> Inquiry:
    """Validate ``data`` and build an :class:`Inquiry`.

    Raises:
        SkipRecord: with every problem, each naming its field (values are never echoed).
    """
    try:
        loaded = _SCHEMA.load(data)
    except ValidationError as exc:
        problems = flatten_errors(exc.messages)
        raise SkipRecord("; ".join(problems), field=problems[0].split(":", 1)[0], code="invalid_inquiry") from None
    problems = []
    # Forms send what the patient picked: an id, or the name the clinic gave it ("Physical therapy").
    loaded["location"] = _by_id_or_name(loaded["location"], {k: v.name for k, v in config.locations.items()})
    loaded["service"] = _by_id_or_name(loaded["service"], {k: v.name for k, v in config.services.items()})
    if loaded["location"] and loaded["location"] not in config.locations:
        problems.append(f"location: unknown location id; known: {', '.join(sorted(config.locations))}")
    if loaded["service"] and loaded["service"] not in config.services:
        problems.append(f"service: unknown service id; known: {', '.join(sorted(config.services))}")
    if problems:
        raise SkipRecord("; ".join(problems), field=problems[0].split(":", 1)[0], code="invalid_inquiry")
    consents = tuple(
        ConsentEntry(
            channel=channel,
            state=ConsentState.GRANTED if statement["granted"] else ConsentState.DENIED,
            at=received_at,
            source=statement["source"] or f"{source}:consent.{channel}",
            wording=statement["wording"],
        )
        for channel, statement in loaded["consent"].items()
    )
    try:
        return Inquiry(
            channel=loaded["channel"],
            received_at=received_at,
            first_name=loaded["first_name"],
            last_name=loaded["last_name"],
            phone=loaded["phone"],
            email=loaded["email"],
            preferred_language=loaded["language"],
            contact_window=loaded["contact_window"],
            requested_callback_at=loaded["callback_at"],
            timezone=loaded["timezone"],
            region=loaded["region"],
            location=loaded["location"],
            service=loaded["service"],
            campaign=loaded["campaign"],
            referral_source=loaded["referral_source"],
            text=loaded["text"],
            intent_hint=loaded["intent"],
            needs_hint=frozenset(loaded["needs"]),
            consents=consents,
            external_ids=loaded["external_ids"],
            reply_via=loaded["reply_via"],
        )
    except ValueError as exc:
        raise SkipRecord(str(exc), code="invalid_inquiry") from None
