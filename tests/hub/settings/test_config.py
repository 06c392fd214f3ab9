from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from hub.connections.crm import load_crm_settings
from hub.settings.config import load_config, parse_config
from nurture.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[3] / "config.example.toml"


def example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, environ={})
    return info.value.problems


def test_the_example_is_the_embedded_default() -> None:
    packaged = Path(__file__).resolve().parents[3] / "hub" / "settings" / "defaults.toml"
    assert packaged.read_text(encoding="utf-8") == EXAMPLE.read_text(encoding="utf-8")
    assert load_config(None, environ={}).settings.clinic_name == "Riverbend Family Health"


def test_every_problem_is_reported_at_once_with_its_key() -> None:
    raw = example()
    raw["clinic"]["timezone"] = "Mars/Olympus"
    raw["channels"]["website_form"]["response_minutes"] = 0
    raw["clinic"]["hours"]["mon"] = ["8am-noon"]
    raw["consent"]["quiet_hours"] = "21:00-08:00"
    raw["cadence"]["steps"][0]["action"] = "fax"
    found = problems(raw)
    keys = {p.split(":", 1)[0] for p in found}
    assert {
        "clinic.timezone",
        "channels.website_form.response_minutes",
        "clinic.hours.mon[0]",
        "consent.quiet_hours",
        "cadence.steps[0].action",
    } <= keys
    assert any("unknown time zone 'Mars/Olympus'" in p for p in found)


def test_unknown_keys_are_errors_not_silently_ignored() -> None:
    raw = example()
    raw["clinic"]["timezon"] = "America/Chicago"
    assert any(p.startswith("clinic.timezon: Unknown field") for p in problems(raw))


def test_secrets_are_refused_in_the_file() -> None:
    raw = example()
    raw["crm"] = {"hubspot": {"client_secret": "abc123def"}}
    found = problems(raw)
    assert any(p.startswith("crm.hubspot.client_secret: secrets do not belong") for p in found)
    assert not any("abc123def" in p for p in found)


def test_cross_references_are_checked() -> None:
    raw = example()
    raw["cadence"]["steps"][2]["template"] = "no_such_template"
    raw["channels"]["paid_search"]["first_response_template"] = "nope"
    del raw["channels"]["other"]
    found = problems(raw)
    assert any(p.startswith("cadence.steps[2].template: no template") for p in found)
    assert any(p.startswith("channels.paid_search.first_response_template") for p in found)
    assert any(p.startswith("channels.other: required") for p in found)


def test_templates_that_fail_the_phi_guard_are_refused_at_start_up() -> None:
    raw = example()
    raw["templates"].append({"id": "leaky", "kind": "sms", "language": "en", "body": "Your {service_name} visit"})
    assert any("may not use {service_name}" in p for p in problems(raw))


def test_unknown_triage_keys_name_the_choices() -> None:
    raw = example()
    raw["triage"]["keywords"] = {"intents": {"en": {"booking": ["book"]}}}
    assert any(p.startswith("triage.keywords.intents.en.booking: unknown; use one of") for p in problems(raw))


def test_a_wrong_triage_rule_is_named_by_its_index() -> None:
    raw = example()
    raw["triage"]["rules"] = [
        {"lang": "en", "intent": "ready_to_schedule", "any": ["book me"]},
        {"lang": "en", "intent": "booking", "any": ["x"]},
        {"lang": "en", "service": "acupuncture", "any": ["needles"]},
        {"lang": "en", "any": ["hello"]},
    ]
    found = problems(raw)
    assert any(p.startswith("triage.rules[1]:") and "booking" in p for p in found)
    assert any(p.startswith("triage.rules[2].service: no service has the id 'acupuncture'") for p in found)
    assert any(p.startswith("triage.rules[3]:") and "implies nothing" for p in found)
    assert not any(p.startswith("triage.rules[0]") for p in found)


