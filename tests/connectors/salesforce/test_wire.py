"""The connector's pure parts: settings, SOQL text, datetimes, call results and the error table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from connectors.salesforce import SalesforceSettings
from connectors.salesforce.errors import Action, VendorError, classify, redact
from connectors.salesforce.soql import (
    datetime_literal,
    format_datetime,
    in_chunks,
    normalise_outcome,
    parse_datetime,
    quote,
    select,
)
from nurture.errors import ConfigError


def test_settings_report_every_problem_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        SalesforceSettings(
            api_version="45.0",
            lead_object="Opportunity",
            external_id_field="Nurture Id",
            task_date_timezone="Mars/Olympus",
            burst=0,
        )
    problems = "\n".join(caught.value.problems)
    for key in ("api_version", "lead_object", "external_id_field", "task_date_timezone", "burst"):
        assert key in problems
    assert len(caught.value.problems) == 5


def test_contacts_cannot_be_owned_by_a_queue() -> None:
    with pytest.raises(ConfigError, match="lead_queue_owners"):
        SalesforceSettings(lead_object="Contact", lead_queue_owners={"Front Desk": "Front_Desk"})


def test_settings_are_immutable() -> None:
    settings = SalesforceSettings(task_owners={"Front Desk": "dana@example.org"})
    with pytest.raises(TypeError):
        settings.task_owners["Front Desk"] = "someone else"  # type: ignore[index]


def test_values_are_quoted_and_names_checked() -> None:
    assert quote("O'Brien\\n") == "'O\\'Brien\\\\n'"
    assert select(["Id", "Nurture_Id__c"], "Lead", where="Id != null", order_by=["Id"]) == (
        "SELECT Id, Nurture_Id__c FROM Lead WHERE Id != null ORDER BY Id"
    )
    with pytest.raises(ValueError, match="API name"):
        select(["Id FROM User WHERE Name = 'x'--"], "Lead")


def test_datetime_literals_are_utc_with_z_floored_to_the_second() -> None:
    austin = timezone(timedelta(hours=-6))
    moment = datetime(2026, 11, 26, 4, 0, 0, 999000, tzinfo=austin)
    assert datetime_literal(moment) == "2026-11-26T10:00:00Z"
    assert format_datetime(moment) == "2026-11-26T10:00:00.999Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        datetime_literal(datetime(2026, 11, 26))


def test_salesforce_stamps_parse_to_aware_datetimes() -> None:
    assert parse_datetime("2026-11-26T10:00:00.000+0000") == datetime(2026, 11, 26, 10, tzinfo=UTC)
    assert parse_datetime("2026-11-26T10:00:00Z") == datetime(2026, 11, 26, 10, tzinfo=UTC)


def test_in_lists_are_cut_by_count_and_by_url_length() -> None:
    assert [len(c) for c in in_chunks([f"id{i}" for i in range(450)])] == [200, 200, 50]
    long_keys = [f"nh_{'x' * 100}:{i}" for i in range(200)]
    chunks = list(in_chunks(long_keys))
    assert len(chunks) > 1
    assert [key for chunk in chunks for key in chunk] == long_keys


@pytest.mark.parametrize(
    ("said", "outcome"),
    [
        ("No Answer", "no_answer"),
        ("no_answer", "no_answer"),
        ("Left VM", "left_voicemail"),
        ("Voicemail", "left_voicemail"),
        ("No answer - left voicemail", "left_voicemail"),
        ("Spoke with patient", "reached"),
        ("Booked", "booked"),
        ("Scheduled", "booked"),
        ("Spoke with patient, booked for Tuesday", "booked"),
        ("Not interested", "declined"),
        ("Declined to book", "declined"),
        ("Declined", "declined"),
        ("Wrong number", None),
        ("", None),
        (None, None),
    ],
)
def test_call_results_are_normalised(said: str | None, outcome: str | None) -> None:
    assert normalise_outcome(said) == outcome


@pytest.mark.parametrize(
    ("status", "code", "message", "action"),
    [
        (401, "INVALID_SESSION_ID", "Session expired or invalid", Action.REFRESH),
        (403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", Action.BUDGET),
        (403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.", Action.WAIT),
        (403, "API_DISABLED_FOR_ORG", "API is not enabled for this Organization", Action.CONFIG),
        (429, "REQUEST_LIMIT_EXCEEDED", "Too many requests", Action.WAIT),
        (503, "SERVER_UNAVAILABLE", "Server temporarily unavailable", Action.WAIT),
        (500, "UNKNOWN_EXCEPTION", "An unexpected error occurred", Action.WAIT),
        (400, "INVALID_FIELD", "No such column 'X__c' on sobject of type Lead", Action.CONFIG),
        (400, "INVALID_TYPE", "sObject type 'Foo' is not supported.", Action.CONFIG),
        (400, "INVALID_QUERY_LOCATOR", "invalid query locator", Action.RETRY_LATER),
        (400, "JSON_PARSER_ERROR", "Cannot deserialize instance of boolean", Action.RECORD),
        (404, "NOT_FOUND", "The requested resource does not exist", Action.CONFIG),
        (400, "MALFORMED_QUERY", "unexpected token", Action.FATAL),
        (300, "", "", Action.FATAL),
    ],
)
def test_the_error_table(status: int, code: str, message: str, action: Action) -> None:
    content = [{"errorCode": code, "message": message}] if code else "<html>"
    assert classify(VendorError.of(status, content)) is action


@pytest.mark.parametrize(
    ("message", "kept"),
    [
        (
            "Score: bad value for restricted picklist field: Zebulon",
            "Score: bad value for restricted picklist field",
        ),
        (
            "Last Name: data value too large: Quarkwright Quarkwright (max length=80)",
            "Last Name: data value too large (max length=80)",
        ),
        ("Email: invalid email address: zebulon@canary", "Email: invalid email address"),
        (
            'Cannot deserialize instance of boolean from VALUE_STRING value "Zebulon" or request may be'
            " missing a required field",
            "Cannot deserialize instance of boolean from VALUE_STRING value",
        ),
        ("Required fields are missing: [Company]", "Required fields are missing: [Company]"),
    ],
)
def test_messages_lose_the_values_salesforce_echoes(message: str, kept: str) -> None:
    assert redact(message) == kept


def test_any_record_value_left_in_a_message_is_blanked() -> None:
    assert redact("Rule fired for Zebulon at 5125550199", ["Zebulon", "5125550199", "A", True]) == (
        "Rule fired for … at …"
    )
