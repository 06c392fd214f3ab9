"""Query, upsert and sObject Collections bodies checked against the shapes Salesforce documents.

The generated sObjects OpenAPI document has no Query, external-id or Composite resources, so these
shapes are written down here as JSON Schemas from the REST API Developer Guide (v59.0 and the current
guide), each citing its page:

- Query: "Execute a SOQL Query" (dome_query.htm) and "Query" (resources_query.htm): ``totalSize``,
  ``done``, ``records`` with ``attributes {type, url}``, and ``nextRecordsUrl``
  (``/services/data/vXX.X/query/01gD0000002HU6KIAW-2000``) while ``done`` is false.
- Upsert: "Insert or Update (Upsert) a Record Using an External ID" (dome_upsert.htm): 201 with
  ``{id, success, errors, created: true}``; in API 46.0 and later 200 with ``created: false``.
- Collections: "Create / Update / Upsert / Get / Delete Records Using sObject Collections"
  (resources_composite_sobjects_collections_*.htm): a list of SaveResult (UpsertResult with
  ``created``) in request order; failures ``{success: false, errors: [{statusCode, message, fields}]}``;
  ``ALL_OR_NONE_OPERATION_ROLLED_BACK`` for the others when ``allOrNone`` is true; retrieve returns
  records with ``null`` for ids not found.
- Errors: "Status Codes and Error Responses" (errorcodes.htm): top-level errors are a list of
  ``{message, errorCode}`` (``fields`` on field errors).
"""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

ID = {"type": "string", "pattern": "^[0-9A-Za-z]{18}$"}
DATETIME = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$"}
RECORD = {
    "type": "object",
    "required": ["attributes"],
    "properties": {
        "attributes": {
            "type": "object",
            "required": ["type", "url"],
            "additionalProperties": False,
            "properties": {
                "type": {"type": "string"},
                "url": {
                    "type": "string",
                    "pattern": r"^/services/data/v\d+\.\d/sobjects/\w+/[0-9A-Za-z]{18}$",
                },
            },
        },
        "Id": ID,
        "SystemModstamp": DATETIME,
        "CreatedDate": DATETIME,
        "LastModifiedDate": DATETIME,
    },
}
QUERY_RESULT = {
    "type": "object",
    "required": ["totalSize", "done", "records"],
    "additionalProperties": False,
    "properties": {
        "totalSize": {"type": "integer", "minimum": 0},
        "done": {"type": "boolean"},
        "nextRecordsUrl": {
            "type": "string",
            "pattern": r"^/services/data/v\d+\.\d/query(All)?/01g[0-9A-Za-z]{15}-\d+$",
        },
        "records": {"type": "array", "items": RECORD},
    },
    "if": {"properties": {"done": {"const": False}}},
    "then": {"required": ["nextRecordsUrl"]},
    "else": {"not": {"required": ["nextRecordsUrl"]}},
}
ERROR_ENTRY = {
    "type": "object",
    "required": ["statusCode", "message", "fields"],
    "additionalProperties": False,
    "properties": {
        "statusCode": {"type": "string", "pattern": "^[A-Z_]+$"},
        "message": {"type": "string"},
        "fields": {"type": "array", "items": {"type": "string"}},
    },
}
SAVE_RESULT = {
    "oneOf": [
        {
            "type": "object",
            "required": ["id", "success", "errors"],
            "additionalProperties": False,
            "properties": {"id": ID, "success": {"const": True}, "errors": {"type": "array", "maxItems": 0}},
        },
        {
            "type": "object",
            "required": ["success", "errors"],
            "additionalProperties": False,
            "properties": {
                "success": {"const": False},
                "errors": {"type": "array", "minItems": 1, "items": ERROR_ENTRY},
            },
        },
    ]
}
UPSERT_RESULT = {
    "oneOf": [
        {
            "type": "object",
            "required": ["id", "success", "errors", "created"],
            "additionalProperties": False,
            "properties": {
                "id": ID,
                "success": {"const": True},
                "errors": {"type": "array", "maxItems": 0},
                "created": {"type": "boolean"},
            },
        },
        SAVE_RESULT["oneOf"][1],
    ]
}
TOP_LEVEL_ERRORS = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["message", "errorCode"],
        "properties": {
            "message": {"type": "string"},
            "errorCode": {"type": "string", "pattern": "^[A-Z_]+$"},
            "fields": {"type": "array", "items": {"type": "string"}},
        },
    },
}


