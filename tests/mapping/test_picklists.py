from __future__ import annotations

from dataclasses import replace

import pytest

from mapping import FieldInfo, default_crm_mapping, default_source_mapping, picklist_problems
from mapping.picklists import producible_values
from mapping.spec import Conflict, CrmSystem, Direction, FieldMapping, MappingKind, Rule, TransformStep

SF_LEAD_STATUS = frozenset(
    {"Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"}
)
LEAD_SOURCE = frozenset({"Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"})
CONSENT = frozenset({"granted", "denied", "unknown"})


def describe_for(mapping: FieldMapping, **overrides: FieldInfo) -> dict[str, FieldInfo]:
    describe = {rule.target: FieldInfo() for rule in mapping.rules}
    describe.update(overrides)
    return describe


def test_a_mapping_that_fits_the_crm_has_no_problems() -> None:
    lead = default_crm_mapping("salesforce", "Lead")
    describe = describe_for(
        lead,
        Status=FieldInfo(picklist_values=SF_LEAD_STATUS),
        LeadSource=FieldInfo(picklist_values=LEAD_SOURCE),
        SMS_Consent__c=FieldInfo(picklist_values=CONSENT),
    )
    assert picklist_problems(lead, describe) == []


def test_a_value_the_table_can_produce_but_the_crm_does_not_allow_is_named_with_its_field() -> None:
    lead = default_crm_mapping("salesforce", "Lead")
    describe = describe_for(
        lead,
        Status=FieldInfo(picklist_values=SF_LEAD_STATUS - {"Working - Contacted"}),
        LeadSource=FieldInfo(picklist_values=frozenset({"Web", "Other"})),
    )
    messages = [p.message for p in picklist_problems(lead, describe)]
    assert messages == [
        "Status: 'Working - Contacted' is not an active picklist value",
        "LeadSource: 'Phone Inquiry' is not an active picklist value",
        "LeadSource: 'Partner Referral' is not an active picklist value",
    ]


def test_a_mapping_that_can_write_a_converted_lead_status_is_refused() -> None:
    lead = default_crm_mapping("salesforce", "Lead")
    table = {"new": "Open - Not Contacted", "scheduled": "Closed - Converted"}
    converting = replace(
        lead,
        rules=tuple(
            replace(
                r,
                transforms=(
                    TransformStep(name="map_values", params={"table": table, "default": "Working - Contacted"}),
                ),
            )
            if r.target == "Status"
            else r
            for r in lead.rules
        ),
    )
    status = FieldInfo(
        picklist_values=SF_LEAD_STATUS,
        reserved_values=frozenset({"Closed - Converted"}),
        default_value="Open - Not Contacted",
    )
    describe = describe_for(converting, Status=status, LeadSource=FieldInfo(picklist_values=LEAD_SOURCE))
    assert [p.message for p in picklist_problems(converting, describe)] == [
        "Status: 'Closed - Converted' is a converted status in salesforce Lead: "
        "only the CRM's lead conversion may set it"
    ]
    assert (
        picklist_problems(lead, describe_for(lead, Status=status, LeadSource=FieldInfo(picklist_values=LEAD_SOURCE)))
        == []
    )


def test_new_leads_must_get_the_orgs_default_lead_status() -> None:
    lead = default_crm_mapping("salesforce", "Lead")
    status = FieldInfo(
        picklist_values=SF_LEAD_STATUS | {"New"}, reserved_values=frozenset({"Closed - Converted"}), default_value="New"
    )
    describe = describe_for(lead, Status=status, LeadSource=FieldInfo(picklist_values=LEAD_SOURCE))
    assert [p.message for p in picklist_problems(lead, describe)] == [
        "Status: new leads would get 'Open - Not Contacted', but the default status of salesforce Lead is 'New'"
    ]


def test_identity_rules_are_checked_against_the_whole_hub_vocabulary() -> None:
    lead = default_crm_mapping("salesforce", "Lead")
    describe = describe_for(
        lead,
        Stage__c=FieldInfo(picklist_values=frozenset({"new", "attempting", "reached", "scheduled"})),
        SMS_Consent__c=FieldInfo(picklist_values=frozenset({"granted", "denied"})),
    )
    messages = {p.message for p in picklist_problems(lead, describe)}
    assert "Stage__c: 'no_show' is not an active picklist value" in messages
    assert "SMS_Consent__c: 'unknown' is not an active picklist value" in messages


def test_missing_and_read_only_fields_are_reported() -> None:
    hubspot = default_crm_mapping("hubspot", "contacts")
    describe = describe_for(hubspot, nurturehub_score=FieldInfo(writable=False))
    del describe["nurturehub_stage"]
    describe["hs_language"] = FieldInfo(exists=False)
    assert [tuple(p) for p in picklist_problems(hubspot, describe)] == [
        ("hs_language", "hs_language does not exist on hubspot contacts"),
        ("nurturehub_score", "nurturehub_score is not writable on hubspot contacts"),
        ("nurturehub_stage", "nurturehub_stage does not exist on hubspot contacts"),
    ]


def test_a_stage_missing_from_a_strict_value_table_is_reported() -> None:
    mapping = FieldMapping(
        name="partial",
        kind=MappingKind.CRM_OBJECT,
        system=CrmSystem.HUBSPOT,
        object="contacts",
        rules=(
            Rule(
                target="hs_lead_status",
                sources=("stage",),
                transforms=(
                    TransformStep(name="map_values", params={"table": {"new": "NEW", "reached": "CONNECTED"}}),
                ),
                direction=Direction.BOTH,
                conflict=Conflict.NEWEST_WINS,
            ),
        ),
    )
    messages = [p.message for p in picklist_problems(mapping, {"hs_lead_status": FieldInfo()})]
    assert messages[0] == (
        "hs_lead_status: hub value 'attempting' of stage cannot be written "
        "(map_values: value is not in the value table)"
    )
    assert len(messages) == 9  # eleven stages, two mapped


def test_constants_are_checked_even_when_the_input_is_free_text() -> None:
    lead = default_crm_mapping("salesforce", "Lead")
    values, complete = producible_values(lead.rule_for("Company"))
    assert (values, complete) == (("Patient inquiry",), False)
    describe = describe_for(lead, Company=FieldInfo(picklist_values=frozenset({"Acme"})))
    assert [p.message for p in picklist_problems(lead, describe)] == [
        "Company: 'Patient inquiry' is not an active picklist value"
    ]


def test_picklist_problems_needs_a_crm_mapping() -> None:
    with pytest.raises(ValueError, match="needs a CRM mapping"):
        picklist_problems(default_source_mapping("typeform"), {})
