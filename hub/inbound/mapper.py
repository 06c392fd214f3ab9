"""From a source's verified payload to the hub's inquiry JSON, through the source's field mapping.

``mapping = "default"`` uses the built-in mapping of the source's type (``mapping.defaults``);
Standard Webhooks senders post the hub's own inquiry JSON, so theirs is the identity. HubSpot
webhooks are CRM-side events, not inquiries: the inbox asks for a HubSpot pull, which the
scheduler's ``crm_events`` job runs within about 15 seconds (the pull reads the change).
"""

from __future__ import annotations

from typing import Any

from hub.inbound.parking import NO_OP_EVENTS, unread_fields
from hub.settings.config import Source
from mapping.apply import apply
from mapping.defaults import default_source_mapping
from mapping.spec import FieldMapping
from nurture.errors import SkipRecord

__all__ = ["map_event", "source_mapping"]


def source_mapping(source: Source) -> FieldMapping:
    """The mapping a source uses."""
    if source.mapping != "default":
        raise SkipRecord(f"mapping {source.mapping!r} is not available", code="unknown_mapping")
    return default_source_mapping(source.type)


def map_event(source: Source, payload: Any, mapping: FieldMapping | None = None) -> dict[str, Any] | None:
    """The inquiry dict for one event, or None for an event that carries no inquiry and changes
    nothing (a HubSpot change notice: the pull reads it; a Cal.com "meeting ended" …).

    Args:
        source: the event's source.
        payload: the verified payload.
        mapping: the mapping in force (the admin's stored version); the built-in default if None.

    Raises:
        SkipRecord: the payload cannot be mapped (``not_an_object``, ``empty_object``,
            ``unmapped_fields: …``, ``unmappable``); the message names every field at fault.
    """
    if source.type == "hubspot_v3":
        return None
    if not isinstance(payload, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(payload), "a number")
        raise SkipRecord(f"the body is {kind}, not a JSON object", code="not_an_object")
    if not payload:
        raise SkipRecord("the body is an empty JSON object", code="empty_object")
    event = payload.get("triggerEvent") or payload.get("event")
    if isinstance(event, str) and event in NO_OP_EVENTS.get(source.type, frozenset()):
        return None
    if source.type == "jotform" and isinstance(payload.get("rawRequest"), dict):
        # Jotform's answers live in rawRequest; the submission's id comes with the outer form.
        payload = {
            **payload["rawRequest"],
            "submissionID": payload.get("submissionID"),
            "formID": payload.get("formID"),
        }
    used = mapping or source_mapping(source)
    result = apply(used, payload)
    if result.errors:
        problems = "; ".join(f"{e.target}: {e.message}" for e in result.errors)
        raise SkipRecord(problems, field=result.errors[0].target, code="unmappable")
    record = result.record()
    if not (record.get("phone") or record.get("email") or record.get("external_ids")):
        unread = unread_fields(used, payload)
        if unread:
            raise SkipRecord(", ".join(unread), field=unread[0], code="unmapped_fields")
        raise SkipRecord("the mapping found no phone, email or id in the payload", code="no_contact_fields")
    return record
