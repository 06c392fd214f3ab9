"""The Salesforce sandbox's batch resources: ``/composite`` (subrequests) and sObject Collections
(create, update, delete, retrieve and upsert up to 200 records, all-or-none or one by one).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Final
from urllib.parse import urlsplit

from werkzeug.exceptions import HTTPException
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from sandboxes.salesforce.ids import is_salesforce_id, normalize_id
from sandboxes.salesforce.objects import OBJECTS, find_object, object_for_prefix
from sandboxes.salesforce.schema import ObjectSpec
from sandboxes.salesforce.sobjects import SObjectsMixin
from sandboxes.salesforce.state import _URLS, ApiError, SfError, _Context, _not_found, _Outcome, _RecordFailure

#: sObject Collections accept at most this many records (or ids) in one call.
COLLECTION_LIMIT: Final = 200


class CollectionsMixin(SObjectsMixin):
    """``/composite`` and ``/composite/sobjects``."""

    # ------------------------------------------------------------------------------------------
    # sObject Collections.

    def _collection_records(self, body: Any, *, key: str = "records") -> tuple[bool, list[Any]]:
        if not isinstance(body, dict):
            raise ApiError.of(
                400,
                "JSON_PARSER_ERROR",
                "Cannot deserialize instance of CollectionRequest from START_ARRAY value [line:1, column:1]",
            )
        records = body.get(key)
        if not isinstance(records, list):
            raise ApiError.of(400, "INVALID_FIELD", f"{key}: required field is missing")
        if len(records) > COLLECTION_LIMIT:
            raise ApiError.of(
                400,
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {COLLECTION_LIMIT} records into this call",
            )
        all_or_none = body.get("allOrNone", False)
        if not isinstance(all_or_none, bool):
            raise ApiError.of(
                400,
                "JSON_PARSER_ERROR",
                "Cannot deserialize instance of boolean from VALUE_STRING value allOrNone",
            )
        return all_or_none, records

    def _typed(self, record: Any) -> tuple[ObjectSpec, dict[str, Any]]:
        if not isinstance(record, dict):
            raise ApiError.of(
                400,
                "JSON_PARSER_ERROR",
                "Cannot deserialize instance of SObject from VALUE_STRING value [line:1, column:1]",
            )
        attributes = record.get("attributes")
        type_name = attributes.get("type") if isinstance(attributes, dict) else None
        if not isinstance(type_name, str) or not type_name:
            raise ApiError.of(400, "INVALID_TYPE", "Must send a concrete entity type.")
        spec = find_object(type_name)
        if spec is None:
            raise ApiError.of(400, "INVALID_TYPE", f"sObject type '{type_name}' is not supported.")
        return spec, record

    def _run_batch(self, all_or_none: bool, steps: Sequence[Callable[[], _Outcome]]) -> list[_Outcome]:
        with self._store.savepoint() as rollback:
            outcomes = [step() for step in steps]
            if all_or_none and any(not o.ok for o in outcomes):
                rollback()
                rolled = SfError(
                    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "Record rolled back because not all records were valid and the request was using AllOrNone header",
                )
                outcomes = [o if not o.ok else _Outcome(error=rolled) for o in outcomes]
        return outcomes

    @staticmethod
    def _guard(action: Callable[[], _Outcome]) -> Callable[[], _Outcome]:
        def run() -> _Outcome:
            try:
                return action()
            except _RecordFailure as failure:
                return _Outcome(error=failure.error)

        return run

    @staticmethod
    def _result(outcome: _Outcome, *, upsert: bool = False) -> dict[str, Any]:
        if outcome.error is not None:
            return {"success": False, "errors": [outcome.error.collection_form()]}
        body: dict[str, Any] = {"id": outcome.record_id, "success": True, "errors": []}
        if upsert:
            body["created"] = bool(outcome.created)
        return body

    def _h_composite(self, request: Request, version: str) -> tuple[int, Any, dict[str, str]]:
        """``POST /composite``: up to 25 subrequests in one call (one API call against the limit),
        at most 5 of them queries or collections. Subrequests run in order as the same user and are
        answered in ``compositeResponse``. Reference notation (``@{ref.id}``) is not modelled: the
        sandbox refuses it rather than pretend."""
        body = self._body(request)
        subrequests = body.get("compositeRequest") if isinstance(body, dict) else None
        if not isinstance(subrequests, list) or not subrequests:
            raise ApiError.of(400, "JSON_PARSER_ERROR", "compositeRequest is required")
        if len(subrequests) > 25:
            raise ApiError.of(400, "LIMIT_EXCEEDED", "Composite requests can have at most 25 subrequests")
        heavy = sum(
            1
            for r in subrequests
            if isinstance(r, dict) and re.search(r"/(query|queryAll|composite/sobjects)\b", str(r.get("url", "")))
        )
        if heavy > 5:
            raise ApiError.of(
                400, "LIMIT_EXCEEDED", "Composite requests can have at most 5 query or collection subrequests"
            )
        answers = []
        for sub in subrequests:
            if not isinstance(sub, dict) or not sub.get("url") or not sub.get("method") or not sub.get("referenceId"):
                raise ApiError.of(400, "JSON_PARSER_ERROR", "each subrequest needs method, url and referenceId")
            if "@{" in json.dumps(sub):
                raise ApiError.of(400, "INVALID_FIELD", "reference notation is not supported by this sandbox")
            status, answer, headers = self._subrequest(request, str(sub["method"]), str(sub["url"]), sub.get("body"))
            answers.append(
                {"body": answer, "httpHeaders": headers, "httpStatusCode": status, "referenceId": sub["referenceId"]}
            )
        return 200, {"compositeResponse": answers}, {}

    def _subrequest(self, outer: Request, method: str, url: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(url)
        builder = EnvironBuilder(
            path=parts.path,
            query_string=parts.query,
            method=method.upper(),
            json=body if body is not None else None,
            headers=[
                (k, v)
                for k, v in outer.headers.items()
                if k.lower() in {"authorization", "sforce-duplicate-rule-header"}
            ],
        )
        try:
            inner = Request(builder.get_environ())
        finally:
            builder.close()
        try:
            endpoint, args = _URLS.bind_to_environ(inner.environ).match()
        except HTTPException:
            error = _not_found()
            return error.status, error.body, {}
        if endpoint in {"versions", "composite"} or endpoint.startswith("oauth_"):
            return 400, [{"errorCode": "INVALID_FIELD", "message": f"{parts.path} is not supported in a composite"}], {}
        args = dict(args)
        version = args.pop("version")
        try:
            return getattr(self, f"_h_{endpoint}")(inner, version, **args)  # type: ignore[no-any-return]
        except ApiError as exc:
            return exc.status, exc.body, exc.headers

    def _h_collections(self, request: Request, version: str) -> tuple[int, Any, dict[str, str]]:
        if request.method == "DELETE":
            return self._collections_delete(request, version)
        all_or_none, raw_records = self._collection_records(self._body(request))
        ctx = self._context(request, version)
        typed = [self._typed(r) for r in raw_records]
        creating = request.method == "POST"
        prepared = []
        for spec, raw in typed:
            if creating:
                prepared.append((spec, self._deserialize(spec, raw), None))
            else:
                raw_id = next((v for k, v in raw.items() if k.lower() == "id"), None)
                prepared.append((spec, self._deserialize(spec, raw, allow_keys=("id",)), raw_id))
        steps = []
        for spec, values, raw_id in prepared:
            if creating:
                steps.append(self._guard(partial(self._collection_create, spec, values, ctx)))
            else:
                steps.append(self._guard(partial(self._collection_update, spec, values, raw_id, ctx)))
        outcomes = self._run_batch(all_or_none, steps)
        return 200, [self._result(o) for o in outcomes], {}

    def _collection_create(self, spec: ObjectSpec, values: dict[str, Any], ctx: _Context) -> _Outcome:
        return _Outcome(record_id=self._create_one(spec, values, ctx))

    def _collection_update(self, spec: ObjectSpec, values: dict[str, Any], raw_id: Any, ctx: _Context) -> _Outcome:
        if raw_id is None:
            raise _RecordFailure(SfError("MISSING_ARGUMENT", "Id not specified in an update call", ()))
        if not isinstance(raw_id, str) or not is_salesforce_id(raw_id) or object_for_prefix(raw_id[:3]) != spec.name:
            raise _RecordFailure(
                SfError("MALFORMED_ID", f"{spec.label} ID: id value of incorrect type: {raw_id}", ("Id",))
            )
        rid = normalize_id(raw_id)
        existing = self._store.get(rid)
        if existing is None:
            raise _RecordFailure(SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ()))
        if existing.get("IsDeleted"):
            raise _RecordFailure(SfError("ENTITY_IS_DELETED", "entity is deleted", ()))
        return _Outcome(record_id=self._update_one(spec, existing, values, ctx))

    def _collections_delete(self, request: Request, version: str) -> tuple[int, Any, dict[str, str]]:
        raw_ids = [i for i in (request.args.get("ids") or "").split(",") if i]
        if not raw_ids:
            raise ApiError.of(400, "MISSING_ARGUMENT", "ids: required parameter is missing")
        if len(raw_ids) > COLLECTION_LIMIT:
            raise ApiError.of(
                400,
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {COLLECTION_LIMIT} records into this call",
            )
        all_or_none = (request.args.get("allOrNone") or "false").lower() == "true"
        ctx = self._context(request, version)

        def delete(raw: str) -> _Outcome:
            if not is_salesforce_id(raw):
                raise _RecordFailure(SfError("MALFORMED_ID", f"malformed id {raw}", ()))
            rid = normalize_id(raw)
            record = self._store.get(rid)
            if record is None:
                raise _RecordFailure(SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ()))
            if record.get("IsDeleted"):
                raise _RecordFailure(SfError("ENTITY_IS_DELETED", "entity is deleted", ()))
            self._delete_one(OBJECTS[self._store.type_of[rid]], record, ctx)
            return _Outcome(record_id=rid)

        steps = [self._guard(partial(delete, raw)) for raw in raw_ids]
        outcomes = self._run_batch(all_or_none, steps)
        return 200, [self._result(o) for o in outcomes], {}

    def _h_collections_retrieve(self, request: Request, version: str, sobject: str) -> tuple[int, Any, dict[str, str]]:
        spec = self._object(sobject)
        if request.method == "POST":
            body = self._body(request)
            if not isinstance(body, dict):
                raise ApiError.of(400, "JSON_PARSER_ERROR", "Cannot deserialize request body")
            raw_ids = [str(i) for i in body.get("ids") or []]
            raw_fields = ",".join(str(f) for f in body.get("fields") or [])
            limit = 2000
        else:
            raw_ids = [i for i in (request.args.get("ids") or "").split(",") if i]
            raw_fields = request.args.get("fields") or ""
            limit = 800
        if not raw_ids:
            raise ApiError.of(400, "MISSING_ARGUMENT", "ids: required parameter is missing")
        if not raw_fields:
            raise ApiError.of(400, "MISSING_ARGUMENT", "fields: required parameter is missing")
        if len(raw_ids) > limit:
            raise ApiError.of(
                400,
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {limit} records into this call",
            )
        fields = self._select_fields(spec, raw_fields)
        out: list[dict[str, Any] | None] = []
        for raw in raw_ids:
            if not is_salesforce_id(raw):
                raise ApiError.of(400, "MALFORMED_ID", f"malformed id {raw}")
            rid = normalize_id(raw)
            record = self._store.live(rid)
            if record is None or self._store.type_of.get(rid) != spec.name:
                out.append(None)
            else:
                out.append(self._project(record, spec.name, fields, version))
        return 200, out, {}

    def _h_collections_upsert(
        self, request: Request, version: str, sobject: str, field_name: str
    ) -> tuple[int, Any, dict[str, str]]:
        spec = self._object(sobject)
        ext = self._external_field(spec, field_name)
        all_or_none, raw_records = self._collection_records(self._body(request))
        ctx = self._context(request, version)
        prepared = []
        for raw in raw_records:
            record_spec, raw_record = self._typed(raw)
            if record_spec.name != spec.name:
                raise ApiError.of(
                    400,
                    "INVALID_TYPE",
                    f"Record type {record_spec.name} does not match the type of this request: {spec.name}",
                )
            prepared.append(self._deserialize(spec, raw_record))
        keys = [str(v.get(ext.name)).casefold() for v in prepared if v.get(ext.name) is not None]
        repeated = {k for k in keys if keys.count(k) > 1}

        def upsert(values: dict[str, Any]) -> _Outcome:
            key = values.get(ext.name)
            if key is None:
                raise _RecordFailure(SfError("MISSING_ARGUMENT", f"{ext.name} not specified", ()))
            if str(key).casefold() in repeated:
                raise _RecordFailure(
                    SfError("DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {key}", (ext.name,))
                )
            rest = {k: v for k, v in values.items() if k != ext.name}
            rid, created = self._upsert_one(spec, ext, key, rest, ctx)
            return _Outcome(record_id=rid, created=created)

        steps = [self._guard(partial(upsert, values)) for values in prepared]
        outcomes = self._run_batch(all_or_none, steps)
        return 200, [self._result(o, upsert=True) for o in outcomes], {}
