"""Channel map, specialist queues, cadence and templates: versioned configuration sections, validated
like the config file, errors next to their fields; history, roll back, import and export."""

from __future__ import annotations

import re
import tomllib

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub.app.bootstrap import Hub
from hub.settings import settings_store
from hub.settings.config import HubConfig
from hub.store.models import AuditRow
from nurture.vocab import Channel
from tests.webapp.admin_support import errors_for, form_values, post, signed_in, text_of


@pytest.fixture
def admin(app: Flask, hub: Hub) -> FlaskClient:
    return signed_in(app, hub, "admin", "ada")


def effective(hub: Hub) -> HubConfig:
    with hub.store.tx() as s:
        return settings_store.effective_config(hub.config, s)


def audit_actions(hub: Hub) -> list[tuple[str, str, dict[str, object]]]:
    with hub.store.tx() as s:
        return [(a.action, a.subject_id, a.detail) for a in s.scalars(select(AuditRow).order_by(AuditRow.id))]


def channel_form(client: FlaskClient) -> dict[str, str]:
    return form_values(client.get("/channels").text, "channel-map-form")


def cadence_form(client: FlaskClient) -> dict[str, str]:
    return form_values(client.get("/cadence").text, "cadence-form")


# --- channel map ------------------------------------------------------------------------------------


def test_the_channel_map_shows_queues_targets_templates_and_bound_sources(admin: FlaskClient) -> None:
    page = text_of(admin.get("/channels").text)
    assert "In force: the configuration file's values." in page
    values = channel_form(admin)
    assert values["channels.paid_search.response_minutes"] == "5"
    assert values["channels.paid_search.first_response_template"] == "paid_search"
    assert values["sources.website_form.channel"] == "website_form"
    assert "Website form" in page and "website_form, contact_form" in page


def test_saving_the_channel_map_makes_a_version_in_force_and_audits_it(admin: FlaskClient, hub: Hub) -> None:
    values = channel_form(admin)
    values["channels.website_form.response_minutes"] = "7"
    values["channels.website_form.owner_queue"] = "__new__"  # a new queue is chosen on purpose
    values["channels.website_form.new_queue"] = "Web Team"
    values["sources.intro_call.channel"] = "website_form"
    response = post(admin, "/channels", values)
    assert response.status_code == 303  # type: ignore[attr-defined]
    config = effective(hub)
    website = config.settings.channels[Channel.WEBSITE_FORM]
    assert (website.response_minutes, website.owner_queue) == (7, "Web Team")
    assert config.sources["intro_call"].channel is Channel.WEBSITE_FORM
    assert ("section.save", "channels", {"version": 1}) in audit_actions(hub)
    assert ("section.save", "sources", {"version": 1}) in audit_actions(hub)
    assert "In force: version 1, saved by ada" in text_of(admin.get("/channels").text)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("channels.website_form.response_minutes", "0", "Enter a number from 1 to 10080."),
        ("channels.website_form.response_minutes", "soon", "Enter a whole number, like 15."),
        ("channels.website_form.owner_queue", "", "Choose a queue from the list"),
        ("channels.website_form.first_response_template", "nope", "no template has the id 'nope'"),
    ],
)
def test_an_invalid_channel_value_is_refused_next_to_its_field(
    admin: FlaskClient, hub: Hub, field: str, value: str, message: str
) -> None:
    values = {**channel_form(admin), field: value}
    response = post(admin, "/channels", values)
    assert response.status_code == 422  # type: ignore[attr-defined]
    field_id = "f-" + re.sub(r"[^A-Za-z0-9_]+", "-", field)
    assert message in errors_for(response.text, field_id)  # type: ignore[attr-defined]
    assert f'id="{field_id}" name="{field}"' in response.text  # type: ignore[attr-defined]
    assert 'aria-invalid="true"' in response.text  # type: ignore[attr-defined]
    assert effective(hub) is hub.config  # nothing was stored


