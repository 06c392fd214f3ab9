"""The SOQL parser on its own: literals, escapes and the error layout (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sandboxes.salesforce import soql


def test_datetimes_are_written_the_salesforce_way() -> None:
    moment = datetime(2026, 11, 26, 11, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))

    assert soql.format_datetime(moment) == "2026-11-26T10:00:00.123+0000"


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("2026-11-26T10:00:00Z", datetime(2026, 11, 26, 10, tzinfo=UTC)),
        ("2026-11-26T10:00:00.5Z", datetime(2026, 11, 26, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-26T10:00:00-05:00", datetime(2026, 11, 26, 15, tzinfo=UTC)),
        ("2026-11-26T10:00:00+0100", None),
        ("2026-11-26", None),
        ("2026-13-26T10:00:00Z", None),
    ],
)
def test_datetime_literals(literal: str, expected: datetime | None) -> None:
    parsed = soql.parse_datetime_literal(literal)

    assert parsed == expected


def test_string_escapes_are_understood() -> None:
    query = soql.parse(r"SELECT Id FROM Lead WHERE LastName = 'O\'Brien' OR Company LIKE '100\%%'")

    assert isinstance(query.where, soql.Junction)
    first, second = query.where.items
    assert isinstance(first, soql.Comparison)
    assert isinstance(second, soql.Comparison)
    assert first.value == "o'brien"
    assert second.value.fullmatch("100% natural")
    assert not second.value.fullmatch("1000")


def test_an_unknown_escape_is_malformed() -> None:
    with pytest.raises(soql.SoqlError) as caught:
        soql.parse(r"SELECT Id FROM Lead WHERE LastName = 'a\qb'")

    assert caught.value.error_code == "MALFORMED_QUERY"


def test_errors_point_at_row_and_column_of_multi_line_queries() -> None:
    with pytest.raises(soql.SoqlError) as caught:
        soql.parse("SELECT Id\nFROM Lead\nWHERE Bogus__c = 1")

    assert caught.value.error_code == "INVALID_FIELD"
    assert caught.value.message.startswith("\nWHERE Bogus__c = 1\n      ^\nERROR at Row:3:Column:7\n")


def test_order_records_is_stable_and_places_nulls() -> None:
    query = soql.parse("SELECT Id FROM Lead ORDER BY Score__c DESC NULLS FIRST")
    records = [
        {"Id": "1", "Score__c": "b"},
        {"Id": "2", "Score__c": None},
        {"Id": "3", "Score__c": "B"},
        {"Id": "4", "Score__c": "a"},
    ]

    ordered = soql.order_records(records, query.order_by)

    assert [r["Id"] for r in ordered] == ["2", "1", "3", "4"]
