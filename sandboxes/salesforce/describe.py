"""The Salesforce sandbox's describe output: describe global, sObject describe (fields, picklists,
child relationships, URLs), an sObject's root info and the API versions list, derived from the
org's metadata (``schema``: the types; ``objects``: the org's sObjects; ``ids``: Salesforce ids),
and the server's discovery resources that answer with it (:class:`DescribeMixin`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from werkzeug.wrappers import Request

from sandboxes.salesforce.objects import OBJECTS
from sandboxes.salesforce.schema import (
    SUPPORTED_VERSIONS,
    FieldSpec,
    ObjectSpec,
    release_label,
)
from sandboxes.salesforce.state import SalesforceState

__all__ = ["DescribeMixin", "describe_global", "describe_sobject", "sobject_root_info", "versions"]


# --------------------------------------------------------------------------------------------------
# Describe output.

_SOAP_TYPES: Final = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "double": "xsd:double",
    "int": "xsd:int",
}


def _field_describe(spec: ObjectSpec, f: FieldSpec) -> dict[str, Any]:
    text_like = f.type in {
        "string",
        "email",
        "phone",
        "url",
        "picklist",
        "multipicklist",
        "combobox",
        "textarea",
        "id",
        "reference",
    }
    length = f.length if text_like else 0
    if f.type == "reference":
        length = 18
    default = f.default
    if f.type in {"picklist", "multipicklist"} and f.picklist_default is not None:
        default = None  # picklist defaults are reported on the value, not the field
    return {
        "aggregatable": f.type not in {"textarea", "multipicklist"},
        "aiPredictionField": False,
        "autoNumber": False,
        "byteLength": length * 3,
        "calculated": False,
        "calculatedFormula": None,
        "cascadeDelete": False,
        "caseSensitive": False,
        "compoundFieldName": None,
        "controllerName": None,
        "createable": f.createable,
        "custom": f.custom,
        "defaultValue": default,
        "defaultValueFormula": None,
        "defaultedOnCreate": f.fills_on_create,
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": f.precision if f.type == "int" else 0,
        "displayLocationInDecimal": False,
        "encrypted": False,
        "externalId": f.external_id,
        "extraTypeInfo": None,
        "filterable": f.type not in {"textarea"},
        "filteredLookupInfo": None,
        "formulaTreatNullNumberAsZero": False,
        "groupable": f.type not in {"textarea", "multipicklist", "double", "datetime"},
        "highScaleNumber": False,
        "htmlFormatted": False,
        "idLookup": f.type == "id" or f.external_id or f.name in {"Email", "Username"},
        "inlineHelpText": None,
        "label": f.label,
        "length": length,
        "mask": None,
        "maskType": None,
        "name": f.name,
        "nameField": f.name_field,
        "namePointing": len(f.reference_to) > 1,
        "nillable": f.nillable,
        "permissionable": f.nillable and f.type != "id",
        "picklistValues": [
            {
                "active": v.active,
                "defaultValue": v.default,
                "label": v.label,
                "validFor": None,
                "value": v.value,
            }
            for v in f.picklist
        ],
        "polymorphicForeignKey": len(f.reference_to) > 1,
        "precision": f.precision if f.type == "double" else 0,
        "queryByDistance": False,
        "referenceTargetField": None,
        "referenceTo": list(f.reference_to),
        "relationshipName": f.relationship_name,
        "relationshipOrder": None,
        "restrictedDelete": False,
        "restrictedPicklist": f.restricted,
        "scale": f.scale,
        "searchPrefilterable": f.type == "reference",
        "soapType": _SOAP_TYPES.get(f.type, "xsd:string"),
        "sortable": f.type not in {"textarea", "multipicklist"},
        "type": f.type,
        "unique": f.unique,
        "updateable": f.updateable,
        "writeRequiresMasterRead": False,
    }


def _urls(version: str, name: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{name}"
    return {
        "compactLayouts": f"{base}/describe/compactLayouts",
        "rowTemplate": f"{base}/{{ID}}",
        "approvalLayouts": f"{base}/describe/approvalLayouts",
        "describe": f"{base}/describe",
        "quickActions": f"{base}/quickActions",
        "layouts": f"{base}/describe/layouts",
        "sobject": base,
    }


def _object_summary(spec: ObjectSpec, version: str) -> dict[str, Any]:
    return {
        "activateable": False,
        "associateEntityType": None,
        "associateParentEntity": None,
        "createable": spec.createable,
        "custom": False,
        "customSetting": False,
        "deepCloneable": False,
        "deletable": spec.deletable,
        "deprecatedAndHidden": False,
        "feedEnabled": spec.name in {"Lead", "Contact", "User", "Group"},
        "hasSubtypes": False,
        "isInterface": False,
        "isSubtype": False,
        "keyPrefix": spec.key_prefix,
        "label": spec.label,
        "labelPlural": spec.label_plural,
        "layoutable": True,
        "mergeable": spec.name in {"Lead", "Contact", "Account"},
        "mruEnabled": True,
        "name": spec.name,
        "queryable": True,
        "replicateable": True,
        "retrieveable": True,
        "searchable": True,
        "triggerable": True,
        "undeletable": spec.deletable,
        "updateable": spec.updateable,
        "urls": _urls(version, spec.name),
    }


def describe_global(version: str) -> dict[str, Any]:
    """The body of ``GET /services/data/vXX.X/sobjects``."""
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [_object_summary(spec, version) for spec in OBJECTS.values()],
    }


def sobject_root_info(spec: ObjectSpec, version: str, recent: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The body of ``GET /services/data/vXX.X/sobjects/{Type}`` (basic information)."""
    return {"objectDescribe": _object_summary(spec, version), "recentItems": list(recent)}


