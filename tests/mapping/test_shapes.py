"""The hub-side shapes ``mapping`` describes without importing the hub agree with the hub."""

from __future__ import annotations

from typing import Any

from hub.inbound.inquiry_schema import InquirySchema
from mapping.paths import parse_path
from mapping.shapes import INQUIRY_FIELDS, LEAD_VIEW_TREE, inquiry_target_problem, lead_view_path_problem


def test_inquiry_fields_are_the_hub_inquiry_schema_fields() -> None:
    assert set(INQUIRY_FIELDS) == set(InquirySchema().fields)


def _leaf_paths(data: Any, prefix: str = "") -> list[str]:
    if isinstance(data, dict) and data:
        return [p for k, v in data.items() for p in _leaf_paths(v, f"{prefix}.{k}" if prefix else k)]
    return [prefix]


def test_every_path_of_a_real_lead_view_is_known(view: dict[str, Any]) -> None:
    for path in _leaf_paths(view):
        assert lead_view_path_problem(parse_path(path)) is None, path


def test_every_known_top_level_field_is_in_a_real_lead_view(view: dict[str, Any]) -> None:
    assert set(LEAD_VIEW_TREE) == set(view)


def test_unknown_lead_view_paths_are_explained() -> None:
    assert "no 'fone' here" in (lead_view_path_problem(parse_path("contact.fone")) or "")
    assert "no sub-fields" in (lead_view_path_problem(parse_path("stage.value")) or "")
    assert lead_view_path_problem(parse_path("external_ids.salesforce")) is None
    assert lead_view_path_problem(parse_path("follow_ups[0].due_at")) is None


def test_inquiry_targets_cover_consent_statements_and_external_ids() -> None:
    assert inquiry_target_problem("consent.sms.granted") is None
    assert inquiry_target_problem("consent.voicemail") is None
    assert inquiry_target_problem("external_ids.typeform:abc123") is None
    assert inquiry_target_problem("consent.sms.when") is not None
    assert inquiry_target_problem("email.domain") == "email has no sub-fields"
