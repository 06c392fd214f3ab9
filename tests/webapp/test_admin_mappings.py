"""The mapping editor: list, preview on real events and pasted samples, validation, the CRM
pre-flight, save, history, roll back, import and export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from connectors.base import FieldInfo
from connectors.fake import FakeCrm
from hub.app.bootstrap import Hub
from hub.settings import settings_store
from hub.store.models import AuditRow
from mapping.defaults import DEFAULT_MAPPINGS
from mapping.toml_io import from_toml, to_toml
from sandboxes.salesforce.objects import LEAD
from tests.fixtures.clock import ManualClock
from tests.webapp.admin_support import form_values, post, signed_in, text_of
from tests.webapp.conftest import signed

SAMPLES = Path(__file__).resolve().parents[2] / "mapping" / "samples"
EDITOR = "/mappings/typeform_default"


def typeform_sample() -> dict[str, object]:
    payload: dict[str, object] = json.loads((SAMPLES / "typeform_appointment_en.json").read_text(encoding="utf-8"))
    return payload


@pytest.fixture
def admin(app: Flask, hub: Hub) -> FlaskClient:
    return signed_in(app, hub, "admin", "ada")


def rule_index(values: dict[str, str], target: str) -> int:
    for key, value in values.items():
        if key.endswith(".target") and value == target:
            return int(key[len("rules[") : key.index("]")])
    raise AssertionError(f"no rule for {target}")


def editor_values(client: FlaskClient, url: str = EDITOR) -> dict[str, str]:
    return form_values(client.get(url).text, "mapping-form")


def audits(hub: Hub, action: str) -> list[AuditRow]:
    with hub.store.tx() as s:
        return list(s.scalars(select(AuditRow).where(AuditRow.action == action)))


def sf_fields() -> dict[str, FieldInfo]:
    return {
        f.name: FieldInfo(
            name=f.name,
            label=f.label,
            type=f.type,
            writable=f.createable or f.updateable,
            picklist=tuple(p.value for p in f.picklist if p.active) if f.picklist else None,
            restricted=f.restricted,
        )
        for f in LEAD.fields
    }


def connect_fake_salesforce(hub: Hub) -> None:
    """The hub syncing with a Salesforce connector answering with the sandbox org's metadata."""
    hub.connectors = {"salesforce": FakeCrm(system="salesforce", fields=sf_fields())}
    hub.reset_sync()


# --- the list and the read-only view ----------------------------------------------------------------


def test_the_list_shows_every_default_mapping_and_the_sources_using_it(admin: FlaskClient) -> None:
    page = text_of(admin.get("/mappings").text)
    for name in DEFAULT_MAPPINGS:
        assert name in page
    assert "typeform_default Typeform webhooks 1 (built-in) — website_form" in page


def test_a_viewer_reads_the_rules_but_cannot_preview_or_save(app: Flask, hub: Hub) -> None:
    viewer = signed_in(app, hub, "viewer")
    page = viewer.get(EDITOR).text
    assert "read only: your role cannot change mappings" in page
    assert 'id="preview"' not in page and "Save as version" not in page
    values = form_values(page, "mapping-form")
    assert post(viewer, f"{EDITOR}/preview", values).status_code == 403  # type: ignore[attr-defined]
    assert post(viewer, EDITOR, values).status_code == 403  # type: ignore[attr-defined]


def test_an_unknown_mapping_is_a_404_page(admin: FlaskClient) -> None:
    response = admin.get("/mappings/nope")
    assert response.status_code == 404
    assert "There is no mapping called 'nope'" in text_of(response.text)


# --- preview ------------------------------------------------------------------------------------------