def _child_relationships(spec: ObjectSpec) -> list[dict[str, Any]]:
    children = []
    for child in OBJECTS.values():
        for f in child.fields:
            if spec.name in f.reference_to and f.relationship_name and child.name != spec.name:
                children.append(
                    {
                        "cascadeDelete": False,
                        "childSObject": child.name,
                        "deprecatedAndHidden": False,
                        "field": f.name,
                        "junctionIdListNames": [],
                        "junctionReferenceTo": [],
                        "relationshipName": f"{child.label_plural}"
                        if f.name not in {"CreatedById", "LastModifiedById"}
                        else None,
                        "restrictedDelete": False,
                    }
                )
    return children


def describe_sobject(spec: ObjectSpec, version: str) -> dict[str, Any]:
    """The body of ``GET /services/data/vXX.X/sobjects/{Type}/describe``."""
    body = _object_summary(spec, version)
    body.update(
        {
            "actionOverrides": [],
            "childRelationships": _child_relationships(spec),
            "compactLayoutable": True,
            "dataTranslationEnabled": False,
            "defaultImplementation": None,
            "extendedBy": None,
            "extendsInterfaces": None,
            "fields": [_field_describe(spec, f) for f in spec.fields],
            "implementedBy": None,
            "implementsInterfaces": None,
            "listviewable": None,
            "lookupLayoutable": None,
            "namedLayoutInfos": [],
            "networkScopeFieldName": None,
            "recordTypeInfos": [
                {
                    "active": True,
                    "available": True,
                    "defaultRecordTypeMapping": True,
                    "developerName": "Master",
                    "master": True,
                    "name": "Master",
                    "recordTypeId": "012000000000000AAA",
                    "urls": {
                        "layout": f"/services/data/v{version}/sobjects/{spec.name}/describe/layouts/012000000000000AAA"
                    },
                }
            ],
            "searchLayoutable": True,
            "sobjectDescribeOption": "FULL",
            "supportedScopes": [
                {"label": f"All {spec.label_plural.lower()}", "name": "everything"},
                {"label": f"My {spec.label_plural.lower()}", "name": "mine"},
            ],
        }
    )
    return dict(sorted(body.items()))


def versions() -> list[dict[str, str]]:
    """The body of ``GET /services/data/``."""
    return [{"label": release_label(v), "url": f"/services/data/v{v}", "version": v} for v in SUPPORTED_VERSIONS]


class DescribeMixin(SalesforceState):
    """``/``, ``/sobjects`` and ``/sobjects/<type>/describe``."""

    def _h_resources(self, request: Request, version: str) -> tuple[int, Any, dict[str, str]]:
        base = f"/services/data/v{version}"
        names = ("sobjects", "query", "queryAll", "composite", "limits")
        return 200, {name: f"{base}/{name}" for name in names}, {}

    def _h_describe_global(self, request: Request, version: str) -> tuple[int, Any, dict[str, str]]:
        return 200, describe_global(version), {}

    def _h_describe(self, request: Request, version: str, sobject: str) -> tuple[int, Any, dict[str, str]]:
        spec = self._object(sobject)
        key = (spec.name, version)
        if key not in self._describe_cache:
            self._describe_cache[key] = describe_sobject(spec, version)
        return 200, self._describe_cache[key], {}