def test_a_channel_without_its_own_settings_falls_back_to_other(admin: FlaskClient, hub: Hub) -> None:
    values = channel_form(admin)
    values.pop("channels.webinar.own")
    assert post(admin, "/channels", values).status_code == 303  # type: ignore[attr-defined]
    assert Channel.WEBINAR not in effective(hub).settings.channels


def test_the_specialist_queues_are_validated_and_saved(admin: FlaskClient, hub: Hub) -> None:
    values = form_values(admin.get("/channels").text, "routing-form")
    values["routing.language_queues[1].language"] = "vie"
    values["routing.language_queues[1].queue"] = "Vietnamese Team"
    refused = post(admin, "/channels/routing", values)
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "must be a two-letter language code" in errors_for(refused.text, "f-routing-language_queues")  # type: ignore[attr-defined]
    values["routing.language_queues[1].language"] = "vi"
    assert post(admin, "/channels/routing", values).status_code == 303  # type: ignore[attr-defined]
    assert effective(hub).settings.routing.language_queues == {"es": "Bilingual Team", "vi": "Vietnamese Team"}


def test_a_viewer_sees_the_channel_map_but_cannot_change_it(app: Flask, hub: Hub) -> None:
    viewer = signed_in(app, hub, "viewer")
    page = viewer.get("/channels").text
    assert "<fieldset disabled>" in page and "Save the channel map" not in page
    assert post(viewer, "/channels", form_values(page, "channel-map-form")).status_code == 403  # type: ignore[attr-defined]


def test_changing_the_channel_map_without_a_token_is_refused(admin: FlaskClient, hub: Hub) -> None:
    values = channel_form(admin)
    values.pop("csrf_token")
    assert admin.post("/channels", data=values).status_code == 400
    assert effective(hub) is hub.config


def test_a_save_over_a_newer_version_is_refused(app: Flask, hub: Hub) -> None:
    first = signed_in(app, hub, "admin", "ada")
    second = signed_in(app, hub, "admin", "bea")
    values_1, values_2 = channel_form(first), channel_form(second)
    assert post(first, "/channels", values_1).status_code == 303  # type: ignore[attr-defined]
    response = post(second, "/channels", values_2)
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert "ada saved version 1 since you opened this page" in text_of(response.text)  # type: ignore[attr-defined]


# --- cadence ----------------------------------------------------------------------------------------


def test_cadence_steps_and_offsets_are_changed_added_and_reordered(admin: FlaskClient, hub: Hub) -> None:
    values = cadence_form(admin)
    assert values["cadence.steps[3].key"] == "day3_followup"
    values["cadence.steps[3].day"] = "2"
    values.update(
        {
            "cadence.steps[6].key": "day5_call",
            "cadence.steps[6].label": "Day 5 call",
            "cadence.steps[6].day": "5",
            "cadence.steps[6].action": "call",
            "cadence.steps[6].template": "first_response",
            "cadence.steps[6].position": "4.5",
        }
    )
    assert post(admin, "/cadence", values).status_code == 303  # type: ignore[attr-defined]
    steps = effective(hub).settings.cadence.steps
    assert [s.key for s in steps] == [
        "day0_call",
        "day0_text",
        "day1_call",
        "day3_followup",
        "day5_call",
        "day7_final",
        "close",
    ]
    assert steps[3].day == 2


def test_a_cadence_problem_is_shown_on_the_row_it_belongs_to(admin: FlaskClient, hub: Hub) -> None:
    values = cadence_form(admin)
    values["cadence.steps[0].remove"] = "on"  # the rows after it are renumbered in the document
    values["cadence.steps[4].template"] = ""
    response = post(admin, "/cadence", values)
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert "a contact step needs a template" in errors_for(response.text, "f-cadence-steps-4")  # type: ignore[attr-defined]
    assert effective(hub) is hub.config


def test_a_step_day_out_of_range_is_refused_next_to_the_day(admin: FlaskClient) -> None:
    values = {**cadence_form(admin), "cadence.steps[2].day": "400"}
    response = post(admin, "/cadence", values)
    assert "Enter a number from 0 to 90." in errors_for(
        response.text,  # type: ignore[attr-defined]
        "f-cadence-steps-2-day",
    )


