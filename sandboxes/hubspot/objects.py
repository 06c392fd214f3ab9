"""The HubSpot sandbox's CRM object endpoints: contacts and tasks (basic, batch read, create,
update, upsert and archive, search), seeding, and HubSpot's per-record batch errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from sandboxes.hubspot.crm import AssociationInput
from sandboxes.hubspot.model import (
    HubSpotError,
    ObjectType,
    not_found,
    resolve_object_type,
    validation_error,
)
from sandboxes.hubspot.state import HubSpotState, Json, _Caller, _int_arg, _json, _object_type, _v3_type_name, logger
from sandboxes.hubspot.store import CrmObject


def _traces(inputs: Sequence[Any]) -> list[str] | None:
    """The inputs' trace ids (``objectWriteTraceId``) when the batch asks for multi-status answers (HubSpot:
    "include a unique objectWriteTraceId value for each input"), else None (all or nothing)."""
    traces = [str(i.get("objectWriteTraceId") or "") if isinstance(i, dict) else "" for i in inputs]
    if not any(traces):
        return None
    if len(set(traces)) != len(traces) or not all(traces):
        raise validation_error("objectWriteTraceId must be unique for each input")
    return traces


def _record_error(error: HubSpotError, trace: str) -> Json:
    """One input's error in a 207: HubSpot's error body (``StandardError``), naming the input by its
    trace id in ``context``."""
    body = error.body
    context = {k: list(v) for k, v in (body.get("context") or {}).items()}
    context["objectWriteTraceId"] = [trace]
    entry: Json = {
        "status": "error",
        "category": body.get("category", "VALIDATION_ERROR"),
        "message": body.get("message", ""),
        "context": context,
        "errors": list(body.get("errors") or []),
        "links": {},
    }
    if body.get("subCategory"):
        entry["subCategory"] = body["subCategory"]
    return entry


def _traced(rendered: Json, trace: str) -> Json:
    rendered["objectWriteTraceId"] = trace
    return rendered


def _create_input(item: Any) -> tuple[dict[str, Any], list[AssociationInput]]:
    if not isinstance(item, dict) or not isinstance(item.get("properties"), dict):
        raise validation_error("properties is required")
    assoc: list[AssociationInput] = []
    for a in item.get("associations") or []:
        to_id = str((a.get("to") or {}).get("id", "")) if isinstance(a, dict) else ""
        if not to_id.isdigit():
            raise validation_error(f"Invalid association target id: {to_id}")
        types = tuple(
            (str(t.get("associationCategory", "")), int(t.get("associationTypeId", 0)))
            for t in a.get("types") or []
            if isinstance(t, dict)
        )
        assoc.append(AssociationInput(to_id=int(to_id), types=types))
    return dict(item["properties"]), assoc


def _update_input(item: Any) -> tuple[str, str | None, dict[str, Any]]:
    if not isinstance(item, dict) or not isinstance(item.get("properties"), dict) or item.get("id") in (None, ""):
        raise validation_error("Each input needs an id and properties")
    return str(item["id"]), (item.get("idProperty") or None), dict(item["properties"])


class ObjectsMixin(HubSpotState):
    """``/crm/v3/objects/<type>``: basic, batch and search."""

    def seed(self, object_type: str, rows: Iterable[Mapping[str, str]]) -> list[str]:
        """Create records directly (no HTTP, no rate limits), validated as a batch create is.

        Args:
            object_type: ``contacts`` or ``tasks``.
            rows: property values of each record.

        Returns:
            The new records' ids, in order.
        """
        ot = _object_type(object_type)
        created: list[CrmObject] = []
        batch: list[tuple[Mapping[str, Any], Sequence[AssociationInput]]] = []
        for row in rows:
            batch.append((row, ()))
            if len(batch) == 1000:
                created += self.crm.create_many(ot, batch)
                batch = []
        if batch:
            created += self.crm.create_many(ot, batch)
        return [str(o.id) for o in created]

    def unsubscribe_all(self, contact_id: str) -> None:
        """The contact unsubscribes from all email (HubSpot sets ``hs_email_optout``; the API cannot)."""
        self.crm.unsubscribe_all(contact_id)

    # --- objects --------------------------------------------------------------------------------

    def _h_objects(self, request: Request, *, caller: _Caller, otype: str) -> Response:
        ot = _object_type(otype)
        if request.method == "POST":
            body = self._body(request)
            props, assoc = _create_input(body)
            [obj] = self.crm.create_many(ot, [(props, assoc)])
            logger.info("hubspot sandbox: created %s %d", ot.singular, obj.id)
            return _json(self.crm.render_written(ot, obj, props), 201)
        limit = _int_arg(request, "limit", 10, maximum=100)
        after = _int_arg(request, "after", 0)
        archived = request.args.get("archived", "false").lower() == "true"
        chosen, next_after = self.crm.page(ot, limit=limit, after=after, archived=archived)
        properties = self._csv_arg(request, "properties") or None
        to_types = self._csv_arg(request, "associations")
        result: Json = {"results": [self._with_associations(ot, o, properties, to_types) for o in chosen]}
        if next_after is not None:
            link = f"{request.host_url.rstrip('/')}{request.path}?" + urlencode({"after": next_after, "limit": limit})
            result["paging"] = {"next": {"after": str(next_after), "link": link}}
        return _json(result)

    def _with_associations(
        self, ot: ObjectType, obj: CrmObject, properties: Sequence[str] | None, to_types: Sequence[str]
    ) -> Json:
        body = self.crm.render(ot, obj, properties)
        found: Json = {}
        for raw in to_types:
            target = resolve_object_type(raw)
            if target is None:
                continue
            links = self.store.associations(ot.name, obj.id, target.name)
            if links:
                found[target.name] = {
                    "results": [{"id": str(a.to_id), "type": _v3_type_name(a.type_id)} for a in links]
                }
        if found:
            body["associations"] = found
        return body

    def _h_object(self, request: Request, *, caller: _Caller, otype: str, object_id: str) -> Response:
        ot = _object_type(otype)
        id_property = request.args.get("idProperty") or None
        if request.method == "GET":
            archived = request.args.get("archived", "false").lower() == "true"
            if archived:
                parsed = int(object_id) if object_id.isdigit() else 0
                obj = self.store.get(ot.name, parsed, archived=True) if parsed else None
            else:
                obj = self.crm.resolve(ot, object_id, id_property)
            if obj is None:
                raise not_found()
            properties = self._csv_arg(request, "properties") or None
            to_types = self._csv_arg(request, "associations")
            return _json(self._with_associations(ot, obj, properties, to_types))
        if request.method == "PATCH":
            body = self._body(request)
            props = body.get("properties") if isinstance(body, dict) else None
            if not isinstance(props, dict):
                raise validation_error("properties is required")
            updated, missing = self.crm.update_many(ot, [(object_id, id_property, props)])
            if missing:
                raise not_found()
            obj, written = updated[0]
            return _json(self.crm.render_written(ot, obj, written))
        obj = self.crm.resolve(ot, object_id, None)
        if obj is not None:
            self.crm.archive_many(ot, [str(obj.id)])
        return Response(status=204)

    def _h_batch_read(self, request: Request, *, caller: _Caller, otype: str) -> Response:
        ot = _object_type(otype)
        body = self._body(request)
        inputs = self._inputs(body)
        started = self._started()
        id_property = body.get("idProperty") or None
        results: list[Json] = []
        missing: list[str] = []
        for item in inputs:
            raw_id = str(item.get("id", "")) if isinstance(item, dict) else ""
            obj = self.crm.resolve(ot, raw_id, id_property)
            if obj is None:
                missing.append(raw_id)
            else:
                results.append(self.crm.render(ot, obj, body.get("properties") or None))
        errors = [self._not_found_error(ot, missing)] if missing else []
        return _json(self._batch_envelope(started, results, errors), 207 if errors else 200)

    def _h_batch_create(self, request: Request, *, caller: _Caller, otype: str) -> Response:
        ot = _object_type(otype)
        inputs = self._inputs(self._body(request))
        started = self._started()
        parsed = [_create_input(item) for item in inputs]
        traces = _traces(inputs) if self.multi_status else None
        if traces is None:  # all or nothing: one bad input fails the batch with its 400
            created = self.crm.create_many(ot, parsed)
            results = [self.crm.render_written(ot, o, props) for o, (props, _) in zip(created, parsed, strict=True)]
            return _json(self._batch_envelope(started, results, []), 201)
        results, errors = [], []
        for answer, (props, _), trace in zip(self.crm.create_each(ot, parsed), parsed, traces, strict=True):
            if isinstance(answer, HubSpotError):
                errors.append(_record_error(answer, trace))
            else:
                results.append(_traced(self.crm.render_written(ot, answer, props), trace))
        return _json(self._batch_envelope(started, results, errors), 207 if errors else 201)

    def _h_batch_update(self, request: Request, *, caller: _Caller, otype: str) -> Response:
        ot = _object_type(otype)
        inputs = self._inputs(self._body(request))
        started = self._started()
        updated, missing = self.crm.update_many(ot, [_update_input(item) for item in inputs])
        results = [self.crm.render_written(ot, o, written) for o, written in updated]
        errors = [self._not_found_error(ot, missing)] if missing else []
        return _json(self._batch_envelope(started, results, errors), 207 if errors else 200)

    def _h_batch_upsert(self, request: Request, *, caller: _Caller, otype: str) -> Response:
        ot = _object_type(otype)
        inputs = self._inputs(self._body(request))
        started = self._started()
        query_id_property = request.args.get("idProperty") or None
        parsed = []
        for item in inputs:
            raw_id, id_prop, props = _update_input(item)
            parsed.append((raw_id, id_prop or query_id_property, props))
        traces = _traces(inputs) if self.multi_status else None
        if traces is None:  # all or nothing: one bad input fails the batch with its 400
            done = self.crm.upsert_many(ot, parsed)
            results = []
            for obj, new, written in done:
                rendered = self.crm.render_written(ot, obj, written)
                rendered["new"] = new
                results.append(rendered)
            logger.info("hubspot sandbox: upserted %d %s (%d new)", len(done), ot.name, sum(1 for _, n, _ in done if n))
            return _json(self._batch_envelope(started, results, []))
        results, errors = [], []
        for answer, trace in zip(self.crm.upsert_each(ot, parsed), traces, strict=True):
            if isinstance(answer, HubSpotError):
                errors.append(_record_error(answer, trace))
                continue
            obj, new, written = answer
            rendered = self.crm.render_written(ot, obj, written)
            rendered["new"] = new
            results.append(_traced(rendered, trace))
        logger.info("hubspot sandbox: upserted %d %s (%d refused)", len(results), ot.name, len(errors))
        return _json(self._batch_envelope(started, results, errors), 207 if errors else 200)

    def _h_batch_archive(self, request: Request, *, caller: _Caller, otype: str) -> Response:
        ot = _object_type(otype)
        inputs = self._inputs(self._body(request))
        self.crm.archive_many(ot, [str(i.get("id", "")) for i in inputs if isinstance(i, dict)])
        return Response(status=204)

    def _h_search(self, request: Request, *, caller: _Caller, otype: str) -> Response:
        ot = _object_type(otype)
        body = self._body(request)
        if not isinstance(body, dict):
            raise validation_error("Invalid search request")
        return _json(self.crm.search(ot, body))