def test_the_editor_previews_the_latest_real_events_and_audits_the_view(
    admin: FlaskClient, hub: Hub, clock: ManualClock
) -> None:
    assert signed(admin, "website_form", typeform_sample(), now=clock.now).status_code == 202
    page = admin.get(EDITOR).text
    assert "Event 1 · website_form" in page
    assert '<td class="cell-value" data-target="first_name">Dana</td>' in page  # trimmed by the rule
    assert '<td class="cell-value" data-target="email">dana.whitfield@example.org</td>' in page
    [view] = audits(hub, "inbox.payloads_viewed")
    assert (view.actor, view.subject_id, view.detail) == ("user:1:ada", "typeform_default", {"ids": [1]})
    admin.get(EDITOR)
    assert len(audits(hub, "inbox.payloads_viewed")) == 1  # the same view again within minutes: one entry


def test_changing_a_rule_changes_the_preview(admin: FlaskClient, clock: ManualClock) -> None:
    signed(admin, "website_form", typeform_sample(), now=clock.now)
    values = editor_values(admin)
    i = rule_index(values, "first_name")
    values[f"rules[{i}].transforms[0].name"] = "upper"
    response = post(admin, f"{EDITOR}/preview", values, headers={"X-Requested-With": "fetch"})
    fragment = response.text  # type: ignore[attr-defined]
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert "<html" not in fragment
    assert '<td class="cell-value" data-target="first_name">  DANA </td>' in fragment


def test_the_preview_runs_on_a_pasted_sample_with_errors_in_red(admin: FlaskClient) -> None:
    sample = typeform_sample()
    answers = sample["form_response"]["answers"]  # type: ignore[index]
    answers[3]["phone_number"] = "call me maybe"
    values = {**editor_values(admin), "preview_from": "sample", "sample": json.dumps(sample)}
    fragment = post(admin, f"{EDITOR}/preview", values, headers={"X-Requested-With": "fetch"}).text  # type: ignore[attr-defined]
    assert "Pasted sample" in fragment
    assert '<td class="cell-error" data-target="phone">' in fragment
    assert "e164:" in text_of(fragment)


def test_a_sample_that_is_not_json_is_marked_next_to_the_sample(admin: FlaskClient) -> None:
    values = {**editor_values(admin), "preview_from": "sample", "sample": "{not json"}
    page = post(admin, f"{EDITOR}/preview", values).text  # type: ignore[attr-defined]
    assert 'id="f-sample" name="sample"' in page
    assert "Not JSON" in text_of(page)


def test_without_events_the_preview_says_to_paste_a_sample(admin: FlaskClient) -> None:
    assert "There are no inbound events from its sources yet: paste a sample" in text_of(admin.get(EDITOR).text)


# --- validation --------------------------------------------------------------------------------------


def test_an_invalid_rule_is_refused_with_the_error_next_to_its_field(admin: FlaskClient, hub: Hub) -> None:
    values = editor_values(admin)
    i = rule_index(values, "phone")
    values[f"rules[{i}].transforms[0].params"] = 'region = "XX"'
    response = post(admin, EDITOR, values)
    assert response.status_code == 422  # type: ignore[attr-defined]
    page = response.text  # type: ignore[attr-defined]
    field = f"f-rules-{i}-transforms-0-params"
    assert f'<span class="field-error" id="{field}-error"><span>must be a supported ISO 3166 region code' in page
    assert f'id="{field}" name="rules[{i}].transforms[0].params" rows="1" aria-describedby="{field}-error"' in page
    with hub.store.tx() as s:
        assert settings_store.mapping_for(s, "typeform_default") is None


def test_parameters_that_are_not_toml_are_refused_next_to_the_field(admin: FlaskClient) -> None:
    values = editor_values(admin)
    i = rule_index(values, "phone")
    values[f"rules[{i}].transforms[0].params"] = "region = US"
    page = post(admin, EDITOR, values).text  # type: ignore[attr-defined]
    assert f'id="f-rules-{i}-transforms-0-params-error"><span>write parameters as TOML lines' in page