def test_the_older_keyword_form_still_adds_rules() -> None:
    raw = example()
    raw["triage"]["keywords"] = {"red_flags": {"en": {"urgent": ["thunderclap"]}}}
    config = parse_config(raw, environ={})
    assert any(r.red_flag and "thunderclap" in r.phrases for r in config.settings.triage.rules)


def test_a_syntax_error_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[clinic\nname = 1", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(bad, environ={})
    assert info.value.source == str(bad)
    assert info.value.problems[0].startswith("(syntax)")


def test_the_database_url_comes_from_the_environment_first() -> None:
    config = load_config(None, environ={"NURTUREHUB_DATABASE_URL": "postgresql+psycopg://db/x"})
    assert config.effective_database_url == "postgresql+psycopg://db/x"
    assert load_config(None, environ={}).effective_database_url.startswith("sqlite:///")


def test_stricter_state_hours_and_custom_keywords_reach_the_domain() -> None:
    config = load_config(None, environ={})
    assert str(config.settings.contact.window_for("FL").end) == "20:00:00"
    assert any("worst headache of my life" in r.phrases and r.red_flag for r in config.settings.triage.rules)
    assert config.settings.urgent.after_hours_queue == "After-hours Nurse Line"


def test_the_commented_crm_sections_of_the_example_are_valid_when_uncommented() -> None:
    """The documented [crm.*] blocks are what an admin copies: they must load as written."""
    text = EXAMPLE.read_text(encoding="utf-8")
    start = text.index("# [crm.salesforce]")
    end = text.index("\n\n", start)
    block = "\n".join(line.removeprefix("# ") for line in text[start:end].splitlines() if line != "#")
    crm = load_crm_settings(tomllib.loads(block))
    salesforce, hubspot = crm["salesforce"], crm["hubspot"]
    assert salesforce.enabled and hubspot.enabled
    assert salesforce.options["object"] == "Lead" and salesforce.options["person_record_type"] == "PersonAccount"
    assert salesforce.token_url == "https://login.salesforce.com/services/oauth2/token"
    assert salesforce.options["task_owners"]["Clinical"] == "nurse.triage@clinic.example"
    assert hubspot.token_url == "https://api.hubapi.com/oauth/v1/token"
    assert "crm.objects.contacts.write" in hubspot.scopes


def test_person_accounts_are_a_salesforce_object_choice() -> None:
    crm = load_crm_settings({"crm": {"salesforce": {"object": "Account", "person_record_type": "Patient"}}})
    assert crm["salesforce"].options["object"] == "Account"
    with pytest.raises(ConfigError) as info:
        load_crm_settings({"crm": {"salesforce": {"object": "Opportunity"}}})
    assert any(p.startswith("crm.salesforce.object:") for p in info.value.problems)


def test_the_crm_sections_reach_the_connectors_with_the_clinics_zone() -> None:
    from connectors.hubspot import HubSpotConnector
    from connectors.salesforce import SalesforceConnector
    from hub.connections.crm import build_connector

    crm = load_crm_settings(
        {"crm": {"salesforce": {"enabled": True, "burst": 5, "lead_queue_owners": {"Front Desk": "Front_Desk"}},
                 "hubspot": {"enabled": True, "burst": 20, "requests_per_second": 17}}}
    )  # fmt: skip
    salesforce = build_connector(crm["salesforce"], None, clinic_timezone="America/Chicago")  # type: ignore[arg-type]
    hubspot = build_connector(crm["hubspot"], None, clinic_timezone="America/Chicago")  # type: ignore[arg-type]

    assert isinstance(salesforce, SalesforceConnector) and isinstance(hubspot, HubSpotConnector)
    # A task due at 18:30 in Austin is due that day there, not on the next (UTC) day.
    assert salesforce.settings.task_date_timezone == "America/Chicago"
    assert (salesforce.settings.burst, dict(salesforce.settings.lead_queue_owners)) == (5, {"Front Desk": "Front_Desk"})
    assert (hubspot.settings.burst, hubspot.settings.requests_per_second) == (20, 17)
