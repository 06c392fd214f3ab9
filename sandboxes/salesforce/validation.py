"""The Salesforce sandbox's field rules for writes: deserializing and coercing a body's values,
required, length, picklist, email and reference checks, duplicate rules, person accounts and
derived fields, with Salesforce's error codes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from sandboxes.salesforce.ids import id15, is_person_record_type, is_salesforce_id, normalize_id
from sandboxes.salesforce.objects import CLOSED_TASK_STATUSES, OBJECTS, PERSON_FIELDS, object_for_prefix
from sandboxes.salesforce.schema import FieldSpec, ObjectSpec
from sandboxes.salesforce.state import ApiError, Record, SalesforceState, SfError, _Context, _format_dt, _RecordFailure

_EMAIL: Final = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
_DATETIME_IN: Final = re.compile(
    r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?", re.ASCII
)


# --------------------------------------------------------------------------------------------------
# Module helpers.


def _converted_lead() -> SfError:
    """What Salesforce answers for a write to, or a reference to, a converted lead."""
    return SfError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", ())


def _locked_fields(names: Sequence[str]) -> SfError:
    return SfError(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"Unable to create/update fields: {', '.join(names)}. Please check the security settings of this "
        "field and verify that it is read/write for your profile or permission set.",
        tuple(names),
    )


def _json_token(raw: Any) -> str:
    if isinstance(raw, bool):
        return "VALUE_TRUE" if raw else "VALUE_FALSE"
    if isinstance(raw, (int, float)):
        return "VALUE_NUMBER_INT" if isinstance(raw, int) else "VALUE_NUMBER_FLOAT"
    if isinstance(raw, dict):
        return "START_OBJECT"
    if isinstance(raw, list):
        return "START_ARRAY"
    return "VALUE_STRING"


def _parse_datetime_input(text: str) -> datetime | None:
    """Datetimes Salesforce accepts on write: ISO 8601 with ``Z``, ``+hh:mm`` or ``+hhmm`` (UTC if none)."""
    m = _DATETIME_IN.fullmatch(text)
    if m is None:
        return None
    day, hour, minute, second, fraction, zone = m.groups()
    try:
        value = datetime.fromisoformat(
            f"{day}T{hour or '00'}:{minute or '00'}:{second or '00'}"
            f"{'.' + (fraction or '0')[:6].ljust(6, '0') if fraction else ''}"
        )
    except ValueError:
        return None
    if zone in (None, "Z"):
        return value.replace(tzinfo=UTC)
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return (value - sign * offset).replace(tzinfo=UTC)


class ValidationMixin(SalesforceState):
    """What a write's values must be, checked the way Salesforce checks them."""

    def _select_fields(self, spec: ObjectSpec, raw: str | None) -> tuple[str, ...]:
        if not raw:
            return spec.field_names
        names = []
        for part in raw.split(","):
            name = part.strip()
            if not name:
                continue
            f = spec.field(name)
            if f is None:
                raise ApiError.of(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{name}' on entity '{spec.name}'. If you are attempting to use a custom "
                    "field, be sure to append the '__c' after the custom field name. Please reference your "
                    "WSDL or the describe call for the appropriate names.",
                )
            if f.name not in names:
                names.append(f.name)
        return tuple(names)

    # ------------------------------------------------------------------------------------------
    # Deserialisation: field names and JSON types, checked for the whole request before any write
    # (Salesforce rejects such requests with a top-level 400).

    def _deserialize(self, spec: ObjectSpec, body: Any, *, allow_keys: Iterable[str] = ()) -> dict[str, Any]:
        if not isinstance(body, dict):
            kind = "START_ARRAY" if isinstance(body, list) else "VALUE_STRING"
            raise ApiError.of(
                400,
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of {spec.name} from {kind} value "
                f"{json.dumps(body)[:40]} or request may be missing a required field at "
                "[line:1, column:1]",
            )
        allowed = {k.lower() for k in allow_keys}
        values: dict[str, Any] = {}
        for key, raw in body.items():
            if key == "attributes" or key.lower() in allowed:
                continue
            f = spec.field(key)
            if f is None:
                raise ApiError.of(400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {spec.name}")
            values[f.name] = self._coerce(spec, f, raw)
        return values

    @staticmethod
    def _coerce(spec: ObjectSpec, f: FieldSpec, raw: Any) -> Any:
        def bad(kind: str) -> ApiError:
            shown = json.dumps(raw)[:80]
            return ApiError.of(
                400,
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of {kind} from {_json_token(raw)} value {shown} or request may "
                "be missing a required field at [line:1, column:1]",
            )

        if raw is None:
            return False if f.type == "boolean" else None
        if f.type == "boolean":
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.lower() in {"true", "false"}:
                return raw.lower() == "true"
            raise bad("boolean")
        if f.type in {"double", "int"}:
            if isinstance(raw, (bool, dict, list)):
                raise bad("double" if f.type == "double" else "int")
            try:
                number = float(raw)
            except (TypeError, ValueError):
                raise bad("double" if f.type == "double" else "int") from None
            if f.type == "int":
                if not number.is_integer():
                    raise bad("int")
                return int(number)
            return number
        if f.type == "date":
            if not isinstance(raw, str):
                raise bad("date")
            m = _DATETIME_IN.fullmatch(raw.strip())
            if m is None:
                raise bad("date")
            try:
                return date.fromisoformat(m.group(1)).isoformat()
            except ValueError:
                raise bad("date") from None
        if f.type == "datetime":
            if not isinstance(raw, str):
                raise bad("datetime")
            parsed = _parse_datetime_input(raw.strip())
            if parsed is None:
                raise bad("datetime")
            return _format_dt(parsed)
        if isinstance(raw, (dict, list)):
            raise bad("string")
        if isinstance(raw, bool):
            text = "true" if raw else "false"
        elif isinstance(raw, (int, float)):
            text = str(raw)
        else:
            text = str(raw)
        # Salesforce stores an empty string as null.
        return text if text != "" else None

    # ------------------------------------------------------------------------------------------
    # Record-level validation and writes.

    def _check_fields(self, spec: ObjectSpec, values: Mapping[str, Any], exclude: str | None) -> None:
        for name, value in values.items():
            f = spec.field(name)
            assert f is not None
            if value is None:
                continue
            if (
                f.type in {"string", "email", "phone", "url", "textarea", "picklist", "multipicklist", "combobox"}
                and f.length
                and len(value) > f.length
            ):
                raise _RecordFailure(
                    SfError(
                        "STRING_TOO_LONG",
                        f"{f.label}: data value too large: {value} (max length={f.length})",
                        (f.name,),
                    )
                )
            if f.type == "email" and not _EMAIL.match(value):
                raise _RecordFailure(
                    SfError("INVALID_EMAIL_ADDRESS", f"{f.label}: invalid email address: {value}", (f.name,))
                )
            if f.restricted:
                allowed = f.active_values()
                parts = value.split(";") if f.type == "multipicklist" else [value]
                for part in parts:
                    if part not in allowed:
                        raise _RecordFailure(
                            SfError(
                                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                                f"{f.label}: bad value for restricted picklist field: {part}",
                                (f.name,),
                            )
                        )
            if f.type == "reference":
                self._check_reference(f, value)
            if f.unique:
                clash = [rid for rid in self._store.lookup(spec.name, f.name, value) if rid != exclude]
                if clash:
                    raise _RecordFailure(
                        SfError(
                            "DUPLICATE_VALUE",
                            f"duplicate value found: {f.name} duplicates value on record with id: {id15(clash[0])}",
                            (),
                        )
                    )

    def _check_reference(self, f: FieldSpec, value: str) -> None:
        if not is_salesforce_id(value):
            raise _RecordFailure(SfError("MALFORMED_ID", f"{f.label}: id value of incorrect type: {value}", (f.name,)))
        target_type = object_for_prefix(value[:3])
        if target_type not in f.reference_to:
            raise _RecordFailure(
                SfError("FIELD_INTEGRITY_EXCEPTION", f"{f.label}: id value of incorrect type: {value}", (f.name,))
            )
        target = self._store.live(normalize_id(value))
        if target is None:
            raise _RecordFailure(SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ()))
        if target_type == "Lead" and target.get("IsConverted"):
            raise _RecordFailure(_converted_lead())

    def _check_duplicates(self, spec: ObjectSpec, record: Record, ctx: _Context) -> None:
        if not self.duplicate_rule or ctx.allow_duplicates or spec.name not in {"Lead", "Contact"}:
            return
        email = record.get("Email")
        matches = [rid for rid in self._store.lookup(spec.name, "Email", email) if rid != record["Id"]]
        if not matches:
            return
        rule = f"Standard_{spec.name}_Duplicate_Rule"
        duplicate_result = {
            "allowSave": True,
            "duplicateRule": rule,
            "duplicateRuleEntityType": spec.name,
            "errorMessage": "Use one of these records?",
            "matchResults": [
                {
                    "entityType": spec.name,
                    "errors": [],
                    "matchEngine": "ExactMatchEngine",
                    "matchRecords": [
                        {
                            "additionalInformation": [],
                            "fieldDiffs": [],
                            "matchConfidence": 100.0,
                            "record": {
                                "attributes": {
                                    "type": spec.name,
                                    "url": self._url(ctx.version, spec.name, rid),
                                },
                                "Id": rid,
                            },
                        }
                        for rid in matches
                    ],
                    "rule": f"Standard_{spec.name}_Match_Rule_v1_0",
                    "size": len(matches),
                    "success": True,
                }
            ],
        }
        raise _RecordFailure(
            SfError("DUPLICATES_DETECTED", "Use one of these records?", (), {"duplicateResult": duplicate_result})
        )

    @staticmethod
    def _check_account(record: Record, values: Mapping[str, Any], current: Record | None = None) -> None:
        """Person Accounts: the record type decides. A person account needs a LastName and gets
        its Name composed; a business account needs a Name and refuses person fields; the record
        type of an existing account cannot switch between the two (Salesforce converts only by
        a separate, explicit process)."""
        person = is_person_record_type(record.get("RecordTypeId"))
        if current is not None and person != bool(current.get("IsPersonAccount")):
            raise _RecordFailure(
                SfError(
                    "INVALID_PERSON_ACCOUNT_OPERATION",
                    "You can't change the record type between business and person accounts here.",
                    ("RecordTypeId",),
                )
            )
        if person:
            if not record.get("LastName"):
                raise _RecordFailure(
                    SfError("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", ("LastName",))
                )
            if values.get("Name") is not None:
                raise _RecordFailure(_locked_fields(["Name"]))
            return
        person_fields = sorted(name for name in values if name in PERSON_FIELDS and values[name] not in (None, False))
        if person_fields:
            raise _RecordFailure(_locked_fields(person_fields))
        if not record.get("Name"):
            raise _RecordFailure(SfError("REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]", ("Name",)))

    def _person_contact(self, account: Record, ctx: _Context) -> str:
        """The Contact Salesforce makes behind a person account (its ``PersonContactId``)."""
        spec = OBJECTS["Contact"]
        contact = self._blank(spec, self._next_id(spec.key_prefix))
        contact.update(
            {
                "AccountId": account["Id"], "FirstName": account.get("FirstName"), "LastName": account.get("LastName"),
                "Name": account.get("Name"), "Email": account.get("PersonEmail"), "OwnerId": ctx.user_id,
                "HasOptedOutOfEmail": False, "DoNotCall": False, "CreatedDate": ctx.stamp, "CreatedById": ctx.user_id,
                "LastModifiedDate": ctx.stamp, "LastModifiedById": ctx.user_id, "SystemModstamp": ctx.stamp,
            }
        )  # fmt: skip
        self._store.put("Contact", contact)
        return str(contact["Id"])

    @staticmethod
    def _derive(spec: ObjectSpec, record: Record, previous: Record | None, ctx: _Context) -> None:
        if spec.name == "Account":
            person = is_person_record_type(record.get("RecordTypeId"))
            record["IsPersonAccount"] = person
            if person:
                parts = [record.get("FirstName"), record.get("LastName")]
                record["Name"] = " ".join(p for p in parts if p) or None
        if spec.name_expression:
            parts = [record.get(name) for name in spec.name_expression]
            record["Name"] = " ".join(p for p in parts if p) or None
        if spec.name == "Task":
            closed = record.get("Status") in CLOSED_TASK_STATUSES
            was_closed = bool(previous and previous.get("IsClosed"))
            record["IsClosed"] = closed
            if closed and not was_closed:
                record["CompletedDateTime"] = ctx.stamp
            elif not closed:
                record["CompletedDateTime"] = None