def test_a_rule_for_a_field_the_hub_does_not_have_is_refused(admin: FlaskClient) -> None:
    values = editor_values(admin)
    blank = max(int(k[6 : k.index("]")]) for k in values if k.startswith("rules["))
    values[f"rules[{blank}].target"] = "favourite_colour"
    values[f"rules[{blank}].sources"] = "form_response.hidden.colour"
    response = post(admin, EDITOR, values)
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert f'id="f-rules-{blank}-target-error"' in response.text  # type: ignore[attr-defined]


def test_an_unknown_transform_is_refused(admin: FlaskClient) -> None:
    values = editor_values(admin)
    i = rule_index(values, "last_name")
    values[f"rules[{i}].transforms[0].name"] = "shout"
    page = post(admin, EDITOR, values).text  # type: ignore[attr-defined]
    assert f'id="f-rules-{i}-transforms-0-name-error"><span>unknown transform' in page


# --- save, history, roll back -----------------------------------------------------------------------


def test_saving_makes_a_new_version_that_the_hub_uses_and_the_history_shows(admin: FlaskClient, hub: Hub) -> None:
    values = editor_values(admin)
    i = rule_index(values, "first_name")
    values[f"rules[{i}].transforms[0].name"] = "title"
    response = post(admin, EDITOR, values)
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert "Saved typeform_default as version 2." in text_of(admin.get(EDITOR).text)
    with hub.store.tx() as s:
        saved = settings_store.mapping_for(s, "typeform_default")
    assert saved is not None and saved.version == 2
    assert saved.rule_for("first_name").transforms[0].name == "title"
    [audit] = audits(hub, "mapping.save")
    assert (audit.actor, audit.subject_id, audit.detail) == ("user:1:ada", "typeform_default", {"version": 2})
    history = text_of(admin.get(f"{EDITOR}/history").text)
    assert "2 in force Saved ada" in history and "1 Built-in default built in" in history


def test_removing_a_rule_saves_the_mapping_without_it(admin: FlaskClient, hub: Hub) -> None:
    values = editor_values(admin)
    values[f"rules[{rule_index(values, 'campaign')}].remove"] = "on"
    assert post(admin, EDITOR, values).status_code == 303  # type: ignore[attr-defined]
    with hub.store.tx() as s:
        saved = settings_store.mapping_for(s, "typeform_default")
    assert saved is not None and "campaign" not in {r.target for r in saved.rules}


def test_a_save_based_on_an_old_version_is_refused(admin: FlaskClient) -> None:
    values = editor_values(admin)
    assert post(admin, EDITOR, values).status_code == 303  # type: ignore[attr-defined]
    response = post(admin, EDITOR, values)  # still says base_version 1
    assert response.status_code == 409  # type: ignore[attr-defined]
    assert "saved version 2 since you opened it" in text_of(response.text)  # type: ignore[attr-defined]


def test_rolling_back_puts_an_old_version_back_as_a_new_one(admin: FlaskClient, hub: Hub) -> None:
    values = editor_values(admin)
    values[f"rules[{rule_index(values, 'first_name')}].transforms[0].name"] = "upper"
    post(admin, EDITOR, values)
    response = post(admin, f"{EDITOR}/rollback", {"version": "1"})
    assert response.status_code == 303  # type: ignore[attr-defined]
    with hub.store.tx() as s:
        current = settings_store.mapping_for(s, "typeform_default")
    assert current is not None and current.version == 3
    assert current.rules == DEFAULT_MAPPINGS["typeform_default"].rules
    assert "Rolled back to version 1" in text_of(admin.get(f"{EDITOR}/history").text)
    compared = text_of(admin.get(f"{EDITOR}/compare?from=2&to=3").text)
    assert "Out" in compared and '"upper"' in compared
    [audit] = audits(hub, "mapping.rollback")
    assert audit.detail == {"version": 3, "restored_from": 1}


