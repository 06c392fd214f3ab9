"""SOQL through simple-salesforce: operators, ordering, nulls, paging, errors, incremental pulls."""

# ruff: noqa: S608 - the SOQL here is built from test constants, and the sandbox is the target

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from tests.fixtures.clock import ManualClock
from tests.fixtures.salesforce_sandbox import SalesforceOrg


def typed(sobject: str, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": sobject}, **fields}


def bulk_create(sf: Salesforce, records: list[dict[str, Any]]) -> list[str]:
    ids: list[str] = []
    for start in range(0, len(records), 200):
        results = sf.restful("composite/sobjects", method="POST", json={"records": records[start : start + 200]})
        assert all(r["success"] for r in results)
        ids.extend(r["id"] for r in results)
    return ids


@pytest.fixture
def people(sf: Salesforce) -> dict[str, str]:
    """Five leads with a spread of values (and some nulls)."""
    rows = [
        ("Ana", "Rivera", "A", "2026-11-26T09:00:00Z", "ana@example.org", True),
        ("Bo", "Ng", "B", "2026-11-26T11:30:00Z", None, False),
        ("Cy", "Okafor", None, None, "cy@example.org", False),
        (None, "Diaz", "C", "2026-11-27T08:00:00-05:00", "d@example.org", True),
        ("Eve", "abbott", "A", "2026-11-25T23:59:59Z", None, False),
    ]
    ids = bulk_create(
        sf,
        [
            typed(
                "Lead",
                FirstName=f,
                LastName=last,
                Company="Self",
                Score__c=s,
                Next_Action_Due__c=d,
                Email=e,
                Urgent__c=u,
            )
            for f, last, s, d, e, u in rows
        ],
    )
    return {row[1]: lead_id for row, lead_id in zip(rows, ids, strict=True)}


def names(sf: Salesforce, where: str, order: str = "ORDER BY LastName") -> list[str]:
    records = sf.query(f"SELECT LastName FROM Lead WHERE {where} {order}")["records"]
    return [r["LastName"] for r in records]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Score__c = 'A'", ["abbott", "Rivera"]),
        ("Score__c = 'a'", ["abbott", "Rivera"]),
        ("Score__c != 'A'", ["Diaz", "Ng", "Okafor"]),
        ("Score__c <> 'A'", ["Diaz", "Ng", "Okafor"]),
        ("Score__c < 'B'", ["abbott", "Rivera"]),
        ("Score__c <= 'B'", ["abbott", "Ng", "Rivera"]),
        ("Score__c > 'A'", ["Diaz", "Ng"]),
        ("Score__c >= 'C'", ["Diaz"]),
        ("Score__c = null", ["Okafor"]),
        ("Score__c != null", ["abbott", "Diaz", "Ng", "Rivera"]),
        ("Score__c IN ('B', 'C')", ["Diaz", "Ng"]),
        ("Score__c NOT IN ('B', 'C')", ["abbott", "Okafor", "Rivera"]),
        ("LastName LIKE 'o%'", ["Okafor"]),
        ("LastName LIKE '%a%'", ["abbott", "Diaz", "Okafor", "Rivera"]),
        ("LastName LIKE '_g'", ["Ng"]),
        ("Email LIKE '%@example.org'", ["Diaz", "Okafor", "Rivera"]),
        ("Urgent__c = true", ["Diaz", "Rivera"]),
        ("Urgent__c = false AND Email = null", ["abbott", "Ng"]),
        ("Score__c = 'A' OR Score__c = 'C'", ["abbott", "Diaz", "Rivera"]),
        ("NOT Score__c = 'A'", ["Diaz", "Ng", "Okafor"]),
        ("(Score__c = 'A' OR Score__c = 'B') AND Urgent__c = false", ["abbott", "Ng"]),
        ("NOT (Score__c = 'A' OR Email = null)", ["Diaz", "Okafor"]),
        ("Next_Action_Due__c > 2026-11-26T10:00:00Z", ["Diaz", "Ng"]),
        ("Next_Action_Due__c >= 2026-11-26T10:00:00+01:00", ["Diaz", "Ng", "Rivera"]),
        ("Next_Action_Due__c < 2026-11-26T00:00:00.000Z", ["abbott"]),
        ("Next_Action_Due__c = 2026-11-27T13:00:00Z", ["Diaz"]),
    ],
)
def test_where_operators(sf: Salesforce, people: dict[str, str], where: str, expected: list[str]) -> None:
    assert names(sf, where) == sorted(expected, key=str.casefold)


def test_id_filters_accept_15_and_18_character_ids(sf: Salesforce, people: dict[str, str]) -> None:
    rivera = people["Rivera"]

    assert names(sf, f"Id = '{rivera}'") == ["Rivera"]
    assert names(sf, f"Id IN ('{rivera[:15]}', '{people['Ng']}')") == ["Ng", "Rivera"]


def test_date_literals_filter_date_fields(sf: Salesforce) -> None:
    bulk_create(sf, [typed("Task", Subject=f"Day {d}", ActivityDate=f"2026-11-{d}") for d in (25, 26, 27)])

    records = sf.query("SELECT Subject FROM Task WHERE ActivityDate >= 2026-11-26 ORDER BY ActivityDate DESC")

    assert [r["Subject"] for r in records["records"]] == ["Day 27", "Day 26"]