# --- templates ----------------------------------------------------------------------------------------


def template_index(client: FlaskClient, template_id: str, kind: str, language: str) -> int:
    page = client.get("/templates").text
    for index in re.findall(r'href="/templates/(\d+)"', page):
        values = form_values(client.get(f"/templates/{index}").text, "template-form")
        if (values["id"], values["kind"], values["language"]) == (template_id, kind, language):
            return int(index)
    raise AssertionError("no such template")


def test_the_list_shows_the_privacy_checks_verdict(admin: FlaskClient) -> None:
    page = text_of(admin.get("/templates").text)
    assert "missed_call sms en passes" in page


def test_a_text_using_a_field_it_may_not_is_refused_with_the_guards_message(admin: FlaskClient, hub: Hub) -> None:
    index = template_index(admin, "missed_call", "sms", "en")
    values = form_values(admin.get(f"/templates/{index}").text, "template-form")
    values["body"] = "Hi {first_name} {last_name}, about your {service_name}: call {callback_number}."
    response = post(admin, f"/templates/{index}", {**values, "action": "save"})
    assert response.status_code == 422  # type: ignore[attr-defined]
    message = errors_for(response.text, "f-body")  # type: ignore[attr-defined]
    assert "sms templates may not use {last_name}" in message
    assert effective(hub) is hub.config


def test_the_privacy_check_answers_while_editing(admin: FlaskClient) -> None:
    values = form_values(admin.get("/templates/new").text, "template-form")
    values.update({"id": "reminder", "kind": "voicemail", "language": "en", "body": "Hi {first_name}, {location_name}"})
    fragment = post(admin, "/templates/check", values, headers={"X-Requested-With": "fetch"}).text  # type: ignore[attr-defined]
    assert "The privacy check refuses this template" in fragment and "{location_name}" in fragment
    values["body"] = "Hi {first_name}, this is {clinic_name}. Call {callback_number}."
    fragment = post(admin, "/templates/check", values, headers={"X-Requested-With": "fetch"}).text  # type: ignore[attr-defined]
    assert "The privacy check passes this template." in fragment


def test_a_new_template_is_saved_and_a_used_one_cannot_be_deleted(admin: FlaskClient, hub: Hub) -> None:
    values = form_values(admin.get("/templates/new").text, "template-form")
    values.update({"id": "reminder", "kind": "sms", "language": "en", "body": "Hi {first_name}, see you soon!"})
    assert post(admin, "/templates/new", {**values, "action": "save"}).status_code == 303  # type: ignore[attr-defined]
    assert effective(hub).settings.templates.has("reminder")
    channels = {**channel_form(admin), "channels.webinar.first_response_template": "reminder"}
    assert post(admin, "/channels", channels).status_code == 303  # type: ignore[attr-defined]
    index = template_index(admin, "reminder", "sms", "en")
    values = form_values(admin.get(f"/templates/{index}").text, "template-form")
    refused = post(admin, f"/templates/{index}", {**values, "action": "delete"})
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "channels.webinar.first_response_template: no template has the id 'reminder'" in text_of(refused.text)  # type: ignore[attr-defined]
    assert effective(hub).settings.templates.has("reminder")


# --- history, roll back, import and export ---------------------------------------------------------------