def test_exported_toml_imports_back_as_the_next_version(admin: FlaskClient, hub: Hub) -> None:
    exported = admin.get(f"{EDITOR}/export.toml")
    assert exported.headers["Content-Disposition"] == 'attachment; filename="typeform_default-v1.toml"'
    assert from_toml(exported.text) == DEFAULT_MAPPINGS["typeform_default"]
    changed = exported.text.replace('name = "trim"', 'name = "title"', 1)
    response = post(admin, "/mappings/import", {"toml": changed})
    assert response.status_code == 303  # type: ignore[attr-defined]
    with hub.store.tx() as s:
        imported = settings_store.mapping_for(s, "typeform_default")
    assert imported is not None and imported.version == 2
    assert [a.detail for a in audits(hub, "mapping.import")] == [{"version": 2}]


def test_an_invalid_import_is_refused_with_every_problem(admin: FlaskClient) -> None:
    text = to_toml(DEFAULT_MAPPINGS["typeform_default"]).replace('region = "US"', 'region = "XX"')
    response = post(admin, "/mappings/import", {"toml": text})
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert "The file was not imported" in text_of(response.text)  # type: ignore[attr-defined]
    assert "params, region: must be a supported ISO 3166 region code" in text_of(response.text)  # type: ignore[attr-defined]


# --- the CRM pre-flight -----------------------------------------------------------------------------

SF_EDITOR = "/mappings/salesforce_lead_default"


def test_a_value_missing_from_a_restricted_picklist_is_refused_naming_field_and_value(
    admin: FlaskClient, hub: Hub
) -> None:
    connect_fake_salesforce(hub)
    values = editor_values(admin, SF_EDITOR)
    i = rule_index(values, "Status")
    key = f"rules[{i}].transforms[0].params"
    assert "Open - Not Contacted" in values[key]
    values[key] = values[key].replace("Open - Not Contacted", "Brand New")
    response = post(admin, SF_EDITOR, values)
    assert response.status_code == 422  # type: ignore[attr-defined]
    page = response.text  # type: ignore[attr-defined]
    assert f'id="f-rules-{i}-target-error"><span>Status: &#39;Brand New&#39; is not an active picklist value' in page
    with hub.store.tx() as s:
        assert settings_store.mapping_for(s, "salesforce_lead_default") is None


def test_the_preview_shows_the_pre_flight_as_the_admin_types(admin: FlaskClient, hub: Hub) -> None:
    connect_fake_salesforce(hub)
    values = editor_values(admin, SF_EDITOR)
    fine = post(admin, f"{SF_EDITOR}/preview", values, headers={"X-Requested-With": "fetch"}).text  # type: ignore[attr-defined]
    assert "Every field exists in the CRM and every value is one it accepts." in fine
    values[f"rules[{rule_index(values, 'Intent__c')}].target"] = "Intention__c"
    refused = text_of(post(admin, f"{SF_EDITOR}/preview", values, headers={"X-Requested-With": "fetch"}).text)  # type: ignore[attr-defined]
    assert "The CRM would refuse this mapping" in refused
    assert "Intention__c does not exist on salesforce Lead" in refused


def test_a_crm_mapping_that_fits_is_saved_and_the_sync_rebuilt(admin: FlaskClient, hub: Hub) -> None:
    connect_fake_salesforce(hub)
    values = editor_values(admin, SF_EDITOR)
    values[f"rules[{rule_index(values, 'Company')}].transforms[0].params"] = 'constant = "New patient"'
    assert post(admin, SF_EDITOR, values).status_code == 303  # type: ignore[attr-defined]
    assert hub._sync is None  # rebuilt with the new mapping on next use
    with hub.store.tx() as s:
        assert settings_store.crm_mapping_for(s, "salesforce", "Lead").version == 2


def test_without_a_connection_a_crm_mapping_is_saved_unchecked_and_says_so(admin: FlaskClient) -> None:
    values = editor_values(admin, SF_EDITOR)
    assert "Not checked against Salesforce: it is not connected." in text_of(admin.get(SF_EDITOR).text)
    post(admin, SF_EDITOR, values)
    assert "Not checked against Salesforce" in text_of(admin.get(SF_EDITOR).text)