def problems(schema: dict[str, Any], instance: Any) -> list[str]:
    return [error.message for error in Draft202012Validator(schema).iter_errors(instance)]


def conforms(schema: dict[str, Any], instance: Any) -> None:
    assert problems(schema, instance) == []


def lead(**fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Lead"}, "LastName": "Rivera", "Company": "Self", **fields}


def test_query_pages_have_the_documented_shape(sf: Salesforce) -> None:
    for _ in range(11):
        sf.restful("composite/sobjects", method="POST", json={"records": [lead() for _ in range(200)]})

    first = sf.query("SELECT Id, Name, SystemModstamp FROM Lead")
    last = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)

    conforms(QUERY_RESULT, first)
    conforms(QUERY_RESULT, last)
    conforms(QUERY_RESULT, sf.query("SELECT COUNT() FROM Lead"))
    assert list(first) == ["totalSize", "done", "nextRecordsUrl", "records"]


def test_collection_results_have_the_documented_shapes(sf: Salesforce) -> None:
    created = sf.restful("composite/sobjects", method="POST", json={"records": [lead(), lead(Email="x")]})
    rolled = sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": True, "records": [lead(), lead(Email="x")]}
    )
    updated = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={"records": [{"attributes": {"type": "Lead"}, "id": created[0]["id"]}]},
    )
    upserted = sf.restful(
        "composite/sobjects/Lead/Nurture_Id__c",
        method="PATCH",
        json={"records": [lead(Nurture_Id__c="a"), lead()]},
    )
    retrieved = sf.restful("composite/sobjects/Lead", params={"ids": created[0]["id"], "fields": "Id,SystemModstamp"})
    deleted = sf.restful("composite/sobjects", method="DELETE", params={"ids": created[0]["id"]})

    for result in [*created, *rolled, *updated, *deleted]:
        conforms(SAVE_RESULT, result)
    for result in upserted:
        conforms(UPSERT_RESULT, result)
    conforms({"type": "array", "items": {"oneOf": [RECORD, {"type": "null"}]}}, retrieved)
    assert rolled[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"


def test_single_upsert_and_top_level_errors_have_the_documented_shapes(sf: Salesforce) -> None:
    created = sf.Lead.upsert("Nurture_Id__c/a", {"LastName": "x", "Company": "y"}, raw_response=True)
    updated = sf.Lead.upsert("Nurture_Id__c/a", {"FirstName": "z"}, raw_response=True)

    conforms(UPSERT_RESULT, created.json())
    conforms(UPSERT_RESULT, updated.json())
    assert (created.status_code, created.json()["created"]) == (201, True)
    assert (updated.status_code, updated.json()["created"]) == (200, False)
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Lead.create({"FirstName": "no last name"})
    conforms(TOP_LEVEL_ERRORS, caught.value.content)


@pytest.mark.parametrize(
    ("schema", "broken"),
    [
        (SAVE_RESULT, {"success": "true", "errors": []}),
        (SAVE_RESULT, {"success": True, "errors": []}),
        (UPSERT_RESULT, {"id": "00Q5g0000004C93EAE", "success": True, "errors": []}),
        (QUERY_RESULT, {"totalSize": 3, "done": False, "records": []}),
        (QUERY_RESULT, {"totalSize": 1, "done": True, "records": [{"Id": "00Q5g0000004C93EAE"}]}),
        (TOP_LEVEL_ERRORS, [{"statusCode": "NOT_FOUND", "message": "x"}]),
    ],
    ids=[
        "success-as-string",
        "missing-id",
        "upsert-without-created",
        "paging-without-url",
        "no-attributes",
        "statusCode-instead-of-errorCode",
    ],
)
def test_the_documented_shapes_reject_broken_bodies(schema: dict[str, Any], broken: Any) -> None:
    assert problems(schema, broken)
