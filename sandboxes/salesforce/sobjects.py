"""The Salesforce sandbox's sObject rows: create, read, update, delete and upsert by external id
(``/sobjects/<type>/...``), and lead conversion as staff do it in Salesforce.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Request

from sandboxes.salesforce.describe import sobject_root_info
from sandboxes.salesforce.ids import id15, is_salesforce_id, normalize_id, record_type_id
from sandboxes.salesforce.objects import LEAD_STATUSES, OBJECTS
from sandboxes.salesforce.schema import API_VERSION, FieldSpec, ObjectSpec
from sandboxes.salesforce.state import ApiError, Record, SfError, _Context, _not_found, _RecordFailure, logger
from sandboxes.salesforce.validation import ValidationMixin, _converted_lead, _locked_fields


class SObjectsMixin(ValidationMixin):
    """Single-record CRUD and upsert, and :meth:`convert_lead`."""

    def convert_lead(
        self, lead_id: str, *, person_account: bool = False, status: str = "Closed - Converted"
    ) -> tuple[str, str]:
        """Convert a lead the way staff do in Salesforce (Lead Convert; there is no REST resource
        for it): a Contact and an Account — or one Person Account and its person contact — are
        made from the lead, the lead becomes read-only with ``IsConverted``, ``ConvertedContactId``,
        ``ConvertedAccountId``, ``ConvertedDate`` and a converted ``Status``, and the lead's tasks
        move to the contact (``WhoId``) and account (``WhatId``).

        Returns:
            (contact id, account id); for a person account the contact is its ``PersonContactId``.

        Raises:
            ValueError: no such lead, already converted, or ``status`` is not a converted status.
        """
        converted = {value for value, is_converted, _ in LEAD_STATUSES if is_converted}
        if status not in converted:
            raise ValueError(f"{status!r} is not a converted lead status")
        with self._state.lock:
            lead = self._store.live(normalize_id(lead_id)) if is_salesforce_id(lead_id) else None
            if lead is None or self._store.type_of.get(lead["Id"]) != "Lead":
                raise ValueError(f"no lead {lead_id}")
            if lead.get("IsConverted"):
                raise ValueError(f"lead {lead_id} is converted already")
            ctx = _Context(version=API_VERSION, stamp=self._stamp(), user_id=self.user_id, allow_duplicates=True)
            names = {"FirstName": lead.get("FirstName"), "LastName": lead.get("LastName")}
            try:
                if person_account:
                    account_id = self._create_one(
                        OBJECTS["Account"],
                        {**names, "RecordTypeId": record_type_id("PersonAccount"), "PersonEmail": lead.get("Email"),
                         "PersonMobilePhone": lead.get("MobilePhone"), "Phone": lead.get("Phone")},
                        ctx,
                    )  # fmt: skip
                    account = self._store.live(account_id)
                    assert account is not None
                    contact_id = str(account["PersonContactId"])
                else:
                    account_id = self._create_one(OBJECTS["Account"], {"Name": lead.get("Company") or "Unknown"}, ctx)
                    contact_id = self._create_one(
                        OBJECTS["Contact"],
                        {**names, "AccountId": account_id, "Email": lead.get("Email"), "Phone": lead.get("Phone"),
                         "MobilePhone": lead.get("MobilePhone")},
                        ctx,
                    )  # fmt: skip
            except _RecordFailure as failure:
                raise ValueError(f"lead {lead_id} cannot be converted: {failure.error.status_code}") from None
            stamp = ctx.stamp
            self._store.put(
                "Lead",
                {
                    **lead, "IsConverted": True, "ConvertedAccountId": account_id, "ConvertedContactId": contact_id,
                    "ConvertedDate": stamp[:10], "Status": status, "LastModifiedDate": stamp,
                    "LastModifiedById": self.user_id, "SystemModstamp": stamp,
                },
            )  # fmt: skip
            for task in list(self._store.records("Task")):
                if task.get("WhoId") == lead["Id"] and not task.get("IsDeleted"):
                    self._store.put(
                        "Task",
                        {
                            **task, "WhoId": contact_id, "WhatId": task.get("WhatId") or account_id,
                            "LastModifiedDate": stamp, "SystemModstamp": stamp,
                        },
                    )  # fmt: skip
            with self._state.tx() as conn:
                self._store.flush(conn)
                self._save_meta(conn)
        return contact_id, account_id

    def _resolve_record_id(self, spec: ObjectSpec, raw: str) -> Record:
        """The live record a URL names, or Salesforce's 404."""
        if not is_salesforce_id(raw):
            raise _not_found(f"Provided external ID field does not exist or is not accessible: {raw}")
        rid = normalize_id(raw)
        record = self._store.live(rid)
        if record is None or self._store.type_of.get(rid) != spec.name:
            raise _not_found()
        return record

    def _create_one(self, spec: ObjectSpec, values: Mapping[str, Any], ctx: _Context) -> str:
        if not spec.createable:
            raise _RecordFailure(
                SfError("INVALID_TYPE_FOR_OPERATION", f"entity type cannot be inserted: {spec.name}", ())
            )
        if "Id" in values:
            raise _RecordFailure(
                SfError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    "Record ID: cannot specify Id in an insert call",
                    ("Id",),
                )
            )
        locked = [name for name in values if not spec.require(name).createable]
        if locked:
            raise _RecordFailure(_locked_fields(locked))
        record = self._blank(spec, "")
        for f in spec.fields:
            if f.fills_on_create:
                default = f.picklist_default if f.picklist else f.default
                if f.name == "OwnerId":
                    default = ctx.user_id
                record[f.name] = default
        record.update({k: v for k, v in values.items() if v is not None or not spec.require(k).fills_on_create})
        if spec.name == "Account":
            self._check_account(record, values)
        missing = [f.name for f in spec.fields if f.required_on_create and record.get(f.name) is None]
        if missing:
            raise _RecordFailure(
                SfError(
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]",
                    tuple(missing),
                )
            )
        self._check_fields(spec, {k: record[k] for k in values}, exclude=None)
        record["Id"] = self._next_id(spec.key_prefix)
        self._check_duplicates(spec, record, ctx)
        record.update(
            {
                "CreatedDate": ctx.stamp,
                "CreatedById": ctx.user_id,
                "LastModifiedDate": ctx.stamp,
                "LastModifiedById": ctx.user_id,
                "SystemModstamp": ctx.stamp,
            }
        )
        self._derive(spec, record, None, ctx)
        if record.get("IsPersonAccount"):
            record["PersonContactId"] = self._person_contact(record, ctx)
        self._store.put(spec.name, record)
        return str(record["Id"])

    def _update_one(self, spec: ObjectSpec, current: Record, values: Mapping[str, Any], ctx: _Context) -> str:
        if not spec.updateable:
            raise _RecordFailure(
                SfError("INVALID_TYPE_FOR_OPERATION", f"entity type cannot be updated: {spec.name}", ())
            )
        values = {k: v for k, v in values.items() if k != "Id"}
        if spec.name == "Lead" and current.get("IsConverted"):
            raise _RecordFailure(_converted_lead())
        locked = [name for name in values if not spec.require(name).updateable]
        if locked:
            raise _RecordFailure(_locked_fields(locked))
        cleared = [name for name, v in values.items() if v is None and not spec.require(name).nillable]
        if cleared:
            raise _RecordFailure(
                SfError(
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(cleared)}]",
                    tuple(cleared),
                )
            )
        self._check_fields(spec, values, exclude=current["Id"])
        record = dict(current)
        record.update(values)
        if spec.name == "Account":
            self._check_account(record, values, current)
        if "Email" in values and values["Email"] != current.get("Email"):
            self._check_duplicates(spec, record, ctx)
        record.update({"LastModifiedDate": ctx.stamp, "LastModifiedById": ctx.user_id, "SystemModstamp": ctx.stamp})
        self._derive(spec, record, current, ctx)
        self._store.put(spec.name, record)
        return str(record["Id"])

    def _delete_one(self, spec: ObjectSpec, current: Record, ctx: _Context) -> None:
        if not spec.deletable:
            raise _RecordFailure(
                SfError("INVALID_TYPE_FOR_OPERATION", f"entity type cannot be deleted: {spec.name}", ())
            )
        record = dict(current)
        record.update(
            {
                "IsDeleted": True,
                "SystemModstamp": ctx.stamp,
                "LastModifiedDate": ctx.stamp,
                "LastModifiedById": ctx.user_id,
            }
        )
        self._store.put(spec.name, record)

    def _match_external(self, spec: ObjectSpec, field_name: str, value: Any) -> list[str]:
        if field_name == "Id":
            if not isinstance(value, str) or not is_salesforce_id(value):
                return []
            rid = normalize_id(value)
            return [rid] if self._store.live(rid) and self._store.type_of.get(rid) == spec.name else []
        return self._store.lookup(spec.name, field_name, value)

    def _external_field(self, spec: ObjectSpec, name: str) -> FieldSpec:
        f = spec.field(name)
        if f is None:
            raise _not_found()
        if not (f.external_id or f.type == "id" or f.name == "Email"):
            raise ApiError.of(
                400,
                "INVALID_FIELD",
                f"Field name provided, {f.name} is not an External ID or indexed field for {spec.name}",
            )
        return f

    def _upsert_one(
        self, spec: ObjectSpec, ext: FieldSpec, key: Any, values: dict[str, Any], ctx: _Context
    ) -> tuple[str, bool]:
        matches = self._match_external(spec, ext.name, key)
        if len(matches) > 1:
            raise _RecordFailure(
                SfError(
                    "DUPLICATE_EXTERNAL_ID",
                    f"more than one record found for external id field: [{', '.join(id15(m) for m in matches)}]",
                    (ext.name,),
                )
            )
        if matches:
            current = self._store.live(matches[0])
            assert current is not None
            return self._update_one(spec, current, values, ctx), False
        if ext.name != "Id":
            values = {**values, ext.name: key}
        return self._create_one(spec, values, ctx), True

    def _h_sobject(self, request: Request, version: str, sobject: str) -> tuple[int, Any, dict[str, str]]:
        spec = self._object(sobject)
        if request.method == "GET":
            recent = sorted(
                (r for r in self._store.records(spec.name) if not r.get("IsDeleted")),
                key=lambda r: r["SystemModstamp"] or "",
                reverse=True,
            )[:5]
            items = [
                {
                    "attributes": {"type": spec.name, "url": self._url(version, spec.name, r["Id"])},
                    "Id": r["Id"],
                    **({"Name": r.get("Name")} if spec.field("Name") else {}),
                }
                for r in recent
            ]
            return 200, sobject_root_info(spec, version, items), {}
        return self._create_single(request, version, spec)

    def _create_single(self, request: Request, version: str, spec: ObjectSpec) -> tuple[int, Any, dict[str, str]]:
        values = self._deserialize(spec, self._body(request))
        ctx = self._context(request, version)
        try:
            rid = self._create_one(spec, values, ctx)
        except _RecordFailure as failure:
            raise ApiError(400, [failure.error.rest_form()]) from None
        logger.debug("created %s %s", spec.name, rid)
        return (
            201,
            {"id": rid, "success": True, "errors": []},
            {"Location": self._url(version, spec.name, rid)},
        )

    def _h_record(
        self, request: Request, version: str, sobject: str, record_id: str
    ) -> tuple[int, Any, dict[str, str]]:
        spec = self._object(sobject)
        if request.method == "POST":
            # API 37.0+: POST .../sobjects/Type/Id creates a record ("Id" as the external id, null value).
            if record_id != "Id":
                raise ApiError(
                    405,
                    [
                        {
                            "errorCode": "METHOD_NOT_ALLOWED",
                            "message": "HTTP Method 'POST' not allowed. Allowed are HEAD,GET,PATCH,DELETE",
                        }
                    ],
                )
            return self._create_single(request, version, spec)
        record = self._resolve_record_id(spec, record_id)
        if request.method == "GET":
            fields = self._select_fields(spec, request.args.get("fields"))
            return 200, self._project(record, spec.name, fields, version), {}
        ctx = self._context(request, version)
        if request.method == "DELETE":
            try:
                self._delete_one(spec, record, ctx)
            except _RecordFailure as failure:
                raise ApiError(400, [failure.error.rest_form()]) from None
            return 204, None, {}
        values = self._deserialize(spec, self._body(request))
        if "Id" in values and values["Id"] != record["Id"]:
            raise ApiError.of(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                "Unable to create/update fields: Id. "
                "Please check the security settings of this field and verify that it is "
                "read/write for your profile or permission set.",
                ["Id"],
            )
        try:
            self._update_one(spec, record, values, ctx)
        except _RecordFailure as failure:
            raise ApiError(400, [failure.error.rest_form()]) from None
        return 204, None, {}

    def _h_external(
        self, request: Request, version: str, sobject: str, field_name: str, value: str
    ) -> tuple[int, Any, dict[str, str]]:
        spec = self._object(sobject)
        ext = self._external_field(spec, field_name)
        matches = self._match_external(spec, ext.name, value)
        if len(matches) > 1:
            return 300, [self._url(version, spec.name, rid) for rid in matches], {}
        if request.method == "GET":
            if not matches:
                raise _not_found(f"Provided external ID field does not exist or is not accessible: {value}")
            record = self._store.live(matches[0])
            assert record is not None
            fields = self._select_fields(spec, request.args.get("fields"))
            return 200, self._project(record, spec.name, fields, version), {}
        ctx = self._context(request, version)
        if request.method == "DELETE":
            if not matches:
                raise _not_found(f"Provided external ID field does not exist or is not accessible: {value}")
            record = self._store.live(matches[0])
            assert record is not None
            try:
                self._delete_one(spec, record, ctx)
            except _RecordFailure as failure:
                raise ApiError(400, [failure.error.rest_form()]) from None
            return 204, None, {}
        body = self._body(request)
        values = self._deserialize(spec, body)
        if ext.name in values or "Id" in values:
            culprit = ext.name if ext.name in values else "Id"
            raise ApiError.of(
                400,
                "INVALID_FIELD",
                f"Unable to create/update fields: {culprit}. The external ID field and Id "
                "belong in the URL, not in the request body.",
                [culprit],
            )
        try:
            rid, created = self._upsert_one(spec, ext, value, values, ctx)
        except _RecordFailure as failure:
            raise ApiError(400, [failure.error.rest_form()]) from None
        old_style = float(version) < 46.0
        if created:
            body_out: dict[str, Any] = {"id": rid, "success": True, "errors": []}
            if not old_style:
                body_out["created"] = True
            return 201, body_out, {"Location": self._url(version, spec.name, rid)}
        if old_style:
            return 204, None, {}
        return 200, {"id": rid, "success": True, "errors": [], "created": False}, {}