def test_order_by_several_fields_with_null_placement(sf: Salesforce, people: dict[str, str]) -> None:
    def order(clause: str) -> list[str]:
        return [r["LastName"] for r in sf.query(f"SELECT LastName FROM Lead ORDER BY {clause}")["records"]]

    assert order("Score__c, LastName") == ["Okafor", "abbott", "Rivera", "Ng", "Diaz"]
    assert order("Score__c DESC, LastName DESC") == ["Diaz", "Ng", "Rivera", "abbott", "Okafor"]
    assert order("Score__c ASC NULLS LAST, LastName") == ["abbott", "Rivera", "Ng", "Diaz", "Okafor"]
    assert order("Score__c DESC NULLS FIRST, LastName") == ["Okafor", "Diaz", "Ng", "abbott", "Rivera"]
    assert order("FirstName NULLS LAST") == ["Rivera", "Ng", "Okafor", "abbott", "Diaz"]


def test_limit_and_offset(sf: Salesforce, people: dict[str, str]) -> None:
    result = sf.query("SELECT LastName FROM Lead ORDER BY LastName LIMIT 2 OFFSET 1")

    assert result["totalSize"] == 2
    assert [r["LastName"] for r in result["records"]] == ["Diaz", "Ng"]


def test_count_returns_total_size_without_records(sf: Salesforce, people: dict[str, str]) -> None:
    assert sf.query("select count() from lead where Urgent__c = true") == {
        "totalSize": 2,
        "done": True,
        "records": [],
    }


def test_records_carry_attributes_and_canonical_field_names(sf: Salesforce, people: dict[str, str]) -> None:
    record = sf.query("select id, lastname, next_action_due__c from LEAD where lastname = 'rivera'")["records"][0]

    assert record == {
        "attributes": {"type": "Lead", "url": f"/services/data/v59.0/sobjects/Lead/{people['Rivera']}"},
        "Id": people["Rivera"],
        "LastName": "Rivera",
        "Next_Action_Due__c": "2026-11-26T09:00:00.000+0000",
    }


def test_query_all_follows_next_records_url_over_4500_records(sf: Salesforce) -> None:
    bulk_create(sf, [typed("Lead", LastName=f"L{n:04d}", Company="Self") for n in range(4500)])

    first = sf.query("SELECT Id, LastName FROM Lead ORDER BY LastName")
    everything = sf.query_all("SELECT Id, LastName FROM Lead ORDER BY LastName")

    assert first["totalSize"] == 4500
    assert first["done"] is False
    assert len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-2000")
    assert len(first["nextRecordsUrl"].rsplit("/", 1)[1].split("-")[0]) == 18
    assert everything["totalSize"] == 4500
    assert [r["LastName"] for r in everything["records"]] == [f"L{n:04d}" for n in range(4500)]


def test_query_more_by_url_and_by_identifier(sf: Salesforce) -> None:
    bulk_create(sf, [typed("Lead", LastName=f"L{n:04d}", Company="Self") for n in range(2400)])
    first = sf.query("SELECT LastName FROM Lead ORDER BY LastName")
    locator = first["nextRecordsUrl"].rsplit("/", 1)[1]

    by_url = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    by_id = sf.query_more(locator)

    assert by_url == by_id
    assert by_url["done"] is True
    assert "nextRecordsUrl" not in by_url
    assert [r["LastName"] for r in by_url["records"]] == [f"L{n:04d}" for n in range(2000, 2400)]


def test_batch_size_header_changes_the_page_size(sf: Salesforce) -> None:
    bulk_create(sf, [typed("Lead", LastName=f"L{n}", Company="Self") for n in range(600)])

    small = sf.query("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=250"})
    tiny = sf.query("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=10"})

    assert len(small["records"]) == 250
    assert small["nextRecordsUrl"].endswith("-250")
    assert len(tiny["records"]) == 200  # Salesforce's minimum batch size


def test_unknown_query_locator_is_invalid_query_locator(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query_more("01g5g0000000000AAA-2000")

    assert caught.value.content == [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}]


def test_query_all_includes_deleted_records(sf: Salesforce, people: dict[str, str]) -> None:
    sf.Lead.delete(people["Ng"])

    live = sf.query("SELECT Id FROM Lead")
    everything = sf.query_all("SELECT Id, IsDeleted FROM Lead WHERE IsDeleted = true", include_deleted=True)

    assert live["totalSize"] == 4
    assert [r["Id"] for r in everything["records"]] == [people["Ng"]]


def soql_error(sf: Salesforce, query: str) -> dict[str, Any]:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query(query)
    error: dict[str, Any] = caught.value.content[0]
    return error


def test_malformed_query_points_at_the_token(sf: Salesforce) -> None:
    error = soql_error(sf, "SELECT Id FORM Lead")

    assert error == {
        "message": "\nSELECT Id FORM Lead\n          ^\nERROR at Row:1:Column:11\nunexpected token: FORM",
        "errorCode": "MALFORMED_QUERY",
    }


