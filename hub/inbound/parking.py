"""Why an inbound event was parked, said so a person can act on it — without showing patient data.

Acknowledging a webhook is a promise that the inquiry will be seen: an event is done only when it
changed something (a lead, an inquiry touch, a consent, a booking) or is a known no-op. Anything
else is parked with a reason code the Sync errors page groups by:

- ``not_an_object``: the body is JSON but not an object (``[]``, ``42``, ``"text"``);
- ``empty_object``: ``{}``;
- ``unmapped_fields``: no field of the payload is one the source's mapping reads — the message
  lists the payload's unread fields (``unmapped_fields: firstName, phoneNumber``);
- ``no_contact_fields``: the mapping found no phone or email, and no id of a lead the hub knows (a
  Typeform whose field references were renamed at the vendor);
- ``unmappable`` / ``invalid_inquiry`` / ``invalid_contact``: a field was found but its value is
  unusable (the field is named, never the value).

For the page, :func:`payload_shape` shows a payload's keys and value types with the values masked
(form structure such as Typeform's field ``ref`` and ``type`` is shown: it names fields, not people),
and :func:`expected_fields` says where the mapping looks for the patient's name, phone and email.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mapping.spec import FieldMapping

__all__ = [
    "CONTACT_TARGETS",
    "NO_OP_EVENTS",
    "expected_fields",
    "payload_shape",
    "unread_fields",
]

#: Event types that carry no inquiry and change nothing: done without a lead, by source type.
NO_OP_EVENTS: Mapping[str, frozenset[str]] = {
    "calcom": frozenset({"MEETING_STARTED", "MEETING_ENDED", "RECORDING_READY", "RECORDING_TRANSCRIPTION_GENERATED",
                         "INSTANT_MEETING", "BOOKING_PAYMENT_INITIATED", "BOOKING_PAID", "PING"}),
    "calendly": frozenset({"invitee_no_show.deleted"}),
}  # fmt: skip
#: The inquiry fields a coordinator needs to call the patient back, in the order shown.
CONTACT_TARGETS = ("first_name", "last_name", "phone", "email")
#: Keys whose (short, string) values are form structure, not patient data: shown as they are.
_STRUCTURAL = frozenset({"ref", "type", "id", "event_type", "triggerEvent", "event", "question", "form_id"})
#: Envelope keys of the senders (ids and types of the delivery, not the form's fields).
_ENVELOPE = frozenset({"event_id", "event_type", "triggerEvent", "createdAt", "created_at", "event", "created_by",
                       "submissionID", "formID"})  # fmt: skip
_SELECTOR = re.compile(r"\[(\w+)=\"?([^\]\"]+)\"?\]")


def payload_shape(payload: Any, *, depth: int = 6, items: int = 12) -> Any:
    """``payload`` with every value replaced by its JSON type (``"string"``, ``"number"`` …): the
    keys and nesting are kept, lists show their first ``items`` elements and their length."""
    return _shape(payload, None, depth, items)


def _shape(value: Any, key: str | None, depth: int, items: int) -> Any:
    if isinstance(value, Mapping):
        if depth <= 0:
            return "object"
        return {str(k): _shape(v, str(k), depth - 1, items) for k, v in list(value.items())[:60]}
    if isinstance(value, list):
        if depth <= 0:
            return f"array of {len(value)}"
        shown = [_shape(v, None, depth - 1, items) for v in value[:items]]
        return shown + ([f"… {len(value) - items} more"] if len(value) > items else [])
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    if key in _STRUCTURAL and isinstance(value, str) and len(value) <= 80:
        return value
    return "string"


def _read_paths(mapping: FieldMapping) -> list[str]:
    paths: list[str] = []
    for rule in mapping.rules:
        paths += list(rule.sources)
        for step in rule.transforms:
            for name in ("paths", "first_path"):
                extra = step.params.get(name)
                if isinstance(extra, str):
                    paths.append(extra)
                elif isinstance(extra, list | tuple):
                    paths += [str(p) for p in extra]
    return paths


def unread_fields(mapping: FieldMapping, payload: Any) -> list[str]:
    """The payload's fields no rule of ``mapping`` reads: its top-level keys no path starts with,
    and, in lists of answers, the references (``[ref=…]``, ``[question=…]``) no path selects."""
    if not isinstance(payload, Mapping):
        return []
    paths = _read_paths(mapping)
    tops = {re.split(r"[.\[]", p, maxsplit=1)[0] for p in paths}
    selected = {(m.group(1), m.group(2)) for p in paths for m in _SELECTOR.finditer(p)}
    unread = [str(k) for k in payload if str(k) not in tops and str(k) not in _ENVELOPE]
    selector_keys = {key for key, _ in selected}
    for top in payload:
        if str(top) in tops:
            unread += _unselected(payload[top], str(top), selector_keys, selected)
    return unread


def _unselected(value: Any, path: str, keys: set[str], selected: set[tuple[str, str]]) -> list[str]:
    """List items identified by a selector key (``ref``, ``question``) that no rule selects."""
    found: list[str] = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            found += _unselected(v, f"{path}.{k}", keys, selected)
    elif isinstance(value, list):
        for item in value:
            if not isinstance(item, Mapping):
                continue
            ident = _identity(item, keys)
            if ident is not None and ident not in selected:
                found.append(f"{path}[{ident[0]}={ident[1]}]")
    return found


def _identity(item: Mapping[str, Any], keys: set[str]) -> tuple[str, str] | None:
    for key in keys:
        if isinstance(item.get(key), str):
            return key, str(item[key])
        field = item.get("field")
        if isinstance(field, Mapping) and isinstance(field.get(key), str):
            return key, str(field[key])
    return None


def expected_fields(mapping: FieldMapping) -> list[tuple[str, tuple[str, ...]]]:
    """Where ``mapping`` looks for each contact field: ``[("phone", ("form_response.answers[ref=
    phone_number].phone_number",)), …]``."""
    found: list[tuple[str, tuple[str, ...]]] = []
    for target in CONTACT_TARGETS:
        for rule in mapping.rules:
            if rule.target == target:
                found.append((target, rule.sources))
                break
    return found
