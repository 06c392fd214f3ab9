"""Prepare Salesforce's generated sObjects OpenAPI spec for openapi-core, at test time, in memory.

The spec is read from ``node_modules/@opensdks/sdk-salesforce/salesforce.oas.json`` (installed by
``npm ci`` from the committed lockfile); nothing of it is copied into the repository. It is the
"sObjects" OpenAPI document Salesforce generates for an org (REST API v59.0, OpenAPI 3.0.1, 2,180
paths, 19 MB). The preparation, each step needed for a fair and fast check:

1. keep only what the sandbox serves: ``/sobjects`` (describeGlobal), ``/sobjects/{Type}`` and
   ``/sobjects/{Type}/{id}`` for Lead, Contact, Account, RecordType, Task, User and Group, and the
   describe resource,
   plus every component those reach (the full document takes openapi-core tens of seconds);
2. expand ``/sobjects/{sObject}/describe`` into one concrete path per object: otherwise
   ``/sobjects/Lead/describe`` also matches ``/sobjects/Lead/{id}`` and would be judged as a record;
3. drop ``/sobjects/{sObject}/{id}/{blobField}``: it is the binary blob-field resource, and its
   template would otherwise swallow ``/sobjects/Lead/Nurture_Id__c/abc`` (upsert by external id,
   a different resource the generated document does not describe);
4. set ``servers`` to ``/services/data/v59.0`` (the document has none; its paths are relative to it);
5. mark properties ``nullable``: Salesforce sends JSON ``null`` for every empty field and for unset
   describe attributes (``calculatedFormula``, ``relationshipName`` ...), which the generator did not
   declare;
6. replace ``format: date-time`` by the pattern of Salesforce's wire format
   (``2026-11-26T10:00:00.000+0000``): the offset has no colon, so RFC 3339 validators reject what
   real Salesforce sends, while the pattern is stricter than "any date-time";
7. tighten the result shapes the REST API Developer Guide documents as always present, which the
   generator left optional: ``SaveResult`` (``id``, ``success``, ``errors``), error entries
   (``errorCode``, ``message``), ``DescribeGlobalResult`` and ``DescribeSObjectResult``. Without this a
   response missing ``id`` would pass, and the contract could not fail.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
NPM_DIR = REPO / "node_modules" / "@opensdks" / "sdk-salesforce"
SPEC_FILE = NPM_DIR / "salesforce.oas.json"
BASE_PATH = "/services/data/v59.0"
OBJECTS = ("Lead", "Contact", "Account", "RecordType", "Task", "User", "Group")
#: The pattern replacing ``format: date-time`` (step 6).
SALESFORCE_DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|[+-]\d{4})$"

Json = dict[str, Any]

# Step 7: keys the REST API Developer Guide shows on every instance of these shapes.
_REQUIRED: dict[str, list[str]] = {
    "SaveResult": ["id", "success", "errors"],
    "ErrorInfo": ["errorCode", "message"],
    "RestApiError": ["errorCode", "message"],
    "DescribeGlobalResult": ["encoding", "maxBatchSize", "sobjects"],
    "DescribeSObjectResult": ["name", "label", "keyPrefix", "fields", "createable", "updateable", "urls"],
    "SObjectRootInfo": ["objectDescribe", "recentItems"],
}
_REQUIRED_FIELD_KEYS = ["name", "type", "label", "nillable", "createable", "updateable", "picklistValues"]

#: REST paths simple-salesforce 1.12.10 calls for the operations nurturehub uses, with the generated
#: spec's path that describes each, or None when the generated sObjects document has none.
SIMPLE_SALESFORCE_CALLS: dict[tuple[str, str], str | None] = {
    ("GET", "sobjects"): "/sobjects",  # sf.describe()
    ("GET", "sobjects/Lead/"): "/sobjects/Lead",  # sf.Lead.metadata()
    ("POST", "sobjects/Lead/"): "/sobjects/Lead",  # sf.Lead.create()
    ("GET", "sobjects/Lead/describe"): "/sobjects/Lead/describe",  # sf.Lead.describe()
    ("GET", "sobjects/Lead/{id}"): "/sobjects/Lead/{id}",  # sf.Lead.get()
    ("PATCH", "sobjects/Lead/{id}"): "/sobjects/Lead/{id}",  # sf.Lead.update()
    ("DELETE", "sobjects/Lead/{id}"): "/sobjects/Lead/{id}",  # sf.Lead.delete()
    ("POST", "sobjects/Task/"): "/sobjects/Task",  # sf.Task.create()
    ("GET", "sobjects/Task/{id}"): "/sobjects/Task/{id}",  # sf.Task.get()
    ("PATCH", "sobjects/Task/{id}"): "/sobjects/Task/{id}",  # sf.Task.update()
    ("GET", "sobjects/Group/{id}"): "/sobjects/Group/{id}",  # sf.Group.get()
    ("GET", "sobjects/User/{id}"): "/sobjects/User/{id}",  # sf.User.get()
    ("PATCH", "sobjects/Lead/{field}/{value}"): None,  # sf.Lead.upsert('Nurture_Id__c/x', ...)
    ("GET", "sobjects/Lead/{field}/{value}"): None,  # sf.Lead.get_by_custom_id()
    ("GET", "query/"): None,  # sf.query(), sf.query_all()
    ("GET", "queryAll/"): None,  # sf.query(include_deleted=True)
    ("GET", "query/{locator}"): None,  # sf.query_more(), query_all's paging via nextRecordsUrl
    ("POST", "composite/sobjects"): None,  # sf.restful('composite/sobjects', method='POST')
    ("PATCH", "composite/sobjects"): None,  # sf.restful('composite/sobjects', method='PATCH')
    ("PATCH", "composite/sobjects/Lead/{field}"): None,  # collections upsert via sf.restful
    ("GET", "composite/sobjects/Lead"): None,  # collections retrieve via sf.restful
    ("DELETE", "composite/sobjects"): None,  # collections delete via sf.restful
    ("GET", "limits/"): None,  # sf.limits()
}

#: Why the generated document lacks the paths marked None above (checked in the contract tests).
ABSENT_REASONS: dict[str, str] = {
    "sobjects/{Type}/{field}/{value}": (
        "sObject Rows by External ID is not generated: the document has only the sObject Basic "
        "Information, sObject Rows and Describe resources (its one three-segment template is the "
        "binary blob-field resource)"
    ),
    "query": "the sObjects OpenAPI document covers /sobjects only; Query/QueryAll are separate resources",
    "composite": "sObject Collections belong to the Composite resources, not generated in this document",
    "limits": "the Limits resource is not part of the sObjects document",
}


def spec_available() -> bool:
    """Whether the npm package with the spec is installed."""
    return SPEC_FILE.is_file()


@functools.cache
def load_raw() -> Json:
    """The spec exactly as the npm package ships it (cached: it is 19 MB)."""
    with SPEC_FILE.open(encoding="utf-8") as fh:
        data: Json = json.load(fh)
    return data


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _walk_schemas(node: Any, visit: Any) -> None:
    """Call ``visit`` on every schema object under ``node`` (properties, items, compositions)."""
    if not isinstance(node, dict):
        return
    visit(node)
    for prop in (node.get("properties") or {}).values():
        _walk_schemas(prop, visit)
    if isinstance(node.get("items"), dict):
        _walk_schemas(node["items"], visit)
    if isinstance(node.get("additionalProperties"), dict):
        _walk_schemas(node["additionalProperties"], visit)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(key) or []:
            _walk_schemas(sub, visit)


def _relax_nulls(schema: Json) -> None:
    for name, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict) and "$ref" not in prop and name not in (schema.get("required") or []):
            prop["nullable"] = True


def _datetime_pattern(schema: Json) -> None:
    if schema.get("format") == "date-time":
        del schema["format"]
        schema["pattern"] = SALESFORCE_DATETIME


def prepare(raw: Json, objects: tuple[str, ...] = OBJECTS) -> Json:
    """A trimmed, corrected copy of ``raw`` (the steps in the module docstring)."""
    paths: Json = {}
    src = raw["paths"]
    paths["/sobjects"] = copy.deepcopy(src["/sobjects"])
    describe = src["/sobjects/{sObject}/describe"]
    for name in objects:
        paths[f"/sobjects/{name}"] = copy.deepcopy(src[f"/sobjects/{name}"])
        paths[f"/sobjects/{name}/{{id}}"] = copy.deepcopy(src[f"/sobjects/{name}/{{id}}"])
        concrete = copy.deepcopy(describe)
        for operation in concrete.values():
            if isinstance(operation, dict) and "parameters" in operation:
                operation["parameters"] = [p for p in operation["parameters"] if p.get("name") != "sObject"]
        paths[f"/sobjects/{name}/describe"] = concrete

    all_schemas = raw["components"]["schemas"]
    wanted: set[str] = set()
    pending = list(_refs(paths))
    while pending:
        ref = pending.pop()
        name = ref.rsplit("/", 1)[-1]
        if name in wanted:
            continue
        wanted.add(name)
        pending.extend(_refs(all_schemas[name]))
    schemas = {name: copy.deepcopy(all_schemas[name]) for name in sorted(wanted)}

    for name, keys in _REQUIRED.items():
        if name in schemas:
            schemas[name]["required"] = list(keys)
    fields_items = schemas.get("DescribeSObjectResult", {}).get("properties", {}).get("fields", {}).get("items")
    if isinstance(fields_items, dict):
        fields_items["required"] = list(_REQUIRED_FIELD_KEYS)
    for schema in schemas.values():
        _walk_schemas(schema, _relax_nulls)
        _walk_schemas(schema, _datetime_pattern)

    return {
        "openapi": raw["openapi"],
        "info": copy.deepcopy(raw["info"]),
        "servers": [{"url": BASE_PATH}],
        "security": copy.deepcopy(raw.get("security", [])),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": copy.deepcopy(raw["components"].get("securitySchemes", {})),
        },
    }


@functools.cache
def prepared() -> Json:
    """The prepared document (cached)."""
    return prepare(load_raw())


def raw_paths() -> frozenset[str]:
    """Every path template of the untouched document."""
    return frozenset(load_raw()["paths"])