def test_a_section_rolls_back_to_an_older_version_and_to_the_file(admin: FlaskClient, hub: Hub) -> None:
    values = channel_form(admin)
    values["channels.website_form.response_minutes"] = "7"
    post(admin, "/channels", values)
    values = channel_form(admin)
    values["channels.website_form.response_minutes"] = "9"
    post(admin, "/channels", values)
    # Before anything changes, the page shows what a roll back would change and asks.
    asked = text_of(admin.get("/settings/channels/rollback?version=1").text)
    assert "Roll the channel map back to version 1?" in asked
    assert "Out response_minutes = 9" in asked and "In response_minutes = 7" in asked
    assert effective(hub).settings.channels[Channel.WEBSITE_FORM].response_minutes == 9
    assert post(admin, "/settings/channels/rollback", {"version": "1"}).status_code == 303  # type: ignore[attr-defined]
    assert effective(hub).settings.channels[Channel.WEBSITE_FORM].response_minutes == 7
    history = text_of(admin.get("/settings/channels/history").text)
    assert "3 in force Rolled back to version 1" in history
    changed = text_of(admin.get("/settings/channels/compare?from=1&to=2").text)
    assert "Out response_minutes = 7" in changed and "In response_minutes = 9" in changed
    post(admin, "/settings/channels/rollback", {"version": "0"})
    assert effective(hub).settings.channels[Channel.WEBSITE_FORM].response_minutes == 15
    assert ("section.rollback", "channels", {"version": 4, "restored_from": 0}) in audit_actions(hub)


def test_a_section_exports_and_imports_as_toml(admin: FlaskClient, hub: Hub) -> None:
    exported = admin.get("/settings/cadence/export.toml").text
    assert tomllib.loads(exported)["cadence"]["steps"][0]["key"] == "day0_call"
    changed = exported.replace("min_gap_minutes = 30", "min_gap_minutes = 45")
    assert post(admin, "/settings/cadence/import", {"toml": changed}).status_code == 303  # type: ignore[attr-defined]
    assert effective(hub).settings.cadence.min_gap.total_seconds() == 45 * 60


def test_an_invalid_import_is_refused_and_says_why(admin: FlaskClient, hub: Hub) -> None:
    response = post(admin, "/settings/cadence/import", {"toml": "[cadence]\nmin_gap_minutes = -1\n"})
    assert response.status_code == 422  # type: ignore[attr-defined]
    page = text_of(response.text)  # type: ignore[attr-defined]
    assert "cadence, min gap minutes: Enter a number from 0 to 1440." in page
    assert "cadence, steps: This is required." in page
    other = post(admin, "/settings/cadence/import", {"toml": "[routing]\nclinical_queue = 'x'\n"})
    assert "the file must hold the [cadence] section only" in text_of(other.text)  # type: ignore[attr-defined]
    assert effective(hub) is hub.config


def test_an_unknown_section_is_a_404(admin: FlaskClient) -> None:
    assert admin.get("/settings/clinic/history").status_code == 404


# --- the store underneath -------------------------------------------------------------------------------


def test_without_stored_sections_the_effective_config_is_the_files(hub: Hub) -> None:
    with hub.store.tx() as s:
        assert settings_store.effective_config(hub.config, s) is hub.config


def test_the_effective_config_is_built_once_per_saved_version(admin: FlaskClient, hub: Hub) -> None:
    """Building it compiles every triage rule: pages reuse it until a section is saved again."""
    values = channel_form(admin)
    values["channels.website_form.response_minutes"] = "7"
    post(admin, "/channels", values)
    first = effective(hub)
    assert effective(hub) is first
    values = channel_form(admin)
    values["channels.website_form.response_minutes"] = "9"
    assert post(admin, "/channels", values).status_code == 303  # type: ignore[attr-defined]
    second = effective(hub)
    assert second is not first and second.settings.channels[Channel.WEBSITE_FORM].response_minutes == 9
    assert effective(hub) is second


def test_every_section_round_trips_through_toml(config: HubConfig) -> None:
    for name in settings_store.SECTIONS:
        text = settings_store.export_section_toml(config, name)
        assert tomllib.loads(text)[name] == settings_store.section_document(config, name)


def test_a_source_keeps_its_secret_and_type_whatever_is_stored(hub: Hub) -> None:
    with hub.store.tx() as s:
        outcome = settings_store.save_sections(
            s, hub.config, {"sources": {"website_form": {"secret_env": "STOLEN"}}}, actor="t", now=hub.clock()
        )
    assert not outcome.ok
    assert outcome.problems == (
        ("sources.website_form.secret_env", "cannot be changed here (only channel, mapping, enabled)"),
    )