@pytest.mark.parametrize(
    "query",
    [
        "SELECT FROM Lead",
        "SELECT Id FROM Lead WHERE",
        "SELECT Id FROM Lead WHERE LastName = 'a' AND Company = 'b' OR Email = null",
        "SELECT Id FROM Lead WHERE LastName = 'unterminated",
        "SELECT Id FROM Lead LIMIT ten",
        "SELECT Id, FROM Lead",
        "SELECT Id FROM Lead ORDER LastName",
        "SELECT Id FROM Lead WHERE Next_Action_Due__c > 2026-11-26T10:00:00+0100",
    ],
)
def test_malformed_queries(sf: Salesforce, query: str) -> None:
    assert soql_error(sf, query)["errorCode"] == "MALFORMED_QUERY"


def test_unknown_field_is_invalid_field_in_salesforce_words(sf: Salesforce) -> None:
    error = soql_error(sf, "SELECT Id, Nurture_ID FROM Lead")

    assert error["errorCode"] == "INVALID_FIELD"
    assert error["message"].endswith(
        "No such column 'Nurture_ID' on entity 'Lead'. If you are attempting to use a custom field, be sure "
        "to append the '__c' after the custom field name. Please reference your WSDL or the describe call "
        "for the appropriate names."
    )
    assert "ERROR at Row:1:Column:12" in error["message"]


def test_unknown_object_is_invalid_type(sf: Salesforce) -> None:
    assert soql_error(sf, "SELECT Id FROM Patient__c")["errorCode"] == "INVALID_TYPE"


@pytest.mark.parametrize(
    ("where", "type_word"),
    [
        ("SystemModstamp > '2026-11-26T10:00:00Z'", "dateTime"),
        ("SystemModstamp > 2026-11-26", "dateTime"),
        ("Urgent__c = 'true'", "boolean"),
    ],
)
def test_filter_values_must_have_the_field_type(sf: Salesforce, where: str, type_word: str) -> None:
    error = soql_error(sf, f"SELECT Id FROM Lead WHERE {where}")

    assert error["errorCode"] == "INVALID_FIELD"
    assert f"must be of type {type_word} and should not be enclosed in quotes" in error["message"]


def test_invalid_id_literal_is_invalid_query_filter_operator(sf: Salesforce) -> None:
    error = soql_error(sf, "SELECT Id FROM Lead WHERE Id = 'abc'")

    assert error["errorCode"] == "INVALID_QUERY_FILTER_OPERATOR"
    assert error["message"].endswith("invalid ID field: abc")


def test_offset_above_2000_is_refused(sf: Salesforce) -> None:
    assert soql_error(sf, "SELECT Id FROM Lead OFFSET 2001")["errorCode"] == "NUMBER_OUTSIDE_VALID_RANGE"


def test_relationship_fields_are_not_supported(sf: Salesforce) -> None:
    assert soql_error(sf, "SELECT Owner.Name FROM Lead")["errorCode"] == "INVALID_FIELD"


def test_incremental_pull_on_system_modstamp(make_sf_org: Any, sf_clock: ManualClock) -> None:
    org: SalesforceOrg = make_sf_org(clock=sf_clock)
    sf = org.sf
    first = sf.Lead.create({"LastName": "One", "Company": "x"})["id"]
    sf_clock.advance(minutes=5)
    second = sf.Lead.create({"LastName": "Two", "Company": "x"})["id"]
    cursor = "2026-11-26T09:01:00Z"
    sf_clock.advance(minutes=5)
    sf.Lead.update(first, {"Stage__c": "reached"})

    changed = sf.query_all(
        f"SELECT Id, SystemModstamp FROM Lead WHERE SystemModstamp > {cursor} ORDER BY SystemModstamp, Id"
    )["records"]

    assert [r["Id"] for r in changed] == [second, first]
    assert [r["SystemModstamp"] for r in changed] == [
        "2026-11-26T09:05:00.000+0000",
        "2026-11-26T09:10:00.000+0000",
    ]


def test_stamps_are_strictly_increasing_even_when_the_clock_stands_still(
    make_sf_org: Any, sf_clock: ManualClock
) -> None:
    sf = make_sf_org(clock=sf_clock).sf

    ids = [sf.Lead.create({"LastName": f"L{n}", "Company": "x"})["id"] for n in range(3)]

    stamps = [sf.Lead.get(i)["SystemModstamp"] for i in ids]
    assert stamps == [
        "2026-11-26T09:00:00.001+0000",
        "2026-11-26T09:00:00.002+0000",
        "2026-11-26T09:00:00.003+0000",
    ]


def test_records_written_in_one_collection_call_share_a_stamp(make_sf_org: Any, sf_clock: ManualClock) -> None:
    sf = make_sf_org(clock=sf_clock).sf

    bulk_create(sf, [typed("Lead", LastName=f"L{n}", Company="x") for n in range(3)])

    stamps = {r["SystemModstamp"] for r in sf.query("SELECT SystemModstamp FROM Lead")["records"]}
    assert len(stamps) == 1
