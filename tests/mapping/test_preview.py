from __future__ import annotations

from typing import Any

from mapping import default_crm_mapping, default_source_mapping, preview
from tests.mapping.conftest import load_payload


def test_preview_lays_out_each_field_across_the_payloads_with_errors_marked() -> None:
    good = load_payload("jotform_referral")
    bad = load_payload("jotform_clinical_es")
    bad["q4_email"] = "mj.delacruz at example"
    table = preview(default_source_mapping("jotform"), [good, bad, {}])
    email = next(row for row in table.rows if row.target == "email")
    assert email.sources == ("q4_email",)
    assert [c.status for c in email.cells] == ["value", "error", "absent"]
    assert email.cells[0].value == "marcus.oneill@example.com"
    assert email.cells[0].source == "q4_email"
    assert email.cells[1].error == "normalize_email: not a valid email address"
    assert "at example" not in repr(table.as_table())
    assert email.has_errors
    assert table.error_count == 1
    assert [row.target for row in table.rows] == [r.target for r in default_source_mapping("jotform").rules]


def test_preview_rows_are_plain_data_for_the_web_ui() -> None:
    rows = preview(default_source_mapping("calcom"), [load_payload("calcom_booking_created")]).as_table()
    phone = next(r for r in rows if r["target"] == "phone")
    assert phone == {
        "target": "phone",
        "sources": ["payload.attendees[0].phoneNumber", "payload.responses.attendeePhoneNumber.value",
                    "payload.responses.phone.value"],
        "has_errors": False,
        "cells": [{"status": "value", "value": "+15125550145", "error": None,
                   "source": "payload.attendees[0].phoneNumber"}],
    }  # fmt: skip


def test_preview_of_a_crm_mapping_shows_the_outbound_fields(view: dict[str, Any]) -> None:
    table = preview(default_crm_mapping("salesforce", "Lead"), [view])
    assert {row.target for row in table.rows} >= {"Status", "Company", "HasOptedOutOfEmail"}
    assert next(r for r in table.rows if r.target == "Status").cells[0].value == "Working - Contacted"
