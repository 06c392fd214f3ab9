"""Settings, ``ensure_schema`` (what ``nurturehub crm setup`` calls), ``describe`` and ``check``."""

from __future__ import annotations

import hubspot
import pytest
from hubspot.crm.properties import PropertyCreate, PropertyUpdate

from connectors.base import OAuthToken, StaticTokens
from connectors.hubspot import HubSpotConnector, HubSpotSettings, TaskIdempotency
from nurture.errors import ConfigError
from nurture.vocab import Intent, Stage
from tests.fixtures.hubspot_connector import FAST, MakeConnector

HUB_CONTACT_PROPERTIES = {
    "nurturehub_id", "nurturehub_intent", "nurturehub_next_action", "nurturehub_next_action_due",
    "nurturehub_owner_queue", "nurturehub_score", "nurturehub_stage", "nurturehub_sms_consent",
    "nurturehub_call_consent", "nurturehub_email_consent", "nurturehub_voicemail_consent",
    "nurturehub_channel", "nurturehub_urgent",
}  # fmt: skip


def test_settings_report_every_problem_at_once() -> None:
    with pytest.raises(ValueError, match="HubSpotSettings") as caught:
        HubSpotSettings(
            api_host="ftp://x", lead_object="deals", id_property="Bad-Name", owners={"Front Desk": "someone"},
            requests_per_second=0, burst=0,
        )  # fmt: skip
    message = str(caught.value)
    for part in (
        "api_host",
        "lead_object",
        "id_property",
        "owners.Front Desk",
        "requests_per_second",
        "burst",
    ):
        assert part in message


def test_settings_defaults_stay_below_hubspots_limits() -> None:
    settings = HubSpotSettings()
    assert settings.burst + 10 * settings.requests_per_second <= 100  # Starter: 100 per rolling 10 s
    assert settings.searches_per_second < 5
    with pytest.raises(TypeError):
        settings.owners["x"] = "1"  # type: ignore[index]


def test_setup_creates_the_group_and_every_property_once(make_hubspot: MakeConnector) -> None:
    connector = make_hubspot(**FAST)
    created = connector.ensure_schema()
    assert set(created) == HUB_CONTACT_PROPERTIES | {"nurturehub_task_key", "nurturehub_outcome"}
    assert connector.task_idempotency is TaskIdempotency.UPSERT
    assert connector.ensure_schema() == []


def test_setup_uses_the_hubs_words_as_options(hubspot_connector: HubSpotConnector) -> None:
    contacts = hubspot_connector.describe("contacts")
    assert contacts["nurturehub_intent"].picklist == tuple(i.value for i in Intent)
    assert contacts["nurturehub_stage"].picklist == tuple(s.value for s in Stage)
    assert contacts["nurturehub_score"].picklist == ("A", "B", "C", "D", "E")
    assert contacts["nurturehub_sms_consent"].picklist == ("granted", "denied", "unknown")
    assert contacts["nurturehub_next_action_due"].type == "datetime"
    assert contacts["nurturehub_urgent"].type == "bool"
    tasks = hubspot_connector.describe("tasks")
    assert tasks["nurturehub_task_key"].unique
    assert tasks["nurturehub_outcome"].picklist == (
        "no_answer",
        "left_voicemail",
        "reached",
        "booked",
        "declined",
    )


def test_describe_reads_picklists_uniqueness_and_read_only(hubspot_connector: HubSpotConnector) -> None:
    fields = hubspot_connector.describe("contacts")
    assert fields["nurturehub_id"].unique
    assert fields["nurturehub_score"].restricted
    assert not fields["lastmodifieddate"].writable
    assert fields["hubspot_owner_id"].picklist is None  # owners are external options
    assert "NEW" in (fields["hs_lead_status"].picklist or ())
    assert hubspot_connector.describe("tasks")["hs_timestamp"].required


def test_describe_of_an_unknown_object_is_a_config_error(hubspot_connector: HubSpotConnector) -> None:
    with pytest.raises(ConfigError, match="leads"):
        hubspot_connector.describe("leads")


@pytest.mark.parametrize("hubspot_unique_objects", [("contacts",)])
def test_when_tasks_refuse_a_unique_property_the_key_falls_back_to_search(
    make_hubspot: MakeConnector, hubspot_client: hubspot.Client
) -> None:
    connector = make_hubspot(**FAST)
    assert "nurturehub_task_key" in connector.ensure_schema()
    assert connector.task_idempotency is TaskIdempotency.SEARCH
    assert not hubspot_client.crm.properties.core_api.get_by_name("tasks", "nurturehub_task_key").has_unique_value
    fresh = make_hubspot(**FAST)  # another worker process, which never ran setup
    assert fresh.task_idempotency is None
    fresh.upsert_tasks([])
    assert fresh.task_idempotency is None  # nothing to write, nothing asked
    assert fresh.tasks.resolve_mode() is TaskIdempotency.SEARCH


def test_an_id_property_that_is_not_unique_is_a_config_error(
    make_hubspot: MakeConnector, hubspot_client: hubspot.Client
) -> None:
    hubspot_client.crm.properties.core_api.create(
        "contacts",
        PropertyCreate(
            name="nurturehub_id",
            label="id",
            type="string",
            field_type="text",
            group_name="contactinformation",
        ),
    )
    with pytest.raises(ConfigError, match="nurturehub_id on contacts exists but is not unique"):
        make_hubspot(**FAST).ensure_schema()


def test_setup_adds_options_the_vocabulary_gained(
    hubspot_connector: HubSpotConnector, hubspot_client: hubspot.Client
) -> None:
    hubspot_client.crm.properties.core_api.update(
        "contacts",
        "nurturehub_score",
        PropertyUpdate(options=[{"label": "A", "value": "A", "displayOrder": 0, "hidden": False}]),
    )
    assert hubspot_connector.describe("contacts")["nurturehub_score"].picklist == ("A",)
    assert hubspot_connector.ensure_schema() == []
    assert hubspot_connector.describe("contacts")["nurturehub_score"].picklist == ("A", "B", "C", "D", "E")


def test_check_reports_todays_usage(hubspot_connector: HubSpotConnector) -> None:
    status = hubspot_connector.check()
    assert status.ok
    assert status.api_limit == 650_000
    assert status.api_used is not None
    assert 0 < status.api_used < 100
    assert "connected to HubSpot" in status.detail


def test_check_with_a_refused_token_says_so(make_hubspot: MakeConnector) -> None:
    status = make_hubspot(tokens=StaticTokens(OAuthToken(access_token="pat-na1-revoked"))).check()
    assert not status.ok
    assert "refused after a refresh" in status.detail
