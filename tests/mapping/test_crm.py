"""CRM mappings: a lead's plain view out to Salesforce and HubSpot, and CRM records back."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapping import (
    DEFAULT_MAPPINGS,
    apply,
    apply_inbound,
    apply_outbound,
    default_crm_mapping,
    default_source_mapping,
    is_reversible,
    reverse,
)
from mapping.paths import ABSENT, as_text, resolve
from mapping.spec import FieldMapping, MappingKind, Rule
from mapping.transforms import is_empty
from nurture.vocab import Channel, ConsentState, ContactChannel, Intent, NextActionKind, Score, Stage

CRM_MAPPINGS = [m for m in DEFAULT_MAPPINGS.values() if m.kind is MappingKind.CRM_OBJECT]


def test_a_worked_lead_goes_out_to_a_salesforce_lead(view: dict[str, Any]) -> None:
    result = apply_outbound(default_crm_mapping("salesforce", "Lead"), view)
    assert result.errors == ()
    assert dict(result.values) == {
        "FirstName": "Ana",
        "LastName": "Ruiz",
        "Email": "ana.ruiz@example.org",
        "Phone": "+15125550142",
        "Company": "Patient inquiry",
        "Status": "Working - Contacted",
        "LeadSource": "Web",
        "HasOptedOutOfEmail": True,
        "DoNotCall": False,
        "Nurture_Id__c": "nh_test0001",
        "Intent__c": "insurance_authorization",
        "Next_Action__c": "verify_insurance",
        "Next_Action_Due__c": "2026-12-01T20:00:00Z",
        "Owner_Queue__c": "Billing",
        "Score__c": "C",
        "Stage__c": "attempting",
        "SMS_Consent__c": "granted",
        "Call_Consent__c": "unknown",
        "Email_Consent__c": "denied",
        "Voicemail_Consent__c": "unknown",
        "Preferred_Language__c": "es",
        "Channel__c": "website_form",
        "Urgent__c": False,
    }


def test_a_salesforce_contact_has_no_company_or_status(view: dict[str, Any]) -> None:
    values = apply_outbound(default_crm_mapping("salesforce", "Contact"), view).values
    assert "Company" not in values
    assert "Status" not in values
    assert values["HasOptedOutOfEmail"] is True


def test_a_worked_lead_goes_out_to_hubspot_contact_properties(view: dict[str, Any]) -> None:
    result = apply_outbound(default_crm_mapping("hubspot", "contacts"), view)
    assert result.errors == ()
    assert result.values["hs_lead_status"] == "ATTEMPTED_TO_CONTACT"
    assert result.values["hs_language"] == "es"
    assert result.values["nurturehub_next_action_due"] == "2026-12-01T20:00:00Z"
    assert result.values["nurturehub_urgent"] == "false"
    assert result.values["nurturehub_email_consent"] == "denied"


@pytest.mark.parametrize(
    ("stage", "status", "hs_status"),
    [
        (Stage.NEW, "Open - Not Contacted", "NEW"),
        (Stage.REACHED, "Working - Contacted", "CONNECTED"),
        (Stage.KEPT, "Working - Contacted", "OPEN_DEAL"),  # seen, but not converted: staff convert leads
        (Stage.NO_SHOW, "Working - Contacted", "OPEN_DEAL"),
        (Stage.DUPLICATE, "Closed - Not Converted", "UNQUALIFIED"),
    ],
)
def test_every_stage_has_a_crm_status(view: dict[str, Any], stage: Stage, status: str, hs_status: str) -> None:
    view["stage"] = stage.value
    assert apply_outbound(default_crm_mapping("salesforce", "Lead"), view).values["Status"] == status
    assert apply_outbound(default_crm_mapping("hubspot", "contacts"), view).values["hs_lead_status"] == hs_status


@pytest.mark.parametrize("stage", list(Stage))
def test_the_default_lead_mapping_never_writes_a_converted_status(view: dict[str, Any], stage: Stage) -> None:
    view["stage"] = stage.value
    assert apply_outbound(default_crm_mapping("salesforce", "Lead"), view).values["Status"] != "Closed - Converted"


def test_a_lead_without_a_last_name_gets_a_placeholder_that_does_not_come_back(view: dict[str, Any]) -> None:
    view["contact"]["last_name"] = ""
    mapping = default_crm_mapping("salesforce", "Lead")
    out = apply_outbound(mapping, view)
    assert out.values["LastName"] == "Unknown"
    assert "contact.last_name" in apply_inbound(mapping, dict(out.values)).absent


def test_an_opt_out_ticked_in_salesforce_comes_back_as_a_denial() -> None:
    mapping = default_crm_mapping("salesforce", "Lead")
    back = apply_inbound(mapping, {"DoNotCall": True, "HasOptedOutOfEmail": False, "Email": "ANA@example.org"})
    assert back.values == {"consent.call.state": "denied", "contact.email": "ana@example.org"}
    assert "consent.email.state" in back.absent  # "not opted out" says nothing about consent


def test_two_crm_fields_that_disagree_about_one_hub_field_keep_the_first_and_warn() -> None:
    back = apply_inbound(default_crm_mapping("salesforce", "Lead"), {"DoNotCall": True, "Call_Consent__c": "granted"})
    assert back.values["consent.call.state"] == "denied"
    assert back.warnings == (("consent.call.state", "DoNotCall and Call_Consent__c disagree; kept DoNotCall"),)


def test_a_status_changed_by_staff_is_observed_though_it_cannot_map_back() -> None:
    back = apply_inbound(default_crm_mapping("salesforce", "Lead"), {"Status": "Working - Contacted"})
    assert back.values == {}
    assert back.observed == {"Status": "Working - Contacted"}


def test_inbound_skips_hub_owned_fields_but_reverse_reads_every_reversible_rule() -> None:
    mapping = default_crm_mapping("hubspot", "contacts")
    record = {"nurturehub_score": "A", "nurturehub_urgent": "true", "hs_language": "es"}
    assert apply_inbound(mapping, record).values == {"preferred_language": "es"}
    assert reverse(mapping, record).values == {"score": "A", "urgent": True, "preferred_language": "es"}


def test_a_crm_value_that_cannot_be_reversed_is_a_field_error_without_the_value() -> None:
    back = apply_inbound(
        default_crm_mapping("salesforce", "Lead"), {"Phone": "call the front desk", "FirstName": "Ana"}
    )
    assert back.errors == (("contact.phone", "from Phone: e164: not a valid phone number"),)
    assert back.values == {"contact.first_name": "Ana"}


def test_crm_functions_refuse_source_mappings() -> None:
    typeform = default_source_mapping("typeform")
    for fn in (apply_outbound, apply_inbound, reverse):
        with pytest.raises(ValueError, match="needs a CRM mapping"):
            fn(typeform, {})


def test_apply_on_a_crm_mapping_is_apply_outbound(view: dict[str, Any]) -> None:
    mapping = default_crm_mapping("hubspot", "contacts")
    assert apply(mapping, view) == apply_outbound(mapping, view)


# --- the round trip -----------------------------------------------------------------------------------

_NAME = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20).map(str.strip)
_PHONE = st.integers(100, 199).map(lambda n: f"+1512555{n:04d}") | st.none()
_EMAIL = st.from_regex(r"[a-z0-9][a-z0-9._]{0,15}@[a-z0-9]{1,10}\.(org|com|net)", fullmatch=True) | st.none()
_STATE = st.sampled_from([s.value for s in ConsentState])
_OPTIONAL_TEXT = st.none() | st.text(max_size=12).map(str.strip)


@st.composite
def lead_views(draw: st.DrawFn) -> dict[str, Any]:
    """Lead-view-like dicts: the shape of ``hub.coordinator.views.lead_view``, values as the hub stores them."""
    has_action = draw(st.booleans())
    return {
        "id": draw(st.from_regex(r"nh_[a-z0-9]{8}", fullmatch=True)),
        "stage": draw(st.sampled_from([s.value for s in Stage])),
        "intent": draw(st.none() | st.sampled_from([i.value for i in Intent])),
        "needs": [],
        "urgent": draw(st.booleans()),
        "score": draw(st.none() | st.sampled_from([s.value for s in Score])),
        "next_action": {
            "kind": draw(st.sampled_from([k.value for k in NextActionKind])),
            "due_at": draw(st.datetimes(timezones=st.just(UTC))).isoformat().replace("+00:00", "Z"),
            "owner_queue": draw(st.sampled_from(["Front Desk", "Billing", "Clinical Triage"])),
            "reason": "",
        }
        if has_action
        else None,
        "channel": draw(st.sampled_from([c.value for c in Channel])),
        "preferred_language": draw(st.sampled_from(["en", "es", "vi", "zh"])),
        "consent": {
            c.value: {"state": draw(_STATE), "source": None, "at": None, "wording": None} for c in ContactChannel
        },
        "external_ids": {},
        "contact": {
            "first_name": draw(_NAME),
            "last_name": draw(_NAME),
            "phone": draw(_PHONE),
            "email": draw(_EMAIL),
        },
        "campaign": draw(_OPTIONAL_TEXT),
    }


def _means_no_information(rule: Rule, crm_value: Any) -> bool:
    """The CRM value is a constant that reverses to "no information" (a map_values or default constant)."""
    for step in rule.transforms:
        constant = step.options.get("constant", step.options.get("default", ABSENT))
        if constant is not ABSENT and as_text(constant) == as_text(crm_value):
            return True
    return False


@pytest.mark.parametrize("mapping", CRM_MAPPINGS, ids=lambda m: m.name)
@settings(max_examples=60, deadline=None)
@given(view=lead_views())
def test_reverse_of_outbound_gives_back_the_hub_values_of_every_reversible_rule(
    mapping: FieldMapping, view: dict[str, Any]
) -> None:
    out = apply_outbound(mapping, view)
    assert out.errors == ()
    back = reverse(mapping, dict(out.values))
    assert back.errors == ()
    for rule in mapping.outbound_rules():
        if not is_reversible(rule):
            continue
        hub_path = rule.sources[0]
        original = resolve(view, hub_path)
        if hub_path in back.values:
            assert back.values[hub_path] == original, rule.target
        elif not is_empty(original):
            assert _means_no_information(rule, out.values[rule.target]), rule.target
